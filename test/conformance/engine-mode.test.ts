// The runner's engine mode at library level: the trajectory runner driving compile() on each backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableEngineConfigs, checkVectorsFile, runVectorsFile } from '../../src/conformance/runner.js';
import { ENGINE_CONFIGS } from '../../src/conformance/engine-driver.js';
import { setWarningHandler } from '../../src/core/warnings.js';

// The vectors hold zero-step schedules on purpose; their warnings are not what is tested here.
setWarningHandler(() => {});

const root = new URL('../../', import.meta.url).pathname;
const load = (name: string) => checkVectorsFile(JSON.parse(readFileSync(join(root, 'conformance', name), 'utf8')), name);


const PICK = ['adamax_defaults_tree', 'adamax_lr_schedule_warmup_cosine', 'adamaxw_masked', 'chain_clip_by_global_norm_adamax', 'apply_if_finite_adamax',
  'multisteps_every_3_adamax', 'partition_two_lrs_and_frozen', 'chain_adamax_ema', 'nested_tree_with_none', 'inject_hyperparams_adamax', 'extreme_magnitudes'];

for (const name of ['public_f32.json', 'public_f64.json']) {
  test(`${name}: trajectory cases through compile() on every backend, held to the vectors`, () => {
    const file = load(name);
    const subset = { ...file, cases: file.cases.filter((c) => PICK.includes(c.name)) };
    assert.equal(subset.cases.length, PICK.length);
    const results = runVectorsFile(subset, name, { engine: true });
    const configs = availableEngineConfigs();
    assert.deepEqual(configs, ENGINE_CONFIGS); // Node >= 20 has WebAssembly SIMD, new Function and worker threads
    assert.equal(results.length, PICK.length * (1 + configs.length));
    const engine = results.filter((r) => r.engine);
    assert.equal(engine.length, PICK.length * configs.length);
    for (const r of results) {
      if (!r.engine) { assert.ok(r.passed, `${r.name}: ${r.reason}`); continue; }
      const { asked, backend, threads, referenceReason } = r.engine;
      // What ran is reported as it is: the asked backend, or the reference path with its reason.
      assert.ok(backend === asked.backend || (backend === 'reference' && typeof referenceReason === 'string' && referenceReason.length > 0), `${r.name}: ${backend}`);
      if (backend === asked.backend) assert.ok(threads >= 1 && threads <= asked.threads);
      // Every backend compiles with subnormals: 'flush' (XLA's mode), extreme_magnitudes included.
      assert.ok(r.passed, `${r.name} on ${asked.label} (ran ${backend}): ${r.reason}`);
    }
    // Plain adamax always fuses, and two threads really run on a tree of 3+ elements.
    const tree = engine.filter((r) => r.name.endsWith('/adamax_defaults_tree'));
    assert.deepEqual(tree.map((r) => [r.engine!.backend, r.engine!.threads]), [['wasm', 1], ['wasm', 2], ['js', 1], ['interpreter', 1]]);
  });
}

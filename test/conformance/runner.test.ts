import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { checkVectorsFile, runVectorsFile, summaryLine } from '../../src/conformance/runner.js';
import type { VectorsFile } from '../../src/conformance/format.js';

const root = new URL('../../', import.meta.url).pathname;
const load = (name: string): VectorsFile => checkVectorsFile(JSON.parse(readFileSync(join(root, 'conformance', name), 'utf8')), name);

/** Case kinds whose support is still on the roadmap: they must fail, and say why. (None today.) */
const ROADMAP_KINDS = new Set<string>([]);

/**
 * Cases whose numerics are not derived yet (see docs/numerics.md): they must still fail, so that this
 * list shrinks as soon as one passes.
 */
const OPEN_CASES = new Set<string>(['random_f32/random_1']);

/** Every vectors file shipped in conformance/ (copied byte for byte from the shared reference set). */
const SHIPPED = ['public_f32.json', 'public_f64.json', 'torch_public.json', 'random_f32.json', 'random_f64.json'];

test('conformance/ holds exactly the shipped vectors files', () => {
  assert.deepEqual(readdirSync(join(root, 'conformance')).filter((f) => f.endsWith('.json')).sort(), [...SHIPPED].sort());
});

for (const file of SHIPPED) {
  test(`every supported case of ${file} passes`, () => {
    const results = runVectorsFile(load(file));
    assert.ok(results.length > 0);
    for (const r of results) {
      if (ROADMAP_KINDS.has(r.kind)) {
        assert.equal(r.passed, false);
        assert.match(r.reason ?? '', /not supported/);
        continue;
      }
      if (OPEN_CASES.has(r.name)) {
        assert.equal(r.passed, false, `${r.name} passes now: remove it from OPEN_CASES`);
        continue;
      }
      assert.ok(r.passed, `${r.name}: ${r.reason}`);
      assert.equal(r.agreement.passed, r.agreement.total);
    }
  });
}

/** Flips the lowest bit of element `index` of a base64 float array. */
function flipBit(b64: string, index: number, width: number): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[index * width] ^= 1;
  return bytes.toString('base64');
}

test('a deliberately corrupted vector makes the runner fail that case (1 ulp is caught)', () => {
  const file = structuredClone(load('public_f32.json')) as any;
  const c = file.cases.find((x: any) => x.name === 'scale_by_adamax_defaults');
  const leaf = c.steps[3].updates.w;
  leaf.b64 = flipBit(leaf.b64, 5, 4);
  file.cases = [c, file.cases.find((x: any) => x.name === 'adamax_defaults_tree')];
  const [bad, good] = runVectorsFile(file);
  assert.equal(bad.passed, false);
  assert.equal(bad.agreement.worstUlps, 1);
  assert.match(bad.reason ?? '', /step\[3\]\.updates\.w\[5\]/);
  assert.equal(good.passed, true);
  assert.equal(summaryLine([bad, good]), '1 passed, 1 failed');
});

test('an unknown transformation fails with that reason, not a crash', () => {
  const file = structuredClone(load('public_f32.json')) as any;
  const c = file.cases.find((x: any) => x.name === 'adamax_defaults_tree');
  c.optimizer = { name: 'lion', args: { learning_rate: 0.1 } };
  file.cases = [c];
  const [r] = runVectorsFile(file);
  assert.equal(r.passed, false);
  assert.match(r.reason ?? '', /transformation 'lion' is not available in optax-ts/);
});

// The command line itself (exit codes, errors, escaping, caps, --engine): test/cli/main.test.ts.

test('the installed `optax-ts` bin (dist/cli/main.js, built by npm ci / npm test) is executable and runs the shipped vectors', () => {
  const bin = join(root, 'dist/cli/main.js');
  const run = spawnSync(bin, ['conformance'], { encoding: 'utf8', cwd: root });
  assert.equal(run.error, undefined, String(run.error));
  assert.equal(run.status, OPEN_CASES.size ? 1 : 0, run.stderr);
  assert.match(run.stdout.trim().split('\n').at(-1) ?? '', new RegExp(`^\\d+ passed, ${OPEN_CASES.size} failed$`));
});

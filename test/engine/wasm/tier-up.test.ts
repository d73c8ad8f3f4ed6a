import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { FusedProgram } from '../../../src/engine/program.js';
import { emitFusedModule } from '../../../src/engine/wasm/fused-module.js';
import { instantiateFusedKernel } from '../../../src/engine/wasm/instantiate.js';
import { NORM_EXPORT, emitNormModule } from '../../../src/engine/wasm/norm-module.js';
import { V8_TIERING_BUDGET, requestTierUp, tierUpCalls } from '../../../src/engine/wasm/tier-up.js';
import { ex } from '../../../src/kernel/expr.js';
import { scaleByAdamax } from '../../../src/transforms/scale-by-adamax.js';

const self = fileURLToPath(import.meta.url);

/** adamax's kernel over one stream set (the engine's adamax step, without the learning rate). */
function adamaxProgram(): FusedProgram {
  const k = scaleByAdamax().elementwise!.kernel;
  return {
    dtype: 'float32',
    streams: ['updates', 'params', 'mu', 'nu'],
    scalars: ['one', 'one_minus_b1', 'b1', 'eps', 'b2', 'bias'],
    outputs: [{ stream: 'params', expr: ex.add(ex.params, k.updates) }, { stream: 'mu', expr: k.state.mu }, { stream: 'nu', expr: k.state.nu }],
  };
}

const N = 1000;
const OFFSETS = [0, 1, 2, 3].map((k) => 4096 + k * 4096);
const SCALARS = [32768, 32776, 32784, 32792, 32800, 32808];

function kernel(memory: WebAssembly.Memory): { run: (...args: number[]) => void; bytes: number } {
  const bytes = emitFusedModule(adamaxProgram(), { shared: false, maximumPages: 1, streamOffsets: OFFSETS, scalarOffsets: SCALARS });
  return { run: instantiateFusedKernel(new WebAssembly.Module(bytes), memory), bytes: bytes.length };
}

// In a child process with V8's test natives: does requestTierUp get the kernel to its optimized code
// without any real work, and does the kernel stay on its baseline code without it?
if (process.argv[2] === 'child') {
  const isTurboFan = new Function('f', 'return %IsTurboFanFunction(f)') as (f: unknown) => boolean;
  const isLiftoff = new Function('f', 'return %IsLiftoffFunction(f)') as (f: unknown) => boolean;
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
  const { run, bytes } = kernel(memory);
  run(0, ...OFFSETS);
  if (process.argv[3] === 'request') requestTierUp(run, [0, ...OFFSETS], bytes);
  const start = Date.now();
  const poll = (): void => {
    if (isTurboFan(run) || Date.now() - start > 20_000) {
      process.stdout.write(`${JSON.stringify({ turboFan: isTurboFan(run), liftoff: isLiftoff(run) })}\n`);
      return;
    }
    // Without the request nothing would come: look for 1 s, then report the tier.
    if (process.argv[3] !== 'request' && Date.now() - start > 1000) {
      process.stdout.write(`${JSON.stringify({ turboFan: isTurboFan(run), liftoff: isLiftoff(run) })}\n`);
      return;
    }
    setTimeout(poll, 10);
  };
  poll();
} else {
  test('tierUpCalls: budget / module bytes, at least 16, at most 150 000', () => {
    assert.equal(tierUpCalls(900), Math.ceil(V8_TIERING_BUDGET / 900));
    assert.equal(tierUpCalls(1), 150_000);
    assert.equal(tierUpCalls(0), 150_000);
    assert.equal(tierUpCalls(1e9), 16);
  });

  test('requestTierUp runs the kernel over zero elements only: no byte of the memory changes', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    const all = new Uint8Array(memory.buffer);
    for (let i = 0; i < all.length; i++) all[i] = (i * 131 + 7) & 255;
    const scalars = new Float64Array(memory.buffer);
    [1, 0.1, 0.9, 1e-8, 0.999, 0.5].forEach((x, k) => { scalars[SCALARS[k] / 8] = Math.fround(x); });
    const before = all.slice();
    const { run, bytes } = kernel(memory);
    requestTierUp(run, [0, ...OFFSETS], bytes);
    assert.deepEqual(all, before);
    // ... and the kernel still computes: N elements change afterwards.
    run(N, ...OFFSETS);
    assert.notDeepEqual(all, before);
  });

  test('requestTierUp on the global-norm kernels (as planLeafSums calls it: 0 operations) reads no table and changes no byte', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const flush of [false, true]) {
        const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
        const all = new Uint8Array(memory.buffer);
        // Garbage everywhere: a table read there would point anywhere and store a sum somewhere.
        for (let i = 0; i < all.length; i++) all[i] = (i * 29 + 11) & 255;
        const before = all.slice();
        const bytes = emitNormModule(dtype, flush, { shared: false, maximumPages: 1 });
        const run = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports[NORM_EXPORT] as (...args: number[]) => void;
        requestTierUp(run, [0, 0], bytes.length);
        requestTierUp(run, [0, 4096], bytes.length);
        assert.deepEqual(all, before, `${dtype}, flush ${flush}`);
      }
    }
  });

  test("V8: requestTierUp gets the kernel its optimized code (TurboFan) without work; without it, it stays on its baseline code", () => {
    const child = (mode: string): { turboFan: boolean; liftoff: boolean } => {
      const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', self, 'child', mode], { cwd: path.resolve(path.dirname(self), '../../..'), encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as { turboFan: boolean; liftoff: boolean };
    };
    assert.deepEqual(child('request'), { turboFan: true, liftoff: false });
    assert.deepEqual(child('none'), { turboFan: false, liftoff: true });
  });
}

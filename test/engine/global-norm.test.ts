/**
 * The engine's global norm (WebAssembly sequential sums, or the JS ones, combined in flattening order)
 * is bit-identical to the reference `globalNorm`, for any mix of dtypes, lengths and values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { combineLeafSums, jsLeafSums, wasmLeafSums } from '../../src/engine/global-norm.js';
import { createMemory } from '../../src/engine/memory.js';
import { globalNorm } from '../../src/transforms/clip-by-global-norm.js';
import { type Dt, hostileValue } from './support.js';

const leaf = fc.constantFrom<Dt>('float32', 'float64').chain((dtype) => fc.array(hostileValue(dtype), { maxLength: 40 }).map((v) => (dtype === 'float32' ? Float32Array.from(v) : Float64Array.from(v))));
// Scales that overflow, underflow, or (1e4, 3e3) make leaf sums of very different sizes whose
// float32 additions round.
const scaled = (k: number) => leaf.map((a) => a.map((x) => x * k));
const magnitudes = fc.array(fc.oneof(leaf, scaled(1e19), scaled(1e-30), scaled(1e4), scaled(3e3), scaled(0.37)), { maxLength: 6 });

test('the engine global norm equals globalNorm bit for bit (wasm and js sums)', () => {
  fc.assert(fc.property(magnitudes, (leaves) => {
    const memory = createMemory(64 + leaves.reduce((s, l) => s + 64 + l.byteLength, 0), false);
    let offset = 64;
    const views = leaves.map((l) => {
      const v = l instanceof Float32Array ? new Float32Array(memory.buffer, offset, l.length) : new Float64Array(memory.buffer, offset, l.length);
      v.set(l);
      offset += Math.ceil(l.byteLength / 64) * 64 + 64;
      return v;
    });
    const expected = globalNorm(leaves);
    const dtypes = leaves.map((l) => (l instanceof Float32Array ? 'float32' as const : 'float64' as const));
    for (const sums of [wasmLeafSums(views, memory), jsLeafSums(views)]) {
      const got = combineLeafSums(dtypes, sums);
      assert.equal(got.dtype, expected.dtype);
      assert.ok(Object.is(got.value, expected.value) || (Number.isNaN(got.value) && Number.isNaN(expected.value)), `${got.value} vs ${expected.value}`);
    }
  }), { numRuns: 300 });
});

test('the leaf sums are added with float32 rounding, as optax does (a case where it shows)', () => {
  // 1 + 2^-24 rounds to 1 in float32, four times over; unrounded, the total would be 1 + 2^-22 and
  // its square root 1 + 2^-23, a different float32.
  const leaves = [Float32Array.of(1), ...Array.from({ length: 4 }, () => Float32Array.of(2 ** -12))];
  const memory = createMemory(1024, false);
  const views = leaves.map((l, i) => { const v = new Float32Array(memory.buffer, 64 * (i + 1), 1); v.set(l); return v; });
  const dtypes = leaves.map(() => 'float32' as const);
  assert.equal(globalNorm(leaves).value, 1);
  for (const sums of [wasmLeafSums(views, memory), jsLeafSums(views)]) assert.equal(combineLeafSums(dtypes, sums).value, 1);
});

/**
 * The engine's global norm (sequential runs in WebAssembly or JS, the rest of XLA's order shared,
 * leaf sums combined in flattening order) is bit-identical to the reference `globalNorm`, for any mix
 * of dtypes, shapes and values, in IEEE mode and in XLA's subnormal mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { combineLeafSums, jsLeafSums, wasmLeafSums } from '../../src/engine/global-norm.js';
import { createMemory } from '../../src/engine/memory.js';
import { withFlushedSubnormals } from '../../src/kernel/interpret.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import { globalNorm } from '../../src/transforms/clip-by-global-norm.js';
import { type Dt, hostileValue } from './support.js';

// Shapes of rank 0 to 3 with dimensions up to 40 (some beyond the 32-wide windows), and long vectors.
const shape = fc.oneof(
  fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 3 }).filter((s) => s.reduce((a, b) => a * b, 1) <= 2000),
  fc.integer({ min: 0, max: 3000 }).map((n) => [n]),
);
const leaf = fc.tuple(fc.constantFrom<Dt>('float32', 'float64'), shape).chain(([dtype, dims]) => {
  const n = dims.reduce((a, b) => a * b, 1);
  return fc.array(hostileValue(dtype), { minLength: n, maxLength: n }).map((v) => new ShapedArray(dtype === 'float32' ? Float32Array.from(v) : Float64Array.from(v), dims));
});
// Scales that overflow, underflow (squares in or below the subnormal range), or make leaf sums of very
// different sizes whose float32 additions round.
const scaled = (k: number) => leaf.map((a) => new ShapedArray(a.data.map((x) => x * k), a.shape));
const magnitudes = fc.array(fc.oneof(leaf, scaled(1e19), scaled(1e-20), scaled(1e-160), scaled(1e4), scaled(3e3), scaled(0.37)), { maxLength: 5 });

test('the engine global norm equals globalNorm bit for bit (wasm and js sums, ieee and flush)', () => {
  fc.assert(fc.property(magnitudes, (leaves) => {
    const memory = createMemory(64 + leaves.reduce((s, l) => s + 64 + l.data.byteLength, 0), false);
    let offset = 64;
    const views = leaves.map((l) => {
      const v = l.data instanceof Float32Array ? new Float32Array(memory.buffer, offset, l.size) : new Float64Array(memory.buffer, offset, l.size);
      v.set(l.data);
      offset += Math.ceil(l.data.byteLength / 64) * 64 + 64;
      return v;
    });
    const shapes = leaves.map((l) => l.shape);
    const dtypes = leaves.map((l) => l.dtype);
    for (const flush of [false, true]) {
      const expected = flush ? withFlushedSubnormals(() => globalNorm(leaves)) : globalNorm(leaves);
      for (const sums of [wasmLeafSums(views, shapes, flush, memory), jsLeafSums(views, shapes, flush)]) {
        const got = combineLeafSums(dtypes, sums);
        assert.equal(got.dtype, expected.dtype);
        assert.ok(Object.is(got.value, expected.value) || (Number.isNaN(got.value) && Number.isNaN(expected.value)), `${got.value} vs ${expected.value}`);
      }
    }
  }), { numRuns: 200 });
});

test('the leaf sums are added with float32 rounding, as optax does (a case where it shows)', () => {
  // 1 + 2^-24 rounds to 1 in float32, four times over; unrounded, the total would be 1 + 2^-22 and
  // its square root 1 + 2^-23, a different float32.
  const leaves = [Float32Array.of(1), ...Array.from({ length: 4 }, () => Float32Array.of(2 ** -12))];
  const memory = createMemory(1024, false);
  const views = leaves.map((l, i) => { const v = new Float32Array(memory.buffer, 64 * (i + 1), 1); v.set(l); return v; });
  const dtypes = leaves.map(() => 'float32' as const);
  const shapes = leaves.map(() => [1]);
  assert.equal(globalNorm(leaves).value, 1);
  for (const sums of [wasmLeafSums(views, shapes, false, memory), jsLeafSums(views, shapes, false)]) assert.equal(combineLeafSums(dtypes, sums).value, 1);
});

test('in XLA subnormal mode a square below the normal range adds nothing (FTZ/DAZ), in the reference and the engine', () => {
  // 2^-70 squared is 2^-140, a float32 subnormal: IEEE keeps it, XLA:CPU flushes it to 0. Next to a
  // tiny normal square the difference shows in the norm.
  const leaves = [Float32Array.of(2 ** -63, 2 ** -70, 2 ** -70)];
  const memory = createMemory(1024, false);
  const views = [new Float32Array(memory.buffer, 64, 3)];
  views[0].set(leaves[0]);
  const ieee = globalNorm(leaves).value, flushed = withFlushedSubnormals(() => globalNorm(leaves)).value;
  assert.equal(flushed, 2 ** -63);
  assert.notEqual(ieee, flushed);
  for (const sums of [wasmLeafSums(views, [[3]], true, memory), jsLeafSums(views, [[3]], true)]) assert.equal(combineLeafSums(['float32'], sums).value, flushed);
  for (const sums of [wasmLeafSums(views, [[3]], false, memory), jsLeafSums(views, [[3]], false)]) assert.equal(combineLeafSums(['float32'], sums).value, ieee);
});

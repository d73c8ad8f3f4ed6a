/**
 * The engine's global norm (WebAssembly sequential sums, or the JS ones, combined in flattening order)
 * is bit-identical to the reference `globalNorm`, for any mix of dtypes, lengths and values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LEAF_SUMS_SCRATCH_BYTES, combineLeafSums, jsLeafSums, wasmLeafSums } from '../../src/engine/global-norm.js';
import { createMemory } from '../../src/engine/memory.js';
import { globalNorm, sumOfSquares } from '../../src/transforms/clip-by-global-norm.js';
import { type Dt, hostileValue } from './support.js';

const leaf = fc.constantFrom<Dt>('float32', 'float64').chain((dtype) => fc.array(hostileValue(dtype), { maxLength: 40 }).map((v) => (dtype === 'float32' ? Float32Array.from(v) : Float64Array.from(v))));
// Scales that overflow, underflow, or (1e4, 3e3) make leaf sums of very different sizes whose
// float32 additions round.
const scaled = (k: number) => leaf.map((a) => a.map((x) => x * k));
const magnitudes = fc.array(fc.oneof(leaf, scaled(1e19), scaled(1e-30), scaled(1e4), scaled(3e3), scaled(0.37)), { maxLength: 6 });

test('the engine global norm equals globalNorm bit for bit (wasm and js sums)', () => {
  fc.assert(fc.property(magnitudes, (leaves) => {
    const memory = createMemory(64 + LEAF_SUMS_SCRATCH_BYTES + leaves.reduce((s, l) => s + 64 + l.byteLength, 0), false);
    let offset = 64 + LEAF_SUMS_SCRATCH_BYTES;
    const views = leaves.map((l) => {
      const v = l instanceof Float32Array ? new Float32Array(memory.buffer, offset, l.length) : new Float64Array(memory.buffer, offset, l.length);
      v.set(l);
      offset += Math.ceil(l.byteLength / 64) * 64 + 64;
      return v;
    });
    const expected = globalNorm(leaves);
    const dtypes = leaves.map((l) => (l instanceof Float32Array ? 'float32' as const : 'float64' as const));
    for (const sums of [wasmLeafSums(views, memory, 64), jsLeafSums(views)]) {
      const got = combineLeafSums(dtypes, sums());
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
  for (const sums of [wasmLeafSums(views, memory, 512), jsLeafSums(views)]) assert.equal(combineLeafSums(dtypes, sums()).value, 1);
});

test('runs of equal leaves laid out back to back (summed interleaved) and long leaves (blocked) give globalNorm bit for bit', () => {
  // Like the arena: leaves of one dtype and length at a fixed stride, between leaves of other kinds.
  const short = fc.tuple(fc.integer({ min: -64, max: 64 }), fc.integer({ min: -30, max: 20 })).map(([k, j]) => k * 2 ** j);
  const values = (dtype: 'float32' | 'float64') => fc.oneof({ weight: 4, arbitrary: fc.double({ min: -3, max: 3, noNaN: true }) }, { weight: 2, arbitrary: short }, { weight: 1, arbitrary: hostileValue(dtype) });
  const run = fc.record({
    dtype: fc.constantFrom<'float32' | 'float64'>('float32', 'float64'),
    count: fc.integer({ min: 1, max: 12 }),
    n: fc.oneof(fc.integer({ min: 0, max: 700 }), fc.integer({ min: 8192, max: 12000 })),
    gap: fc.constantFrom(0, 64, 192),
  }).chain((r) => fc.array(fc.array(values(r.dtype), { minLength: r.n, maxLength: r.n }), { minLength: r.count, maxLength: r.count }).map((leaves) => ({ ...r, leaves })));
  fc.assert(fc.property(fc.array(run, { minLength: 1, maxLength: 3 }), (runs) => {
    const bytes = runs.reduce((s, r) => s + r.count * (Math.ceil((r.n * 8) / 64) * 64 + r.gap), 0);
    const memory = createMemory(256 + bytes, false);
    let offset = 128;
    const views: (Float32Array | Float64Array)[] = [];
    for (const r of runs) {
      const stride = Math.ceil((r.n * (r.dtype === 'float32' ? 4 : 8)) / 64) * 64 + r.gap;
      for (const leaf of r.leaves) {
        const v = r.dtype === 'float32' ? new Float32Array(memory.buffer, offset, r.n) : new Float64Array(memory.buffer, offset, r.n);
        v.set(leaf);
        views.push(v);
        offset += stride;
      }
    }
    const expected = globalNorm(views);
    const got = combineLeafSums(views.map((v) => (v instanceof Float32Array ? 'float32' : 'float64')), wasmLeafSums(views, memory, 0)());
    assert.equal(got.dtype, expected.dtype);
    assert.ok(Object.is(got.value, expected.value) || (Number.isNaN(got.value) && Number.isNaN(expected.value)), `${got.value} vs ${expected.value}`);
    // Each leaf's sum, not only the norm.
    const sums = wasmLeafSums(views, memory, 0)();
    views.forEach((v, i) => assert.ok(Object.is(sums[i], sumOfSquares(v)) || (Number.isNaN(sums[i]) && Number.isNaN(sumOfSquares(v))), `leaf ${i}`));
  }), { numRuns: 50 });
});

test('interleaved leaf sums keep each leaf\'s element order (smooth data, where any reordering rounds differently)', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const n of [500, 501, 502, 503, 8]) {
      const bytes = dtype === 'float32' ? 4 : 8;
      const stride = Math.ceil((n * bytes) / 64) * 64;
      const memory = createMemory(128 + 20 * stride, false);
      const views = Array.from({ length: 19 }, (_, k) => {
        const v = dtype === 'float32' ? new Float32Array(memory.buffer, 128 + k * stride, n) : new Float64Array(memory.buffer, 128 + k * stride, n);
        for (let i = 0; i < n; i++) v[i] = Math.sin(0.37 * i + k) * (1 + k / 7);
        return v;
      });
      const sums = wasmLeafSums(views, memory, 0)();
      views.forEach((v, i) => assert.ok(Object.is(sums[i], sumOfSquares(v)), `${dtype} n=${n} leaf ${i}: ${sums[i]} vs ${sumOfSquares(v)}`));
    }
  }
});

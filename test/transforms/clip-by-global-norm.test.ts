import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clipByGlobalNorm, clipByGlobalNormScalars, globalNorm, sumOfSquares } from '../../src/transforms/clip-by-global-norm.js';
import { OptaxError } from '../../src/core/errors.js';
import { withFlushedSubnormals } from '../../src/kernel/interpret.js';
import { ShapedArray, leafData } from '../../src/tree/leaf.js';

test('below the threshold updates are returned unchanged (NaN-free, -0 kept)', () => {
  const tx = clipByGlobalNorm(10);
  const g = { a: new Float32Array([3, -0]), b: new Float32Array([4]) };
  const [u] = tx.update(g, tx.init(g));
  assert.deepEqual(Array.from(u.a), [3, -0]);
  assert.ok(Object.is(u.a[1], -0));
});

test('above it: (g * (1 / n)) * maxNorm on leaves of two or more elements, as XLA computes optax\'s (g / n) * maxNorm', () => {
  const tx = clipByGlobalNorm(2);
  const g = { a: new Float32Array([3, 0]), b: new Float32Array([4, 0]) };
  const [u] = tx.update(g, tx.init(g));
  const inv = Math.fround(1 / 5);
  assert.equal(u.a[0], Math.fround(Math.fround(3 * inv) * 2));
  assert.equal(u.b[0], Math.fround(Math.fround(4 * inv) * 2));
});

test('rank-0 and one-element leaves keep the true division (g / n) * maxNorm (XLA has no broadcast left to rewrite)', () => {
  // 10 / 27 and 10 * f32(1 / 27) round differently in float32.
  const n = 27, g0 = 10;
  assert.notEqual(Math.fround(g0 / n), Math.fround(g0 * Math.fround(1 / n)));
  const tx = clipByGlobalNorm(1);
  const rest = Math.sqrt(n * n - 2 * g0 * g0); // 23: the third leaf makes the norm exactly 27
  const g = { a: new ShapedArray(new Float32Array([g0]), []), b: new Float32Array([g0]), c: new Float32Array([rest, 0]) };
  assert.equal(globalNorm([leafData(g.a), g.b, g.c]).value, n);
  const [u] = tx.update(g, tx.init(g));
  const divided = Math.fround(g0 / n);
  assert.equal(leafData(u.a)[0], divided);
  assert.equal(u.b[0], divided);
  assert.equal(u.c[0], Math.fround(Math.fround(Math.fround(rest) * Math.fround(1 / n)) * 1));
});

test('sumOfSquares accumulates sequentially in the dtype and can be resumed across ranges', () => {
  fc.assert(fc.property(fc.array(fc.float({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 40 }), fc.nat(), (xs, cut) => {
    const data = Float32Array.from(xs);
    const k = cut % (data.length + 1);
    let s = 0;
    for (const v of data) s = Math.fround(s + Math.fround(v * v));
    assert.ok(Object.is(sumOfSquares(data), s));
    assert.ok(Object.is(sumOfSquares(data, sumOfSquares(data, 0, 0, k), k), s));
  }));
});

test('globalNorm: leaf sums added in order in the promoted dtype, sqrt rounded', () => {
  assert.deepEqual(globalNorm([]), { value: 0, dtype: 'float32' });
  const mixed = globalNorm([new Float32Array([0.1]), new Float64Array([0.2])]);
  assert.equal(mixed.dtype, 'float64');
  assert.equal(mixed.value, Math.sqrt(Math.fround(Math.fround(0.1) * Math.fround(0.1)) + 0.2 * 0.2));
});

test('the scaling step is a kernel with the norm as a scalar (for the engine)', () => {
  const tx = clipByGlobalNorm(1);
  assert.equal(tx.reduction.maxNorm, 1);
  assert.deepEqual(tx.reduction.scalars({ value: 0.5, dtype: 'float32' }, 'float32'), { inv_norm: 1, norm: 1, max_norm: 1 });
  assert.deepEqual(clipByGlobalNormScalars({ value: 4, dtype: 'float64' }, 2, 'float32'), { inv_norm: 0.25, norm: 4, max_norm: 2 });
});

test('non-finite updates give NaN or 0, as in optax', () => {
  const tx = clipByGlobalNorm(1);
  const [u] = tx.update({ w: new Float64Array([Infinity, 1]) }, tx.init({}));
  assert.ok(Number.isNaN(u.w[0]));
  assert.equal(u.w[1], 0);
});

test('rejects negative and NaN maxNorm', () => {
  assert.throws(() => clipByGlobalNorm(-1), (e: Error) => e instanceof OptaxError && /max_norm/.test(e.message));
  assert.throws(() => clipByGlobalNorm(NaN), /max_norm/);
});

test('does not mutate the updates', () => {
  const tx = clipByGlobalNorm(1);
  const g = { w: new Float32Array([3, 4]) };
  tx.update(g, tx.init(g));
  assert.deepEqual(g, { w: new Float32Array([3, 4]) });
});

test('globalNorm in XLA subnormal mode: a square below the normal range counts as 0 (FTZ/DAZ), as XLA:CPU computes it', () => {
  // 2^-70 squared is 2^-140, a float32 subnormal (and 2^-530 squared a float64 one): IEEE arithmetic
  // keeps it, XLA:CPU flushes it, and next to a tiny normal square the norm shows the difference.
  const f32 = [new Float32Array([2 ** -63, 2 ** -70])];
  assert.notEqual(globalNorm(f32).value, 2 ** -63);
  assert.equal(withFlushedSubnormals(() => globalNorm(f32)).value, 2 ** -63);
  const f64 = [new Float64Array([2 ** -511, 2 ** -530])];
  assert.notEqual(globalNorm(f64).value, 2 ** -511);
  assert.equal(withFlushedSubnormals(() => globalNorm(f64)).value, 2 ** -511);
  // A subnormal gradient itself reads as 0 (DAZ): the norm of subnormals alone is 0.
  assert.equal(withFlushedSubnormals(() => globalNorm([new Float32Array([1e-40, -1e-42])])).value, 0);
});

test('globalNorm follows each leaf\'s shape: dimensions longer than 32 are summed in 32-wide windows', () => {
  // 40 squares: 2^24, then 39 ones. In order every 1 is lost; XLA's two windows (elements 0..19 and
  // 20..39), each in 8 lanes (the last dimension is padded), keep 38 (xla-reduce-sum.ts's example).
  const g = new Float32Array(40).fill(1);
  g[0] = 2 ** 12;
  assert.equal(globalNorm([g]).value, Math.fround(Math.sqrt(2 ** 24 + 38)));
  // The same elements as [4, 10] (every dimension <= 32) add in order.
  assert.equal(globalNorm([new ShapedArray(g, [4, 10])]).value, 2 ** 12);
});

/**
 * XLA:CPU's order for `jnp.sum` over every dimension (docs/numerics.md §3): in order up to 32 elements
 * per dimension, `TreeReductionRewriter`'s 32-wide `kSame` windows beyond, to a fixed point.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OptaxError } from '../../src/core/errors.js';
import { XLA_REDUCE_WINDOW, laneRowSum, valueTerms, xlaReduceSum, xlaVectorSumPlan } from '../../src/core/xla-reduce-sum.js';

const f32 = Math.fround;
/** Adds `values[lo..hi)` in order, in float32, from `acc`. */
const inOrder = (values: readonly number[], lo = 0, hi = values.length, acc = 0) => {
  for (let i = lo; i < hi; i++) acc = f32(acc + values[i]);
  return acc;
};
/**
 * One float32 row of a padded window as LLVM's vectorized loop adds it, written out for float32's 8 lanes
 * by 4 parts (each part's lane holds one of the 32 positions): lane l is ((acc + x_l) + x_{8+l}) +
 * x_{16+l} + x_{24+l} (acc in lane 0 only), padding skipped, then lanes halved 8 -> 4 -> 2 -> 1.
 * `row[j]` is window position j, undefined in the padding.
 */
const lanesF32 = (acc: number, row: readonly (number | undefined)[]) => {
  const lanes = Array.from({ length: 8 }, (_, l) => [0, 8, 16, 24].reduce((a, j) => (row[j + l] === undefined ? a : f32(a + row[j + l]!)), l === 0 ? acc : -0));
  for (const half of [4, 2, 1]) for (let l = 0; l < half; l++) lanes[l] = f32(lanes[l] + lanes[l + half]);
  return lanes[0];
};
/** Window positions 0..31 holding `values[lo..hi)` from position `at`, undefined elsewhere. */
const positions = (values: readonly number[], lo: number, hi: number, at: number) =>
  Array.from({ length: 32 }, (_, j) => (j >= at && j - at < hi - lo ? values[lo + j - at] : undefined));
/** Values whose float32 sum depends on the order: a few large ones among ones. */
const lumpy = (n: number, seed: number) => Array.from({ length: n }, (_, i) => ((i * 7919 + seed) % 13 === 0 ? 2 ** 24 : 1));

test('every dimension at most 32 long: the elements in row-major order, whatever the rank', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: XLA_REDUCE_WINDOW }), { maxLength: 3 }).filter((s) => s.reduce((a, b) => a * b, 1) <= 4000), fc.integer(), (shape, seed) => {
    const x = lumpy(shape.reduce((a, b) => a * b, 1), seed);
    assert.equal(xlaReduceSum(valueTerms('float32', x), shape), inOrder(x));
  }));
});

test('a vector longer than 32: 32-wide windows, padded half low (kSame), each added in lanes (the last dimension is padded), then the window sums in order', () => {
  // 100 elements: 4 windows, 28 padding, 14 of it low: [0, 18) at positions 14..31, [18, 50), [50, 82), [82, 100) at 0..17.
  // After 2^24 a float32 sum loses every 1 added to it: how many are lost shows the grouping.
  const x = Array.from({ length: 100 }, (_, i) => (i === 0 ? 2 ** 24 : 1));
  const windows = [lanesF32(0, positions(x, 0, 18, 14)), lanesF32(0, positions(x, 18, 50, 0)), lanesF32(0, positions(x, 50, 82, 0)), lanesF32(0, positions(x, 82, 100, 0))];
  const got = xlaReduceSum(valueTerms('float32', x), [100]);
  assert.equal(got, inOrder(windows));
  // The first window: lane 6 (positions 14, 22, 30) loses its two ones to 2^24, the other lanes keep 15,
  // and the last halving rounds 2^24 + 15 to even, 2^24 + 16.
  assert.equal(got, 2 ** 24 + 98);
  // In-order windows would lose all 17.
  assert.equal(inOrder([inOrder(x, 0, 18), inOrder(x, 18, 50), inOrder(x, 50, 82), inOrder(x, 82, 100)]), 2 ** 24 + 82);
});

test('a vector of a multiple of 32 elements needs no padding: its windows add in order', () => {
  const x = Array.from({ length: 96 }, (_, i) => (i === 0 ? 2 ** 24 : 1));
  assert.equal(xlaReduceSum(valueTerms('float32', x), [96]), inOrder([inOrder(x, 0, 32), inOrder(x, 32, 64), inOrder(x, 64, 96)]));
});

test('the rewrite repeats while the window sums are longer than 32 (a fixed point), each level padded, so in lanes', () => {
  // 1057 elements: 34 windows (31 padding, 15 low); the 34 sums: 2 windows (30 padding, 15 low).
  const x = lumpy(1057, 5);
  const first = Array.from({ length: 34 }, (_, w) => {
    const lo = Math.max(0, 32 * w - 15), hi = Math.min(1057, 32 * (w + 1) - 15);
    return lanesF32(0, positions(x, lo, hi, lo - (32 * w - 15)));
  });
  const expected = inOrder([lanesF32(0, positions(first, 0, 17, 15)), lanesF32(0, positions(first, 17, 34, 0))]);
  assert.equal(xlaReduceSum(valueTerms('float32', x), [1057]), expected);
});

test('a matrix with a long dimension: rows of an unpadded last dimension in order, of a padded one in lanes carrying the sum row to row', () => {
  const x = lumpy(40 * 3, 7);
  // [40, 3]: windows [32, 3] strided along the rows, 12 padding rows low: rows 0..19, then 20..39, in order.
  assert.equal(xlaReduceSum(valueTerms('float32', x), [40, 3]), inOrder([inOrder(x, 0, 60), inOrder(x, 60, 120)]));
  // [3, 40]: windows [3, 32] along the columns, 12 padding columns low: columns 0..19 of each row at
  // positions 12..31, then 20..39 at 0..19, each row in lanes from the previous row's sum.
  const cols = (lo: number, hi: number, at: number) => [0, 1, 2].reduce((acc, r) => lanesF32(acc, positions(x, r * 40 + lo, r * 40 + hi, at)), 0);
  assert.equal(xlaReduceSum(valueTerms('float32', x), [3, 40]), inOrder([cols(0, 20, 12), cols(20, 40, 0)]));
});

test('float64 rows of a padded window: 4 lanes by 4 parts, two positions a part lane (j and j + 16)', () => {
  // One window of [40]: positions 12..31 hold x[0..20). Lane l of part p adds positions 4p + l, then 16 + 4p + l.
  const x = Array.from({ length: 40 }, (_, i) => (i % 5 === 0 ? 2 ** 53 : 1));
  const row = positions(x, 0, 20, 12);
  const lanes = [0, 1, 2, 3].map((l) => {
    let lane = -0;
    for (let p = 0; p < 4; p++) {
      let part = p === 0 && l === 0 ? 0 : -0;
      for (const j of [4 * p + l, 16 + 4 * p + l]) if (row[j] !== undefined) part += row[j]!;
      lane = p === 0 ? part : part + lane;
    }
    return lane;
  });
  const window0 = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
  const second = positions(x, 20, 40, 0);
  const lanes1 = [0, 1, 2, 3].map((l) => [0, 1, 2, 3].reduce((lane, p) => {
    const part = [4 * p + l, 16 + 4 * p + l].reduce((a, j) => (second[j] === undefined ? a : a + second[j]!), p === 0 && l === 0 ? 0 : -0);
    return p === 0 ? part : part + lane;
  }, -0));
  const window1 = (lanes1[0] + lanes1[2]) + (lanes1[1] + lanes1[3]);
  assert.equal(xlaReduceSum(valueTerms('float64', x), [40]), window0 + window1);
});

test('laneRowSum checks its arguments', () => {
  assert.throws(() => laneRowSum('float32', 0, 20, 20, (_, a) => a), OptaxError);
  assert.throws(() => laneRowSum('int32' as 'float32', 0, 0, 1, (_, a) => a), OptaxError);
  assert.equal(laneRowSum('float32', 5, 3, 0, () => { throw new Error('no element'); }), 5);
});

test('dimensions of size 1 change nothing; an empty array sums to 0', () => {
  const x = lumpy(100, 9);
  const t = valueTerms('float32', x);
  assert.equal(xlaReduceSum(t, [1, 100, 1]), xlaReduceSum(t, [100]));
  assert.equal(xlaReduceSum(t, [4, 1, 25]), xlaReduceSum(t, [4, 25]));
  assert.equal(xlaReduceSum(t, [0, 100]), 0);
  assert.equal(xlaReduceSum(valueTerms('float32', [-0]), []), -0 + 0);
});

test('float64 terms add in float64', () => {
  const x = [1, 2 ** -53, 2 ** -53];
  assert.equal(xlaReduceSum(valueTerms('float64', x), [3]), 1);
  assert.equal(xlaReduceSum(valueTerms('float64', [2 ** -53, 2 ** -53, 1]), [3]), 1 + 2 ** -52);
});

test('xlaVectorSumPlan (the fused engine\'s allocation-free form, windows materialized) gives xlaReduceSum\'s bits for any vector, reused with new values', () => {
  const value = fc.oneof(fc.double(), fc.constantFrom(0, -0, 1, 2 ** 24, -(2 ** 24), 2 ** -130, 1e30, -1e30), fc.integer({ min: -3, max: 3 }));
  fc.assert(fc.property(fc.constantFrom('float32' as const, 'float64' as const), fc.oneof(fc.integer({ min: 0, max: 70 }), fc.constantFrom(1024, 1025, 1057, 2000, 32 * 33 + 1)), fc.array(value, { minLength: 3, maxLength: 3 }), (dtype, n, seeds) => {
    const round = (x: number) => (dtype === 'float32' ? Math.fround(x) : x);
    const values = new Float64Array(n);
    const plan = xlaVectorSumPlan(dtype, values);
    const cells = new Float64Array(2);
    // Three rounds of values in the same plan: nothing of a round is left for the next.
    for (const [r, seed] of seeds.entries()) {
      for (let i = 0; i < n; i++) values[i] = round(i % 5 === r ? seed : i % 7 === 0 ? 2 ** 24 : (i % 3) - 1 + seed * 1e-7);
      plan.into(cells, 1);
      assert.ok(Object.is(cells[1], xlaReduceSum(valueTerms(dtype, Array.from(values)), [n])), `${dtype} n=${n} round ${r}`);
    }
  }), { numRuns: 300 });
});

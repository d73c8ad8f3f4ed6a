/**
 * XLA:CPU's order for `jnp.sum` over every dimension (docs/numerics.md §3): in order up to 32 elements
 * per dimension, `TreeReductionRewriter`'s 32-wide `kSame` windows beyond, to a fixed point.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { XLA_REDUCE_WINDOW, valueTerms, xlaReduceSum } from '../../src/core/xla-reduce-sum.js';

const f32 = Math.fround;
/** Adds `values[lo..hi)` in order, in float32, from `acc`. */
const inOrder = (values: readonly number[], lo = 0, hi = values.length, acc = 0) => {
  for (let i = lo; i < hi; i++) acc = f32(acc + values[i]);
  return acc;
};
/** Values whose float32 sum depends on the order: a few large ones among ones. */
const lumpy = (n: number, seed: number) => Array.from({ length: n }, (_, i) => ((i * 7919 + seed) % 13 === 0 ? 2 ** 24 : 1));

test('every dimension at most 32 long: the elements in row-major order, whatever the rank', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: XLA_REDUCE_WINDOW }), { maxLength: 3 }).filter((s) => s.reduce((a, b) => a * b, 1) <= 4000), fc.integer(), (shape, seed) => {
    const x = lumpy(shape.reduce((a, b) => a * b, 1), seed);
    assert.equal(xlaReduceSum(valueTerms('float32', x), shape), inOrder(x));
  }));
});

test('a vector longer than 32: 32-wide windows, padded half low (kSame), then the window sums in order', () => {
  // 100 elements: 4 windows, 28 padding, 14 of it low: [0, 18), [18, 50), [50, 82), [82, 100). After
  // 2^24 a float32 sum loses every 1 added to it: how many are lost shows where the first window ends.
  const x = Array.from({ length: 100 }, (_, i) => (i === 0 ? 2 ** 24 : 1));
  const windows = [inOrder(x, 0, 18), inOrder(x, 18, 50), inOrder(x, 50, 82), inOrder(x, 82, 100)];
  const got = xlaReduceSum(valueTerms('float32', x), [100]);
  assert.equal(got, inOrder(windows));
  assert.notEqual(got, inOrder(x), 'the values make the order show');
  // Unpadded windows ([0, 32), [32, 64), ...) would differ here.
  assert.notEqual(got, inOrder([inOrder(x, 0, 32), inOrder(x, 32, 64), inOrder(x, 64, 96), inOrder(x, 96, 100)]));
});

test('the rewrite repeats while the window sums are longer than 32 (a fixed point)', () => {
  // 1057 elements: 34 windows (31 padding, 15 low); the 34 sums: 2 windows (30 padding, 15 low).
  const x = lumpy(1057, 5);
  const first = Array.from({ length: 34 }, (_, w) => inOrder(x, Math.max(0, 32 * w - 15), Math.min(1057, 32 * (w + 1) - 15)));
  const expected = inOrder([inOrder(first, 0, 17), inOrder(first, 17, 34)]);
  assert.equal(xlaReduceSum(valueTerms('float32', x), [1057]), expected);
});

test('a matrix with a long dimension: each window row-major over its in-bounds elements, then the window sums', () => {
  const x = lumpy(40 * 3, 7);
  // [40, 3]: windows [32, 3] strided along the rows, 12 padding rows low: rows 0..19, then 20..39.
  assert.equal(xlaReduceSum(valueTerms('float32', x), [40, 3]), inOrder([inOrder(x, 0, 60), inOrder(x, 60, 120)]));
  // [3, 40]: windows [3, 32] along the columns, 12 padding columns low: columns 0..19 of each row, then 20..39.
  const cols = (lo: number, hi: number) => [0, 1, 2].reduce((acc, r) => inOrder(x, r * 40 + lo, r * 40 + hi, acc), 0);
  assert.equal(xlaReduceSum(valueTerms('float32', x), [3, 40]), inOrder([cols(0, 20), cols(20, 40)]));
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

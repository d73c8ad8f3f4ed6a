import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dividesByScalar, reciprocalForTree } from '../../src/kernel/scalar-division.js';

test('dividesByScalar: rank-0 and one-element leaves keep the division (no broadcast survives XLA), larger leaves do not', () => {
  assert.equal(dividesByScalar(1), true);
  for (const n of [0, 2, 3, 12, 1000]) assert.equal(dividesByScalar(n), false);
});

test('reciprocalForTree: only a tree of exactly one leaf of two or more elements multiplies by the reciprocal', () => {
  assert.equal(reciprocalForTree([2]), true);
  assert.equal(reciprocalForTree([12]), true);
  assert.equal(reciprocalForTree([1]), false);
  assert.equal(reciprocalForTree([]), false);
  assert.equal(reciprocalForTree([12, 4]), false);
  assert.equal(reciprocalForTree([12, 1]), false);
});

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import { fusedKernelSizes } from '../../src/jax-js/fused-kernel-size.js';
import type { JaxArray } from '../../src/jax-js/leaf.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

/** `x` added to itself `k` times over: a graph of k nodes whose expression, as a tree, has 2^(k+1) - 1. */
const doubled = (x: JaxArray, k: number): JaxArray => {
  for (let i = 0; i < k; i++) x = np.add(x.ref, x);
  return x;
};
const sizesOf = (f: (x: JaxArray) => JaxArray[], x: JaxArray = np.zeros([5])): number[] => {
  const { jaxpr } = jax.makeJaxpr(f as (x: JaxArray) => JaxArray[])(x);
  try {
    return fusedKernelSizes(jaxpr.jaxpr);
  } finally {
    jaxpr.dispose();
  }
};

test('a kernel is sized as its expression tree: a value used twice counts twice (exponential in the depth of reuse)', () => {
  for (const k of [1, 5, 20, 60]) assert.deepEqual(sizesOf((x) => [doubled(x, k)]), [2 ** (k + 1) - 1], `k = ${k}`);
  // Far beyond 2^53 the count is still a (rounded) number, never wrapped around: it compares as too large.
  assert.ok(sizesOf((x) => [doubled(x, 1100)])[0] > 2 ** 1000);
});

test('a value two outputs use is materialized: one kernel of its own, a load in each consumer (as jax-js splits a jit)', () => {
  const k = 10, shared = 2 ** (k + 1) - 1;
  // Each output reads y: its own kernel is 3 nodes, y's is the larger one it depends on.
  assert.deepEqual(sizesOf((x) => { const y = doubled(x, k); return [np.add(y.ref, 1), np.multiply(y, 3)]; }), [shared, shared]);
  // One output using y twice: not materialized, y's tree twice over.
  assert.deepEqual(sizesOf((x) => { const y = doubled(x, k); return [np.multiply(np.add(y.ref, 1), y)]; }), [1 + (1 + shared + 1) + shared]);
  // An input returned as it is is computed by no kernel.
  assert.deepEqual(sizesOf((x) => [x.ref, np.add(x, 1)]), [0, 3]);
});

test('a reduction is a kernel of its own that fuses its operand; comparisons count the operand copies of jax-js\'s GLSL', () => {
  const k = 8, tree = 2 ** (k + 1) - 1;
  assert.deepEqual(sizesOf((x) => { const s = np.sum(doubled(x, k)); return [np.add(s.ref, s)]; }), [1 + tree]);
  // GLSL's float `!=` is `(a != b || isnan(a) || isnan(b))`: each operand three times; `<` once; int `!=` once.
  assert.deepEqual(sizesOf((x) => [np.notEqual(np.add(x.ref, 1), x)]), [1 + 3 * (3 + 1)]);
  assert.deepEqual(sizesOf((x) => [np.less(np.add(x.ref, 1), x)]), [1 + 3 + 1]);
  assert.deepEqual(sizesOf((x) => [np.notEqual(np.add(x.ref, 1), x)], np.zeros([5], { dtype: np.int32 })), [1 + 3 + 1]);
});

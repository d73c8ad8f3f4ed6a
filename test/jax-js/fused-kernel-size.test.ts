import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import { copy } from '../../src/jax-js/cut-sites.js';
import { fusedKernelSizes, planCuts } from '../../src/jax-js/fused-kernel-size.js';
import type { JaxArray } from '../../src/jax-js/leaf.js';

const np = jax.numpy;
const lax = jax.lax;

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

test('a nested jit (jax-js\'s isfinite) is sized inlined, as jit compiles it: its operand written at each of its uses', () => {
  const k = 8, tree = 2 ** (k + 1) - 1;
  // isfinite(y): `y != y` (float !=: each operand three times), `y == inf`, `y == -inf` (three each).
  assert.ok(sizesOf((x) => [np.isfinite(doubled(x, k))])[0] > 12 * tree);
});

test('planCuts: the marked values it cuts (materialized by a copy) bring every kernel within the budget, as fusedKernelSizes then counts them', () => {
  // x doubled 30 times over, each value a cut site (marked with stop_gradient when planning).
  const chain = (x: JaxArray, site: (v: JaxArray, i: number) => JaxArray): JaxArray => {
    for (let i = 0; i < 30; i++) x = site(np.add(x.ref, x), i);
    return x;
  };
  const marks: JaxArray[] = [];
  const { jaxpr } = jax.makeJaxpr((x: JaxArray) => {
    const y = chain(x, (v) => { const m = lax.stopGradient(v) as JaxArray; marks.push(m.ref); return m; });
    return [y, ...marks];
  })(np.zeros([5]));
  for (const budget of [64, 1000, 2 ** 16]) {
    const plan = planCuts(jaxpr.jaxpr, 1, budget);
    assert.equal(plan.uncut[0], 2 ** 31 - 1);
    assert.ok(plan.cuts.size > 0 && plan.sizes[0] <= budget, `budget ${budget}: ${plan.sizes[0]}`);
    // The graph with those values copied: its kernels are the plan's.
    const real = sizesOf((x) => [chain(x, (v, i) => (plan.cuts.has(i) ? copy(v) : v))]);
    assert.deepEqual(real, plan.sizes, `budget ${budget}`);
  }
  // Without marks there is nothing to cut: the size stays.
  const { jaxpr: bare } = jax.makeJaxpr((x: JaxArray) => [chain(x, (v) => v)])(np.zeros([5]));
  assert.deepEqual(planCuts(bare.jaxpr, 1, 64), { cuts: new Set(), sizes: [2 ** 31 - 1], uncut: [2 ** 31 - 1] });
  jaxpr.dispose();
  bare.dispose();
});

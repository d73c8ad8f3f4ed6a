import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import { OptaxError, ShapedArray, ema, type GradientTransformation } from '../../src/index.js';
import { type JaxArray, toJaxJs } from '../../src/jax-js/index.js';
import { fromJax, pureValues, randomTree, rng, toJax } from './helpers.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

/** `steps` updates of `tx` on the pure path and through toJaxJs (jitted or not): every step's updates and the final state. */
async function run(tx: GradientTransformation<any>, steps: number, seed: number, shapes: Record<string, number[]>, dtypes: Record<string, 'float32' | 'float64'>, jit: boolean) {
  const next = rng(seed);
  const params = randomTree(next, shapes, 2, dtypes);
  const grads = Array.from({ length: steps }, () => randomTree(next, shapes, 4, dtypes));
  const opt = toJaxJs(tx);
  const f = (g: Record<string, JaxArray>, s: unknown) => opt.update(g, s);
  const step = jit ? (jax.jit(f as any) as unknown as typeof f) : f;
  let pureState = tx.init(params);
  let state = opt.init(toJax(params));
  const pure: unknown[] = [], got: unknown[] = [];
  for (let i = 0; i < steps; i++) {
    const [u, s] = tx.update(grads[i], pureState);
    pureState = s;
    pure.push(pureValues(u));
    const [ju, js] = step(toJax(grads[i]), state);
    state = js;
    got.push(await fromJax(ju));
    jax.tree.dispose(ju as any);
  }
  const result = { jax: { updates: got, state: await fromJax(state) }, pure: { updates: pure, state: pureValues(pureState) } };
  jax.tree.dispose(state as any);
  opt.dispose();
  return result;
}

test('ema with accumulatorDtype: per-operation promotion as the pure path, bit-identical, jitted and eagerly', async () => {
  const cases: [string, GradientTransformation<any>, Record<string, 'float32' | 'float64'>][] = [
    ['float32 leaves, float64 average', ema(0.9, { accumulatorDtype: 'float64' }), {}],
    ['float64 leaves, float32 average', ema(0.95, { accumulatorDtype: 'float32' }), { a: 'float64', d: 'float64', e: 'float64' }],
    ['mixed leaves, float64 average, no debias', ema(0.7, { accumulatorDtype: 'float64', debias: false }), { a: 'float64' }],
    ['array decay', ema(new ShapedArray(new Float32Array([0.9, 0.5, 0.99]), [3]), { accumulatorDtype: 'float64' }), {}],
  ];
  for (const [name, tx, dtypes] of cases) {
    for (const jit of [true, false]) {
      const shapes: Record<string, number[]> = name === 'array decay' ? { a: [2, 3], e: [3] } : { a: [3, 5], d: [17], e: [2, 2, 3] };
      const r = await run(tx, 8, 51, shapes, dtypes, jit);
      assert.deepEqual(r.jax, r.pure, `${name} jit=${jit}`);
    }
  }
  // One leaf: the debiasing multiplies by 1 / (1 - d^t), as XLA rewrites it.
  const one = await run(ema(0.9, { accumulatorDtype: 'float64' }), 8, 52, { w: [4, 8] }, {}, true);
  assert.deepEqual(one.jax, one.pure);
});

test('ema with accumulatorDtype: a state of another dtype is an OptaxError naming the leaf', () => {
  const opt = toJaxJs(ema(0.9, { accumulatorDtype: 'float64' }));
  const wrong = { count: np.array(0, { dtype: np.int32 }), ema: { w: np.zeros([2]) } };
  assert.throws(() => opt.update({ w: np.zeros([2]) }, wrong), (e: unknown) => e instanceof OptaxError && /state.ema does not match grads/.test(e.message));
  opt.dispose();
});

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import fc from 'fast-check';
import { OptaxError, ShapedArray, adamax, addDecayedWeights, chain, clip, ema, scale, scaleByAdamax } from '../../src/index.js';
import { toJaxJs } from '../../src/jax-js/index.js';
import { runBoth } from './helpers.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

const f32 = (values: number[], shape: number[]) => new ShapedArray(new Float32Array(values), shape);
const SHAPES = { a: [3, 4], b: [2, 3, 4], c: [4] };

test('array hyperparameters broadcast against each leaf: bit-identical to the pure path, jitted and eagerly, graph and table', async () => {
  const b1 = f32([0.9, 0.5, 0.99, 0.8], [4]);
  const eps = f32([1e-8, 1e-3, 0.1], [3, 1]);
  const txs = {
    adamaxArrays: () => chain(scaleByAdamax({ b1, b2: f32([0.999, 0.9, 0.5, 0.0], [1, 4]), eps: f32([1e-8, 1e-3, 0.1, 0], [4]) }), scale(-0.01)),
    decayClip: () => chain(addDecayedWeights(f32([0.5, 2, 3, 0.25], [4])), clip(0.7), addDecayedWeights(f32([0.3, 0.7, 1.1], [3, 1])), scale(0.3), scale(0.7)),
    decayEma: () => chain(addDecayedWeights(f32([0.1, 0, 0.01, 0.5], [4])), ema(f32([0.9, 0.95, 0.5, 0.99], [4]))),
    adamaxEps: () => adamax(0.05, { eps: f32([1e-8, 1e-3, 0.1, 0.2], [1, 1, 4]) }),
  };
  const shapes = { ...SHAPES, e: [3, 4] };
  for (const [name, make] of Object.entries(txs)) {
    for (const jit of [true, false]) {
      const r = await runBoth(make(), 12, 31, { jit, shapes: name === 'adamaxEps' ? SHAPES : { a: [3, 4], e: [3, 4] } });
      assert.deepEqual(r.jax, r.pure, `${name} jit=${jit}`);
    }
    const t = await runBoth(make(), 12, 32, { adapter: { countScalars: 'table' }, shapes: name === 'adamaxEps' ? SHAPES : { a: [3, 4], e: [3, 4] } });
    assert.deepEqual(t.jax, t.pure, `${name} table`);
  }
  void shapes;
});

test('random array hyperparameters over random shapes (fast-check): bit-identical, jitted', async () => {
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.integer({ min: 0, max: 1e6 }),
    fc.array(fc.float({ min: Math.fround(0.01), max: Math.fround(0.999), noNaN: true }), { minLength: 5, maxLength: 5 }),
    async (rows, cols, row, seed, values) => {
      const shape = row ? [1, cols] : [rows, 1];
      const n = row ? cols : rows;
      const b1 = f32(values.slice(0, n).concat(Array(Math.max(0, n - 5)).fill(0.9)).slice(0, n), shape);
      const r = await runBoth(adamax(0.02, { b1, b2: f32(values.slice(0, n).map((v) => 1 - v / 2), shape) }), 6, seed, { shapes: { p: [rows, cols], q: [2, rows, cols] } });
      assert.deepEqual(r.jax, r.pure);
    },
  ), { numRuns: 12 });
});

test('an array hyperparameter that does not broadcast against a leaf: an OptaxError naming the leaf, before anything is consumed', () => {
  const opt = toJaxJs(ema(f32([0.9, 0.8, 0.7], [3])));
  const g = { a: np.zeros([3]), b: np.zeros([2, 4]) };
  assert.throws(() => opt.update(g, opt.init({ a: np.zeros([3]), b: np.zeros([2, 4]) })), (e: unknown) => e instanceof OptaxError && /hyperparameter 'decay' of shape \[3\] does not broadcast against the leaf's shape \[2, 4\]/.test(e.message) && /\bb\b/.test(e.message));
  // Nothing was consumed: the gradients are still usable.
  assert.deepEqual(g.a.shape, [3]);
  g.a.dispose(); g.b.dispose();
  opt.dispose();
});

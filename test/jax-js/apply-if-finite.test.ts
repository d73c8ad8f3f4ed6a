import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import {
  OptaxError, type GradientTransformation, adamax, adamaxw, applyIfFinite, chain, clipByGlobalNorm, scale, scaleByAdamax, scaleByLearningRate, warmupCosineDecaySchedule, linearSchedule,
} from '../../src/index.js';
import { toJaxJs } from '../../src/jax-js/index.js';
import { runBoth, runMoved } from './helpers.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

// Steps 3 and 4 NaN, 5 an infinity (a streak of three), 9 NaN: skipped, then given up on, then reset.
const poison = (i: number): number | undefined => (i === 3 || i === 4 || i === 9 ? NaN : i === 5 ? -Infinity : undefined);

test('applyIfFinite(adamax): the traced inner step (fused multiply-adds) bit-identical to the pure path, jitted, with NaN and infinite steps', async () => {
  for (const max of [0, 1, 2, 5]) {
    const r = await runBoth(applyIfFinite(adamax(0.05), { maxConsecutiveErrors: max }), 14, 40 + max, { poison });
    assert.deepEqual(r.jax, r.pure, `maxConsecutiveErrors ${max}`);
  }
});

test('applyIfFinite: eagerly too, and over schedules (evaluated traced in the graph), masks and one-leaf trees', async () => {
  const eager = await runBoth(applyIfFinite(adamax(0.05, { b1: 0.8 }), { maxConsecutiveErrors: 1 }), 12, 50, { jit: false, poison, shapes: { a: [3, 5], d: [17], e: [2, 2, 3] } });
  assert.deepEqual(eager.jax, eager.pure);
  const schedule = warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 12, endValue: 0.001 });
  for (const inner of <GradientTransformation<any>[]>[
    adamax(schedule),
    adamaxw(linearSchedule({ initValue: 0.1, endValue: 0.01, transitionSteps: 8 }), { weightDecay: 0.1, mask: { a: true, b: false, c: true, d: false, e: true } }),
    chain(scaleByAdamax({ b1: 0.5, b2: 0.9 }), scaleByLearningRate(schedule)),
  ]) {
    const r = await runBoth(applyIfFinite(inner, { maxConsecutiveErrors: 2 }), 16, 51, { poison });
    assert.deepEqual(r.jax, r.pure, inner.name);
  }
  const one = await runBoth(applyIfFinite(adamax(0.01), { maxConsecutiveErrors: 1 }), 10, 52, { poison, shapes: { w: [4, 6] } });
  assert.deepEqual(one.jax, one.pure);
});

test('applyIfFinite over an inner the pure path runs eagerly (a global norm clip): the same selection, bit-identical', async () => {
  const r = await runBoth(applyIfFinite(chain(clipByGlobalNorm(1), adamax(0.05)), { maxConsecutiveErrors: 1 }), 12, 53, { poison });
  assert.deepEqual(r.jax, r.pure);
  const nested = await runBoth(chain(scale(0.5), applyIfFinite(applyIfFinite(adamax(0.02), { maxConsecutiveErrors: 0 }), { maxConsecutiveErrors: 3 })), 10, 54, { poison });
  assert.deepEqual(nested.jax, nested.pure);
});

test('applyIfFinite: a state that is not its own, or counters of the wrong dtype, is an OptaxError', () => {
  const opt = toJaxJs(applyIfFinite(adamax(0.1), { maxConsecutiveErrors: 1 }));
  const params = { w: np.zeros([3]) };
  const state = opt.init(jax.tree.ref(params));
  assert.throws(() => opt.update({ w: np.ones([3]) }, { last_finite: state.last_finite, total_notfinite: state.total_notfinite, inner_state: state.inner_state }, jax.tree.ref(params)), (e: unknown) => e instanceof OptaxError && /does not belong to apply_if_finite/.test(e.message));
  assert.throws(() => opt.update({ w: np.ones([3]) }, { ...state, last_finite: np.array(1, { dtype: np.int32 }) }, jax.tree.ref(params)), (e: unknown) => e instanceof OptaxError && /last_finite must be a bool scalar/.test(e.message));
  const fresh = opt.init(jax.tree.ref(params));
  assert.throws(() => opt.update({ v: np.ones([3]) }, fresh, jax.tree.ref(params)), (e: unknown) => e instanceof OptaxError && /\bv\b|\bw\b/.test(e.message));
});

test('a pure-path state moves into the adapter mid-run (same layout) and the run continues bit-identically', async () => {
  const r = await runMoved(applyIfFinite(adamax(0.05), { maxConsecutiveErrors: 1 }), 6, 6, 55, poison);
  assert.deepEqual(r.jax, r.pure);
});

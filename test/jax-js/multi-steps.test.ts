import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import {
  MultiSteps, OptaxError, type GradientTransformation, addDecayedWeights, adamax, adamaxw, chain, clipByGlobalNorm, masked, multiSteps, scale, scaleByAdamax, scaleByLearningRate,
  skipLargeUpdates, skipNotFinite, warmupCosineDecaySchedule,
} from '../../src/index.js';
import { runningMeanFactor } from '../../src/transforms/multi-steps.js';
import { divide } from '../../src/jax-js/kernel.js';
import { KernelAnchors } from '../../src/jax-js/constants.js';
import { toJaxJs } from '../../src/jax-js/index.js';
import { runBoth, runMoved } from './helpers.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

test('multiSteps(adamax): updates (signs of the zeros included), params and state bit-identical to the pure path, jitted', async () => {
  for (const k of [1, 2, 3, 5]) {
    const r = await runBoth(multiSteps(adamax(0.05), { everyKSchedule: k }), 13, 60 + k, { recordUpdates: true });
    assert.deepEqual(r.jax, r.pure, `k = ${k}`);
  }
  // A one-leaf tree (the reciprocal of the bias correction), and the sum instead of the mean.
  const one = await runBoth(multiSteps(adamax(0.01), { everyKSchedule: 2 }), 8, 66, { recordUpdates: true, shapes: { w: [3, 4] } });
  assert.deepEqual(one.jax, one.pure);
  const sum = await runBoth(multiSteps(adamax(0.01, { b1: 0.7 }), { everyKSchedule: 3, useGradMean: false }), 10, 67, { recordUpdates: true });
  assert.deepEqual(sum.jax, sum.pure);
});

test('multiSteps: leaves whose update ends with a constant scale (zeros with the sign of y) beside leaves that do not (masked weight decay after it: the sign of u), leaf by leaf as XLA folds them', async () => {
  const mask = { a: true, b: false, c: true, d: false, e: true };
  const r = await runBoth(multiSteps(chain(scaleByLearningRate(0.1), masked(addDecayedWeights(0.1), mask)), { everyKSchedule: 2 }), 6, 73, { recordUpdates: true });
  assert.deepEqual(r.jax, r.pure);
});

test('multiSteps over a schedule (the update ends with a computed scalar: +0 * u), adamaxw, and eagerly', async () => {
  const schedule = warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 2, decaySteps: 8 });
  for (const inner of <GradientTransformation<any>[]>[adamax(schedule), adamaxw(0.02, { weightDecay: 0.1 }), chain(scaleByAdamax(), scaleByLearningRate(schedule)), chain(clipByGlobalNorm(1), adamax(0.03))]) {
    const r = await runBoth(multiSteps(inner, { everyKSchedule: 3 }), 14, 68, { recordUpdates: true });
    assert.deepEqual(r.jax, r.pure, inner.name);
  }
  const eager = await runBoth(multiSteps(adamax(0.05), { everyKSchedule: 2 }), 8, 69, { jit: false, recordUpdates: true, shapes: { a: [3, 5], d: [17], e: [2, 2, 3] } });
  assert.deepEqual(eager.jax, eager.pure);
});

test('multiSteps with skipNotFinite and skipLargeUpdates: skipped mini-steps selected in the graph, skip_state as the pure path\'s', async () => {
  const poison = (i: number): number | undefined => (i === 2 || i === 7 ? NaN : i === 4 ? Infinity : undefined);
  const r = await runBoth(multiSteps(adamax(0.05), { everyKSchedule: 3, shouldSkipUpdateFn: skipNotFinite }), 12, 70, { recordUpdates: true, poison });
  assert.deepEqual(r.jax, r.pure);
  // The gradients' squared norms are around 60 here: a threshold that skips some steps and not others.
  const large = await runBoth(multiSteps(adamax(0.05), { everyKSchedule: 2, shouldSkipUpdateFn: skipLargeUpdates(60) }), 14, 71, { recordUpdates: true });
  // norm_squared is a float32 scalar array in the adapter's state, a number in the pure path's.
  const skipState = (large.jax.state as { skip_state: { norm_squared: number[] | number } }).skip_state;
  skipState.norm_squared = (skipState.norm_squared as number[])[0];
  assert.deepEqual(large.jax, large.pure);
  // The threshold does skip some mini-steps and not others (a zero update where the pure path skipped).
  const skipped = (large.pure.updates as Record<string, number[]>[]).filter((u) => Object.values(u).every((l) => l.every((x) => Object.is(x, 0)))).length;
  assert.ok(skipped > 0 && skipped < 14, `${skipped} of 14 mini-steps had zero updates`);
  // Without a poison a NaN accumulated before an update stays in the accumulator, as optax's.
  const kept = await runBoth(multiSteps(scale(-0.1), { everyKSchedule: 2 }), 6, 72, { recordUpdates: true, poison: (i) => (i === 1 ? NaN : undefined) });
  assert.deepEqual(kept.jax, kept.pure);
});

test('1 / (n + 1) in the graph equals runningMeanFactor for every mini-step count up to 2^20 and near 2^31', async () => {
  const counts = Int32Array.from({ length: 1 << 20 }, (_, i) => i);
  const big = Int32Array.from({ length: 1000 }, (_, i) => 2 ** 31 - 2 - i);
  const anchors = new KernelAnchors();
  for (const n of [counts, big]) {
    const r = await divide(1, np.add(np.array(n), 1).astype(np.float64), 'float64', anchors, 0).astype(np.float32).data();
    n.forEach((c, i) => assert.ok(Object.is(r[i], runningMeanFactor(c, 'float32')), `n = ${c}`));
  }
  anchors.dispose();
});

test('multiSteps: what the graph cannot run is an OptaxError at toJaxJs; a wrong state names what is wrong', () => {
  assert.throws(() => toJaxJs(multiSteps(adamax(0.1), { everyKSchedule: (s: number) => (s < 2 ? 2 : 4) })), (e: unknown) => e instanceof OptaxError && /everyKSchedule must be a number/.test(e.message));
  assert.throws(() => toJaxJs(multiSteps(adamax(0.1), { everyKSchedule: 2, shouldSkipUpdateFn: () => [false, []] })), (e: unknown) => e instanceof OptaxError && /shouldSkipUpdateFn of your own/.test(e.message));
  assert.throws(() => toJaxJs(new MultiSteps(adamax(0.1), { everyKSchedule: 2, accumulatorDtype: 'float64' }).gradientTransformation()), (e: unknown) => e instanceof OptaxError && /everyKSchedule must be a number|float64 accumulator/.test(e.message));
  const opt = toJaxJs(multiSteps(adamax(0.1), { everyKSchedule: 2 }));
  const params = { w: np.zeros([3]) };
  const state = opt.init(jax.tree.ref(params));
  assert.throws(() => opt.update({ w: np.ones([3]) }, { ...state, mini_step: np.array(0) }, jax.tree.ref(params)), (e: unknown) => e instanceof OptaxError && /mini_step must be an int32 scalar/.test(e.message));
  const fresh = opt.init(jax.tree.ref(params));
  assert.throws(() => opt.update({ w: np.ones([4]) }, fresh, jax.tree.ref(params)), (e: unknown) => e instanceof OptaxError && /acc_grads does not match grads/.test(e.message));
  const other = opt.init(jax.tree.ref(params));
  assert.throws(() => opt.update({ w: np.ones([3]) }, { mini_step: other.mini_step }, jax.tree.ref(params)), (e: unknown) => e instanceof OptaxError && /does not belong to MultiSteps/.test(e.message));
});

test('a pure-path MultiSteps state moves into the adapter mid-accumulation and the run continues bit-identically', async () => {
  const r = await runMoved(multiSteps(adamax(0.05), { everyKSchedule: 3, shouldSkipUpdateFn: skipNotFinite }), 7, 7, 73, (i) => (i === 3 ? NaN : undefined));
  assert.deepEqual(r.jax, r.pure);
});

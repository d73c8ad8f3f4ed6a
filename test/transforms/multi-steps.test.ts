import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MultiSteps, multiSteps } from '../../src/transforms/multi-steps.js';
import { scale } from '../../src/transforms/scale.js';
import { OptaxError } from '../../src/core/errors.js';
import { scaleByLearningRate } from '../../src/transforms/scale-by-learning-rate.js';
import { constantSchedule } from '../../src/schedules/constant.js';
import { linearSchedule } from '../../src/schedules/linear.js';
import { ShapedArray, leafData } from '../../src/tree/leaf.js';

const g32 = (...v: number[]) => ({ w: new Float32Array(v) });
const g64 = (...v: number[]) => ({ w: new Float64Array(v) });

test('accumulates the mean over k mini-steps and emits every k-th', () => {
  const ms = new MultiSteps(scale(1), { everyKSchedule: 3 });
  const tx = ms.gradientTransformation();
  let state = tx.init(g64(0));
  const out: number[] = [];
  for (const v of [1, 2, 6, 10, 20, 30]) {
    const [u, s] = tx.update(g64(v), state);
    out.push(u.w[0]);
    state = s;
  }
  assert.deepEqual(out, [0, 0, 3, 0, 0, 20]);
  assert.equal(state.gradient_step, 2);
  assert.equal(state.mini_step, 0);
  assert.ok(ms.hasUpdated(state));
  assert.equal(ms.innerOpt.name, 'scale');
});

test('useGradMean false sums; the state has optax\'s fields', () => {
  const tx = multiSteps(scale(1), { everyKSchedule: 2, useGradMean: false });
  let state = tx.init(g64(0));
  assert.deepEqual(Object.keys(state), ['mini_step', 'gradient_step', 'inner_opt_state', 'acc_grads', 'skip_state']);
  let u: any;
  [u, state] = tx.update(g64(1), state);
  [u, state] = tx.update(g64(3), state);
  assert.equal(u.w[0], 4);
});

test('acc_grads are float32 by default, even for float64 params; null keeps the params dtype', () => {
  assert.ok((multiSteps(scale(1), { everyKSchedule: 2 }).init(g64(0)).acc_grads as any).w instanceof Float32Array);
  assert.ok((multiSteps(scale(1), { everyKSchedule: 2, accumulatorDtype: null }).init(g64(0)).acc_grads as any).w instanceof Float64Array);
  const tx = multiSteps(scale(1), { everyKSchedule: 2 });
  const [, s] = tx.update(g64(0.1), tx.init(g64(0)));
  assert.equal((s.acc_grads as any).w[0], Math.fround(0.1));
});

test('a schedule of gradient_step sets k', () => {
  const tx = multiSteps(scale(1), { everyKSchedule: (step) => (step === 0 ? 1 : 2) });
  let state = tx.init(g32(0));
  const out: number[] = [];
  for (const v of [1, 2, 4]) {
    const [u, s] = tx.update(g32(v), state);
    out.push(u.w[0]);
    state = s;
  }
  assert.deepEqual(out, [1, 0, 3]);
});

test('shouldSkipUpdateFn drops a mini-step and records its skip state', () => {
  const skipBig = (u: any): [boolean, unknown] => [Math.abs(u.w[0]) > 100, { big: Math.abs(u.w[0]) > 100 }];
  const tx = multiSteps(scale(1), { everyKSchedule: 2, shouldSkipUpdateFn: skipBig });
  let state = tx.init(g64(0));
  assert.deepEqual(state.skip_state, { big: false });
  let u: any;
  [u, state] = tx.update(g64(1000), state);
  assert.equal(u.w[0], 0);
  assert.equal(state.mini_step, 0);
  assert.deepEqual(state.skip_state, { big: true });
  [u, state] = tx.update(g64(1), state);
  [u, state] = tx.update(g64(3), state);
  assert.equal(u.w[0], 2);
});

test('silent steps, constant final scale on a leaf of two or more elements: zeros signed like the update before that scale (XLA folds emit into the constant)', () => {
  const tx = multiSteps(scale(-1), { everyKSchedule: 2 });
  const [u] = tx.update(g32(5, -5), tx.init(g32(0, 0)));
  assert.ok(Object.is(u.w[0], 0) && Object.is(u.w[1], -0));
  const [n] = tx.update(g32(Infinity, NaN), tx.init(g32(0, 0)));
  assert.ok(Number.isNaN(n.w[0]) && Number.isNaN(n.w[1]));
});

test('silent steps on a one-element leaf, or after a computed scale: +0 * update (the sign of the update)', () => {
  const one = multiSteps(scale(-1), { everyKSchedule: 2 });
  const [u] = one.update(g32(5), one.init(g32(0)));
  assert.ok(Object.is(u.w[0], -0));
  // A schedule that is not a constant (a value computed from the count) is not folded.
  const scheduled = multiSteps(scaleByLearningRate(linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10 })), { everyKSchedule: 2 });
  const [v] = scheduled.update(g32(5, -5), scheduled.init(g32(0, 0)));
  assert.ok(Object.is(v.w[0], -0) && Object.is(v.w[1], 0));
  // constant_schedule returns a Python float in optax: folded like scale.
  const constant = multiSteps(scaleByLearningRate(constantSchedule({ value: 1 })), { everyKSchedule: 2 });
  const [c] = constant.update(g32(5, -5), constant.init(g32(0, 0)));
  assert.ok(Object.is(c.w[0], 0) && Object.is(c.w[1], -0));
});

test('silent steps on a rank-0 leaf: +0 whatever the update (XLA turns convert(emit) * u into a select)', () => {
  const tx = multiSteps(scale(-1), { everyKSchedule: 2 });
  for (const v of [5, -5, NaN]) {
    const g = { s: new ShapedArray(new Float32Array([v]), []) };
    const [u] = tx.update(g, tx.init({ s: new ShapedArray(new Float32Array(1), []) }));
    assert.ok(Object.is(leafData(u.s)[0], 0));
  }
});

test('rejects a non-integer or non-positive k: at construction, or at the step for a schedule', () => {
  for (const k of [0, -1, 1.5, NaN]) {
    assert.throws(() => new MultiSteps(scale(1), { everyKSchedule: k }), (e: Error) => e instanceof OptaxError && /every_k_schedule/.test(e.message));
  }
  const tx = multiSteps(scale(1), { everyKSchedule: () => 0.5 });
  assert.throws(() => tx.update(g64(1), tx.init(g64(0))), /every_k_schedule.*gradient step 0/);
  assert.throws(() => multiSteps(scale(1), { everyKSchedule: 2, accumulatorDtype: 'float16' as any }), /accumulatorDtype/);
  assert.throws(() => tx.update(g64(1), {} as any), /does not belong/);
});

test('does not mutate its inputs', () => {
  const tx = multiSteps(scale(1), { everyKSchedule: 2 });
  const state = tx.init(g32(0));
  const snapshot = structuredClone(state);
  const g = g32(2);
  tx.update(g, state);
  assert.deepEqual(state, snapshot);
  assert.deepEqual(g, g32(2));
});

// inject_hyperparams inside apply_if_finite / MultiSteps (optax/schedules/_inject.py `update_fn`, run inside
// lax.cond): its schedules are evaluated in the traced computation, and its hyperparameters are arrays of
// the state (cond operands), so none of the inner transformation's scalars is a constant there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adamax } from '../../src/alias/adamax.js';
import { applyIfFinite } from '../../src/transforms/apply-if-finite.js';
import { injectHyperparams } from '../../src/transforms/inject-hyperparams.js';
import { multiSteps } from '../../src/transforms/multi-steps.js';
import { scaleByLearningRate } from '../../src/transforms/scale-by-learning-rate.js';
import { canTrace } from '../../src/transforms/traced.js';
import { tracedSchedule } from '../../src/schedules/typed.js';
import { warmupCosineDecaySchedule } from '../../src/schedules/warmup-cosine-decay.js';
import { linearOnecycleSchedule } from '../../src/schedules/linear-onecycle.js';

const f32 = (...v: number[]) => new Float32Array(v);
const wcd = () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.022113341469278364, warmupSteps: 4, decaySteps: 31, endValue: 0.0009697155152102945 });

test('apply_if_finite(inject_hyperparams(scale_by_learning_rate)(schedule)): the schedule is traced, its value rounded to the hyperparameter dtype', () => {
  const s = wcd();
  const tx = applyIfFinite(injectHyperparams(scaleByLearningRate)(s), { maxConsecutiveErrors: 1 });
  let state = tx.init({ w: f32(0) });
  for (let count = 0; count < 12; count++) {
    let u;
    [u, state] = tx.update({ w: f32(1) }, state);
    assert.equal(u.w[0], Math.fround(-tracedSchedule(s)(count)), `count ${count}`);
    assert.equal(state.inner_state.hyperparams.learning_rate, Math.fround(tracedSchedule(s)(count)));
  }
  // Outside lax.cond the same injection evaluates the eager schedule, which differs at count 1.
  assert.notEqual(s(1), tracedSchedule(s)(1));
  const plain = injectHyperparams(scaleByLearningRate)(s);
  let st = plain.init({ w: f32(0) });
  [, st] = plain.update({ w: f32(1) }, st);
  const [u1] = plain.update({ w: f32(1) }, st);
  assert.equal(u1.w[0], Math.fround(-s(1)));
});

test('apply_if_finite(inject_hyperparams(adamax)): a one-cycle learning rate traced, the update as adamax with that value', () => {
  const s = linearOnecycleSchedule({ transitionSteps: 40, peakValue: 0.05 });
  const tx = applyIfFinite(injectHyperparams(adamax)(s, { b1: 0.5, b2: 0.9 }), { maxConsecutiveErrors: 0 });
  let state = tx.init({ w: f32(0, 0) });
  let differed = false;
  for (let count = 0; count < 40; count++) {
    const g = { w: f32(0.3 + count / 7, -1 - count / 11) };
    // The same step, adamax built with this count's traced learning rate (a number: only preScale,
    // absent outside MultiSteps, would tell the constant apart).
    const lr = Math.fround(tracedSchedule(s)(count));
    const byHand = applyIfFinite(adamax(lr, { b1: 0.5, b2: 0.9 }), { maxConsecutiveErrors: 0 });
    const [expected] = byHand.update(g, { ...state, inner_state: state.inner_state.inner_state } as never);
    let u;
    [u, state] = tx.update(g, state);
    assert.deepEqual(u.w, expected.w, `count ${count}`);
    if (Math.fround(s(count)) !== lr) differed = true;
  }
  assert.ok(differed, 'the traced one-cycle schedule differs from the eager one at some count');
});

test('MultiSteps(inject_hyperparams(adamax)): the learning rate is no constant, so silent mini-steps are +0 * u (the sign of u)', () => {
  const g = { w: f32(1, 2) };
  const injected = multiSteps(injectHyperparams(adamax)(0.01), { everyKSchedule: 3 });
  const [u] = injected.update(g, injected.init({ w: f32(0, 0) }));
  // u = -lr * y < 0, so +0 * u is -0.
  assert.ok(Object.is(u.w[0], -0) && Object.is(u.w[1], -0), `got ${u.w[0]}, ${u.w[1]}`);
  // With adamax's constant learning rate XLA folds emit into it: y * select(emit, -lr, 0), the sign of y.
  const plain = multiSteps(adamax(0.01), { everyKSchedule: 3 });
  const [v] = plain.update(g, plain.init({ w: f32(0, 0) }));
  assert.ok(Object.is(v.w[0], 0) && Object.is(v.w[1], 0), `got ${v.w[0]}, ${v.w[1]}`);
});

test('canTrace: an injection is traced when the inner transformation of its hyperparameters is', () => {
  const tx = injectHyperparams(adamax)(wcd());
  assert.equal(canTrace(tx, tx.init({ w: f32(0) })), true);
  assert.equal(canTrace(tx, { count: 'x' }), false); // not its state
});

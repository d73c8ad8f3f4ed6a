/**
 * Schedules inside apply_if_finite and MultiSteps are traced in optax (schedules/arith.ts): the
 * reference path evaluates their traced form, and the engine's per-step scalars do too, bit for bit
 * on every backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/engine/compile.js';
import { adamax } from '../../src/alias/adamax.js';
import { applyIfFinite } from '../../src/transforms/apply-if-finite.js';
import { multiSteps } from '../../src/transforms/multi-steps.js';
import { scaleByLearningRate } from '../../src/transforms/scale-by-learning-rate.js';
import { warmupCosineDecaySchedule } from '../../src/schedules/warmup-cosine-decay.js';
import { tracedSchedule } from '../../src/schedules/typed.js';
import { injectHyperparams } from '../../src/transforms/inject-hyperparams.js';
import { adamaxw } from '../../src/alias/adamaxw.js';
import { cosineOnecycleSchedule } from '../../src/schedules/cosine-onecycle.js';
import { exponentialDecay } from '../../src/schedules/exponential-decay.js';
import { ReferenceRun, assertBitEqual, cloneTree } from './support.js';

const f32 = (...v: number[]) => new Float32Array(v);
const schedule = () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.022113341469278364, warmupSteps: 4, decaySteps: 31, endValue: 0.0009697155152102945 });
const params = () => ({ a: f32(1, 2, -0), b: f32(-1, 0.5) });
const grads = (i: number) => ({ a: f32(0.25 * i + 0.1, -1, 2), b: f32(0.5 * i, 3) });

test('apply_if_finite: the inner learning-rate schedule is evaluated in its traced form', () => {
  const s = schedule();
  const tx = applyIfFinite(scaleByLearningRate(s), { maxConsecutiveErrors: 1 });
  let state = tx.init({ w: f32(0) });
  for (let count = 0; count < 12; count++) {
    let u;
    [u, state] = tx.update({ w: f32(1) }, state);
    assert.equal(u.w[0], Math.fround(-tracedSchedule(s)(count)), `count ${count}`);
  }
  // Plain (eager) scale_by_learning_rate keeps the eager value, which differs at count 1.
  const eager = scaleByLearningRate(s);
  const [u1] = eager.update({ w: f32(1) }, { count: 1 } as never);
  assert.equal(u1.w[0], Math.fround(-s(1)));
  assert.notEqual(s(1), tracedSchedule(s)(1));
});

for (const [name, make] of [
  ['applyIfFinite(adamax(schedule))', () => applyIfFinite(adamax(schedule(), { b1: 0, b2: 0, eps: 1e-6 }), { maxConsecutiveErrors: 1 })],
  ['multiSteps(adamax(schedule))', () => multiSteps(adamax(schedule()), { everyKSchedule: 2 })],
  // inject_hyperparams inside lax.cond: traced schedules, and no constant scalars (MultiSteps' silent zeros).
  ['applyIfFinite(inject(adamax)(one-cycle))', () => applyIfFinite(injectHyperparams(adamax)(cosineOnecycleSchedule({ transitionSteps: 20, peakValue: 0.05 }), { b1: 0.5 }), { maxConsecutiveErrors: 1 })],
  ['multiSteps(inject(adamax)(0.01))', () => multiSteps(injectHyperparams(adamax)(0.01), { everyKSchedule: 3 })],
  // masked (adamaxw's weight decay) inside lax.cond: each leaf with the stages its mask gives it.
  ['applyIfFinite(adamaxw(mask))', () => applyIfFinite(adamaxw(0.02, { weightDecay: 0.01, mask: { a: false, b: true } }), { maxConsecutiveErrors: 1 })],
  ['multiSteps(adamaxw(mask))', () => multiSteps(adamaxw(0.02, { b1: 0.9, weightDecay: 0.003, mask: { a: true, b: false } }), { everyKSchedule: 3 })],
  ['multiSteps(inject(adamaxw)(schedules))', () => multiSteps(injectHyperparams(adamaxw)({ learningRate: schedule(), weightDecay: exponentialDecay({ initValue: 0.01, transitionSteps: 3, decayRate: 0.7, staircase: true }) }), { everyKSchedule: 2 })],
] as const) {
  test(`${name}: the engine reads the traced schedule value, bit-identical to the reference on every backend`, () => {
    for (const backend of ['wasm', 'js', 'interpreter'] as const) {
      const tx = make();
      const ref = new ReferenceRun(tx as never, params());
      const s = compile(tx as never, params(), { backend, fallback: 'error' });
      assert.equal(s.backend, backend);
      for (let i = 0; i < 24; i++) {
        ref.step(cloneTree(grads(i)));
        s.step(cloneTree(grads(i)));
        assertBitEqual(s.params, ref.params, `${backend} step ${i + 1} params`);
        assertBitEqual(s.state, ref.state, `${backend} step ${i + 1} state`);
      }
      s.dispose();
    }
  });
}

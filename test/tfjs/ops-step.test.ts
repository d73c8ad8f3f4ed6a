import assert from 'node:assert/strict';
import test from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  MultiSteps, ShapedArray, adamax, adamaxw, addDecayedWeights, applyIfFinite, applyUpdates, chain, clip, clipByGlobalNorm, ema, exponentialDecay, injectHyperparams, masked, multiSteps, partition, scaleByLearningRate,
  scale, scaleByAdamax, setToZero, skipLargeUpdates, skipNotFinite, warmupCosineDecaySchedule, type GradientTransformation,
} from '../../src/index.js';
import { OpsStep, opsSupported } from '../../src/tfjs/ops-step.js';
import { opsUnsupported } from '../../src/tfjs/ops-support.js';

await tf.setBackend('cpu');
const bits = (a: ArrayLike<number>): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));
const schedule = () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 20, endValue: 0.001 });

const SHAPES = [[3, 4], [4], [7], [2, 6], [1], [64, 64], [100]];

/**
 * Runs `tx` for `steps` steps as tfjs ops (OpsStep) and on the pure path, and asserts every
 * parameter bit-identical after each step, and the state read back equal leaf for leaf at the end.
 * `grad(step, i, shape)` makes the gradients (default: normal, growing); `between` runs between steps.
 */
function checkBitIdentical(tx: GradientTransformation<any>, options: { steps?: number; shapes?: number[][]; grad?: (step: number, i: number, shape: number[]) => tf.Tensor; between?: (step: number, ops: OpsStep, state: any) => any } = {}): void {
  const { steps = 8, shapes = SHAPES } = options;
  assert.ok(opsSupported(tx), `${tx.name}: ${opsUnsupported(tx)}`);
  const names = shapes.map((_, i) => `ops_${tx.name}_${i}_${Math.random()}`);
  const variables = shapes.map((s, i) => tf.variable(tf.randomNormal(s, 0, 1, 'float32', i + 1), true, names[i]));
  let params: Record<string, ShapedArray> = Object.fromEntries(variables.map((v) => [v.name, new ShapedArray(Float32Array.from(v.dataSync() as Float32Array), v.shape)]));
  let state = tx.init(params);
  const ops = new OpsStep(tx, names, variables);
  const show = (x: unknown) => JSON.stringify(x, (_k, v) => (v instanceof ShapedArray ? bits(v.data) : v));
  for (let step = 0; step < steps; step++) {
    if (options.between) state = options.between(step, ops, state);
    const grads = new Map(variables.map((v, i) => [v.name, options.grad?.(step, i, v.shape) ?? tf.randomNormal(v.shape, 0, 1 + step, 'float32', 100 * step + i)]));
    const g = Object.fromEntries([...grads].map(([n, t]) => [n, new ShapedArray(Float32Array.from(t.dataSync() as Float32Array), t.shape)]));
    ops.step(grads, variables);
    const [u, next] = tx.update(g, state, params);
    params = applyUpdates(params, u);
    state = next;
    for (const v of variables) assert.deepEqual(bits(v.dataSync()), bits(params[v.name].data), `${tx.name} step ${step} ${v.name}`);
    tf.dispose([...grads.values()]);
  }
  // The state read back is the pure path's, leaf for leaf; and it loads back.
  assert.equal(show(ops.state), show(state), `${tx.name}: state`);
  ops.setState(state);
  assert.equal(show(ops.state), show(state), `${tx.name}: state loaded`);
  ops.dispose();
  tf.dispose(variables);
}

test('the step as tfjs ops (the lowered ex.* graphs) is bit-identical to the pure path on the cpu backend', () => {
  const cases: GradientTransformation<any>[] = [
    adamax(0.01), adamaxw(schedule(), { weightDecay: 0.01 }), chain(clip(0.5), adamax(schedule(), { b1: 0.99 })), chain(ema(0.9), scale(-0.1)),
    // The global norm (over 4231 elements, about 65 at step 0 and 520 at step 7; enough that a sum
    // in float64 or in another order differs from XLA's; [64, 64] and [100] take XLA:CPU's windows,
    // the latter padded): clipped at 1 in every step, at 200 from step 3 on; the one-element leaf
    // divides by the norm, as XLA does.
    chain(clipByGlobalNorm(1), adamaxw(schedule(), { weightDecay: 0.01 })), chain(clipByGlobalNorm(200), adamax(0.01)),
  ];
  for (const tx of cases) checkBitIdentical(tx);
});

/** Gradients with a NaN or an infinity in some steps (in one variable), finite in the others. */
const sometimesNotFinite = (bad: readonly number[]) => (step: number, i: number, shape: number[]): tf.Tensor => {
  const g = tf.randomNormal(shape, 0, 1 + step, 'float32', 100 * step + i);
  if (!bad.includes(step) || i !== 2) return g;
  const values = g.dataSync().slice();
  values[1] = step % 2 ? Infinity : NaN;
  g.dispose();
  return tf.tensor(values, shape, 'float32');
};

test('combinators as tfjs ops: masked, partition, injectHyperparams, applyIfFinite, multiSteps, bit-identical to the pure path on the cpu backend', () => {
  const byName = (pattern: RegExp) => (tree: Record<string, unknown>) => Object.fromEntries(Object.keys(tree).map((k) => [k, pattern.test(k) ? true : false]));
  const evenNames = (tree: Record<string, unknown>) => Object.fromEntries(Object.keys(tree).map((k) => [k, /_[0246]_/.test(k)]));
  const labels = (tree: Record<string, unknown>) => Object.fromEntries(Object.keys(tree).map((k) => [k, /_[01]_/.test(k) ? 'frozen' : /_[23]_/.test(k) ? 'slow' : 'fast']));
  // masked with a function and with a tree (a prefix: one boolean per variable), nested in a chain
  checkBitIdentical(chain(masked(adamax(0.01), evenNames), masked(scale(-2), byName(/_[15]_/))));
  checkBitIdentical(chain(clipByGlobalNorm(3), masked(chain(clipByGlobalNorm(0.5), adamaxw(schedule(), { weightDecay: 0.1 })), evenNames)));
  // partition: each label's transformation on its variables; one label with none
  checkBitIdentical(partition({ frozen: setToZero(), slow: adamax(0.001), fast: chain(clipByGlobalNorm(1), adamaxw(schedule(), { weightDecay: 0.01 })), none: adamax(1) }, labels));
  // injectHyperparams: fixed and scheduled hyperparameters, set between steps
  const injected = injectHyperparams(adamaxw)({ learningRate: schedule(), weightDecay: 0.01, b1: 0.9 });
  checkBitIdentical(chain(clipByGlobalNorm(2), injected), {
    between: (step, ops, state) => {
      if (step !== 4) return state;
      const next = [state[0], { ...state[1], hyperparams: { ...state[1].hyperparams, weight_decay: 0.5, b1: 0.7 } }];
      ops.setState(next);
      return next;
    },
  });
  // applyIfFinite: traced inner (adamax: fused multiply-adds; adamaxw: a masked stage), eager inner
  // (a global norm), consecutive non-finite steps skipped then applied (maxConsecutiveErrors 1)
  const bad = sometimesNotFinite([2, 3, 4, 7]);
  checkBitIdentical(applyIfFinite(adamax(0.01), { maxConsecutiveErrors: 1 }), { grad: bad, steps: 10 });
  checkBitIdentical(applyIfFinite(adamaxw(schedule(), { weightDecay: 0.01 }), { maxConsecutiveErrors: 2 }), { grad: bad, steps: 10 });
  checkBitIdentical(applyIfFinite(chain(clipByGlobalNorm(1), adamax(schedule())), { maxConsecutiveErrors: 0 }), { grad: bad, steps: 9 });
  checkBitIdentical(partition({ frozen: setToZero(), slow: applyIfFinite(scaleByAdamax(), { maxConsecutiveErrors: 3 }), fast: adamax(0.1) }, labels), { grad: bad, steps: 9 });
  checkBitIdentical(applyIfFinite(chain(masked(adamax(0.01), evenNames), injectHyperparams(addDecayedWeights)(0.1)), { maxConsecutiveErrors: 1 }), { grad: bad, steps: 6 });
  checkBitIdentical(applyIfFinite(injectHyperparams(adamax)({ learningRate: 0.01, b1: 0.8 }), { maxConsecutiveErrors: 1 }), { grad: bad, steps: 8 });
  // multiSteps: a constant learning rate (the silent steps' zeros take the sign of the pre-scaled
  // value), a schedule, a sum, a k schedule, an injected inner; NaN inside an accumulation
  checkBitIdentical(multiSteps(adamax(0.01), { everyKSchedule: 3 }), { steps: 10 });
  // leaves scaled by a constant last and leaves not (masked weight decay after the scale): zeros per leaf
  checkBitIdentical(multiSteps(chain(scaleByLearningRate(0.1), masked(addDecayedWeights(0.1), evenNames)), { everyKSchedule: 2 }), { steps: 6 });
  checkBitIdentical(multiSteps(adamaxw(schedule(), { weightDecay: 0.01 }), { everyKSchedule: 2 }), { steps: 9, grad: sometimesNotFinite([5]) });
  checkBitIdentical(multiSteps(chain(clipByGlobalNorm(1), adamax(0.02)), { everyKSchedule: (s: number) => 1 + (s % 3), useGradMean: false }), { steps: 10 });
  checkBitIdentical(multiSteps(injectHyperparams(adamax)({ learningRate: 0.01 }), { everyKSchedule: 2 }), { steps: 7 });
  checkBitIdentical(multiSteps(applyIfFinite(adamax(0.01), { maxConsecutiveErrors: 0 }), { everyKSchedule: 2 }), { steps: 8, grad: sometimesNotFinite([3]) });
  checkBitIdentical(new MultiSteps(adamax(0.01), { everyKSchedule: 2 }).gradientTransformation(), { steps: 5 });
  // multiSteps whose counters live on the device: a skip function (a device reduction), or inside applyIfFinite
  checkBitIdentical(multiSteps(adamax(0.01), { everyKSchedule: 3, shouldSkipUpdateFn: skipNotFinite }), { grad: bad, steps: 10 });
  checkBitIdentical(multiSteps(chain(clipByGlobalNorm(1), adamaxw(schedule(), { weightDecay: 0.01 })), { everyKSchedule: 2, shouldSkipUpdateFn: skipLargeUpdates(2e4) }), { steps: 8 });
  checkBitIdentical(applyIfFinite(multiSteps(adamax(schedule()), { everyKSchedule: 2, useGradMean: false }), { maxConsecutiveErrors: 1 }), { grad: bad, steps: 9 });
  // What runs through the engine instead.
  for (const tx of [
    multiSteps(adamax(0.1), { everyKSchedule: (s: number) => 2 + (s % 2), shouldSkipUpdateFn: skipNotFinite }),
    multiSteps(adamax(0.1), { everyKSchedule: 2, shouldSkipUpdateFn: () => [false, []] }),
    multiSteps(adamax(0.1), { everyKSchedule: 2, accumulatorDtype: 'float64' }),
    applyIfFinite(injectHyperparams(adamax)({ learningRate: schedule() }), { maxConsecutiveErrors: 1 }),
    applyIfFinite(adamax(exponentialDecay({ initValue: 0.1, transitionSteps: 10, decayRate: 0.9 })), { maxConsecutiveErrors: 1 }),
    { name: 'mine', init: () => ({}), update: (u: any, s: any) => [u, s] } as GradientTransformation<any>,
  ]) assert.equal(opsSupported(tx), false, tx.name);
});

test('toTfjs with path "ops": the same steps as the engine path, saved and restored alike, no tensor leaked', async () => {
  const { toTfjs } = await import('../../src/tfjs/index.js');
  const tx = () => adamaxw(schedule(), { weightDecay: 0.01 });
  const a = tf.variable(tf.tensor2d([[1, -2], [3, 0.5]]), true, 'path_ops_a');
  const b = tf.variable(tf.tensor2d([[1, -2], [3, 0.5]]), true, 'path_ops_b');
  const viaOps = toTfjs(tx(), { path: 'ops' });
  const viaEngine = toTfjs(tx(), { path: 'engine' });
  const loss = (v: tf.Variable) => () => tf.sum(tf.mul(tf.square(v), tf.tensor2d([[1, 2], [3, 4]]))) as tf.Scalar;
  for (let i = 0; i < 10; i++) { viaOps.minimize(loss(a)); viaEngine.minimize(loss(b)); }
  assert.deepEqual(bits(a.dataSync()), bits(b.dataSync()));
  const names = (w: { name: string }[]) => w.map((x) => x.name.replace('path_ops_a', 'X').replace('path_ops_b', 'X'));
  const wa = await viaOps.getWeights(), wb = await viaEngine.getWeights();
  assert.deepEqual(names(wa), names(wb));
  assert.deepEqual(wa.map((w) => bits(w.tensor.dataSync())), wb.map((w) => bits(w.tensor.dataSync())));
  const restored = toTfjs(tx(), { path: 'ops' });
  await restored.setWeights(wa);
  assert.equal(restored.learningRate, viaOps.learningRate);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 200; i++) viaOps.minimize(loss(a));
  assert.equal(tf.memory().numTensors, before);
  // Saves and restores rebuild the step (its state variables) each time: nothing may accumulate.
  const afterSave = (await viaOps.getWeights(), tf.memory().numTensors);
  for (let i = 0; i < 20; i++) {
    const copies = (await viaOps.getWeights()).map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
    await viaOps.setWeights(copies);
    tf.dispose(copies.map((c) => c.tensor));
    viaOps.minimize(loss(a));
  }
  await viaOps.getWeights();
  assert.equal(tf.memory().numTensors, afterSave);
  assert.throws(() => toTfjs(multiSteps(adamax(0.1), { everyKSchedule: 2, shouldSkipUpdateFn: () => [false, []] }), { path: 'ops' }), /path "ops" cannot run MultiSteps with a shouldSkipUpdateFn of your own/);
  viaOps.dispose(); viaEngine.dispose(); restored.dispose(); a.dispose(); b.dispose();
});

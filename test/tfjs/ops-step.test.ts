import assert from 'node:assert/strict';
import test from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ShapedArray, adamax, adamaxw, applyIfFinite, applyUpdates, chain, clip, clipByGlobalNorm, ema, scale, warmupCosineDecaySchedule, type GradientTransformation } from '../../src/index.js';
import { OpsStep, opsSupported } from '../../src/tfjs/ops-step.js';

await tf.setBackend('cpu');
const bits = (a: ArrayLike<number>): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));
const schedule = () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 20, endValue: 0.001 });

test('the step as tfjs ops (the lowered ex.* graphs) is bit-identical to the pure path on the cpu backend', () => {
  const cases: GradientTransformation<any>[] = [
    adamax(0.01), adamaxw(schedule(), { weightDecay: 0.01 }), chain(clip(0.5), adamax(schedule(), { b1: 0.99 })), chain(ema(0.9), scale(-0.1)),
    // The global norm (over 4231 elements, about 65 at step 0 and 520 at step 7; enough that a sum
    // in float64 or in another order differs from XLA's; [64, 64] and [100] take XLA:CPU's windows,
    // the latter padded): clipped at 1 in every step, at 200 from step 3 on; the one-element leaf
    // divides by the norm, as XLA does.
    chain(clipByGlobalNorm(1), adamaxw(schedule(), { weightDecay: 0.01 })), chain(clipByGlobalNorm(200), adamax(0.01)),
  ];
  for (const tx of cases) {
    assert.ok(opsSupported(tx));
    const shapes = [[3, 4], [4], [7], [2, 6], [1], [64, 64], [100]];
    const names = shapes.map((_, i) => `ops_${tx.name}_${i}_${Math.random()}`);
    const variables = shapes.map((s, i) => tf.variable(tf.randomNormal(s, 0, 1, 'float32', i + 1), true, names[i]));
    let params: Record<string, ShapedArray> = Object.fromEntries(variables.map((v) => [v.name, new ShapedArray(Float32Array.from(v.dataSync() as Float32Array), v.shape)]));
    let state = tx.init(params);
    const ops = new OpsStep(tx, names, variables);
    for (let step = 0; step < 8; step++) {
      const grads = new Map(variables.map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 1 + step, 'float32', 100 * step + i)]));
      const g = Object.fromEntries([...grads].map(([n, t]) => [n, new ShapedArray(Float32Array.from(t.dataSync() as Float32Array), t.shape)]));
      ops.step(grads, variables);
      const [u, next] = tx.update(g, state, params);
      params = applyUpdates(params, u);
      state = next;
      for (const v of variables) assert.deepEqual(bits(v.dataSync()), bits(params[v.name].data), `${tx.name} step ${step}`);
      tf.dispose([...grads.values()]);
    }
    // The state read back is the pure path's, leaf for leaf; and it loads back.
    const read = JSON.stringify(ops.state, (_k, v) => (v instanceof ShapedArray ? bits(v.data) : v));
    assert.equal(read, JSON.stringify(state, (_k, v) => (v instanceof ShapedArray ? bits(v.data) : v)));
    ops.setState(state);
    ops.dispose();
    tf.dispose(variables);
  }
  assert.equal(opsSupported(chain(clipByGlobalNorm(1), applyIfFinite(adamax(0.1), { maxConsecutiveErrors: 2 }))), false);
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
  assert.throws(() => toTfjs(applyIfFinite(adamax(0.1), { maxConsecutiveErrors: 2 }), { path: 'ops' }), /elementwise transformations and clipByGlobalNorm only/);
  viaOps.dispose(); viaEngine.dispose(); restored.dispose(); a.dispose(); b.dispose();
});

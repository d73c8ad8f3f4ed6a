import assert from 'node:assert/strict';
import test from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { adamax, adamaxw, applyIfFinite, chain, clipByGlobalNorm, injectHyperparams, masked, multiSteps, partition, setToZero, warmupCosineDecaySchedule, type GradientTransformation } from '../../src/index.js';
import { OptaxTfjsOptimizer, toTfjs } from '../../src/tfjs/index.js';

await tf.setBackend('cpu');

/** The optimizer path through tfjs ops (what webgl and webgpu take), on the cpu backend, against the engine path (itself bit-identical to the pure path). */
const schedule = () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 20, endValue: 0.001 });
/** Bits of a float32 array; every NaN as one (a NaN's payload is what each backend's arithmetic makes it, not optax-ts's). */
const bits = (a: ArrayLike<number>): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer), (b) => ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0 ? 0x7fc00000 : b));
const isKernel = (tree: Record<string, unknown>) => Object.fromEntries(Object.keys(tree).map((k) => [k, k.includes('kernel')]));
const byLayer = (tree: Record<string, unknown>) => Object.fromEntries(Object.keys(tree).map((k) => [k, /_a\//.test(k) ? 'first' : 'rest']));

const combinators = (): GradientTransformation<any>[] => [
  applyIfFinite(chain(clipByGlobalNorm(1), masked(adamaxw(schedule(), { weightDecay: 0.01 }), isKernel)), { maxConsecutiveErrors: 2 }),
  multiSteps(applyIfFinite(adamax(0.01), { maxConsecutiveErrors: 1 }), { everyKSchedule: 2 }),
  partition({ first: injectHyperparams(adamax)({ learningRate: 0.01 }), rest: applyIfFinite(adamax(schedule()), { maxConsecutiveErrors: 0 }) }, byLayer),
];

function model(seed: number, prefix: string): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ name: `dense_${prefix}_a`, units: 8, inputShape: [4], activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
  m.add(tf.layers.dense({ name: `dense_${prefix}_b`, units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }));
  return m;
}

function data(n: number, seed: number, nanRows: number[] = []): { x: tf.Tensor2D; y: tf.Tensor2D } {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const xs = Array.from({ length: n * 4 }, rand);
  for (const r of nanRows) xs[r * 4] = NaN;
  const ys = Array.from({ length: n }, (_, i) => (xs[i * 4] + xs[i * 4 + 1] > 0 ? 0 : xs[i * 4 + 2] > 0 ? 1 : 2));
  return { x: tf.tensor2d(xs, [n, 4]), y: tf.oneHot(tf.tensor1d(ys, 'int32'), 3).toFloat() as tf.Tensor2D };
}

const weightsBits = (m: tf.LayersModel) => m.getWeights().map((w) => bits(w.dataSync()));

test('path "ops" with combinators: fit, a frozen layer, getWeights/setWeights, save/load all match the engine path bit for bit', async () => {
  // A batch with a NaN input (non-finite gradients: applyIfFinite skips it, multiSteps accumulates it).
  const { x, y } = data(48, 3, [20]);
  for (const [i, tx] of combinators().entries()) {
    const a = model(5, 'ops'), b = model(5, 'eng');
    const viaOps = toTfjs(tx, { path: 'ops' }), viaEngine = toTfjs(tx, { path: 'engine' });
    a.compile({ optimizer: viaOps, loss: 'categoricalCrossentropy' });
    b.compile({ optimizer: viaEngine, loss: 'categoricalCrossentropy' });
    const fit = async () => {
      const ha = await a.fit(x, y, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 });
      const hb = await b.fit(x, y, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 });
      assert.deepEqual(ha.history.loss, hb.history.loss, `case ${i}`);
      assert.deepEqual(weightsBits(a), weightsBits(b), `case ${i}`);
    };
    await fit();
    // The optimizer's state, exactly alike (names differ by the layer prefix only).
    const same = async () => {
      const wa = await viaOps.getWeights(), wb = await viaEngine.getWeights();
      assert.deepEqual(wa.map((w) => w.name.replaceAll('dense_ops', 'X')), wb.map((w) => w.name.replaceAll('dense_eng', 'X')), `case ${i}`);
      assert.deepEqual(wa.map((w) => bits(w.tensor.dataSync())), wb.map((w) => bits(w.tensor.dataSync())), `case ${i}`);
    };
    await same();
    // A layer frozen for a while keeps its state; then trains again.
    for (const m of [a, b]) { m.layers[0].trainable = false; m.compile({ optimizer: m === a ? viaOps : viaEngine, loss: 'categoricalCrossentropy' }); }
    await fit();
    for (const m of [a, b]) { m.layers[0].trainable = true; m.compile({ optimizer: m === a ? viaOps : viaEngine, loss: 'categoricalCrossentropy' }); }
    await fit();
    await same();
    // getWeights -> setWeights on a fresh ops optimizer, then both go on alike.
    const copies = (await viaOps.getWeights()).map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
    const resumed = toTfjs(tx, { path: 'ops' });
    await resumed.setWeights(copies);
    tf.dispose(copies.map((c) => c.tensor));
    a.compile({ optimizer: resumed, loss: 'categoricalCrossentropy' });
    await fit();
    viaOps.dispose(); viaEngine.dispose(); resumed.dispose();
    a.dispose(); b.dispose();
  }
  tf.dispose([x, y]);
});

test('path "ops" with combinators: model.save with includeOptimizer, then tf.loadLayersModel, resumes bit-identically', async () => {
  const { x, y } = data(48, 9, [5]);
  // Saved as data (toSpec): no mask function here.
  const tx = multiSteps(applyIfFinite(chain(clipByGlobalNorm(1), adamaxw(schedule(), { weightDecay: 0.01 })), { maxConsecutiveErrors: 1 }), { everyKSchedule: 2 });
  const a = model(7, 'save');
  a.compile({ optimizer: toTfjs(tx, { path: 'ops' }), loss: 'categoricalCrossentropy' });
  await a.fit(x, y, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 });
  let saved: tf.io.ModelArtifacts | undefined;
  await a.save(tf.io.withSaveHandler(async (artifacts) => { saved = artifacts; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }), { includeOptimizer: true });
  const b = await tf.loadLayersModel(tf.io.fromMemory({ ...saved!, trainingConfig: JSON.parse(JSON.stringify(saved!.trainingConfig)), modelTopology: JSON.parse(JSON.stringify(saved!.modelTopology)) }));
  assert.ok(b.optimizer instanceof OptaxTfjsOptimizer);
  assert.equal(b.optimizer.iterations, 6);
  const ha = await a.fit(x, y, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 });
  const hb = await b.fit(x, y, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 });
  assert.deepEqual(hb.history.loss, ha.history.loss);
  assert.deepEqual(weightsBits(b), weightsBits(a));
  tf.dispose([x, y]);
});

test('path "ops" with combinators leaks nothing: tf.memory().numTensors flat over 300 steps and 20 saves', async () => {
  for (const tx of combinators()) {
    const v = tf.variable(tf.tensor2d([[1, -2], [3, 0.5]]), true, `leak_kernel_${Math.random()}`);
    const o = toTfjs(tx, { path: 'ops' });
    const loss = () => tf.sum(tf.mul(tf.square(v), tf.tensor2d([[1, 2], [3, 4]]))) as tf.Scalar;
    o.minimize(loss);
    await o.getWeights();
    const start = tf.memory().numTensors;
    for (let i = 0; i < 300; i++) o.minimize(loss);
    assert.equal(tf.memory().numTensors, start, tx.name);
    for (let i = 0; i < 20; i++) {
      const copies = (await o.getWeights()).map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
      await o.setWeights(copies);
      tf.dispose(copies.map((c) => c.tensor));
      o.minimize(loss);
    }
    await o.getWeights();
    assert.equal(tf.memory().numTensors, start, `${tx.name} after saves`);
    o.dispose(); v.dispose();
  }
});

test('path "ops": injected hyperparameters set between steps take effect as on the engine path', () => {
  const tx = () => partition({ first: injectHyperparams(adamax)({ learningRate: 0.01 }), rest: setToZero() }, (t: Record<string, unknown>) => Object.fromEntries(Object.keys(t).map((k) => [k, 'first'])));
  const a = tf.variable(tf.tensor1d([1, -2, 3]), true, 'hp_ops_a'), b = tf.variable(tf.tensor1d([1, -2, 3]), true, 'hp_ops_b');
  const oa = toTfjs(chain(clipByGlobalNorm(1), injectHyperparams(adamaxw)({ learningRate: 0.02, weightDecay: 0.1 })), { path: 'ops' });
  const ob = toTfjs(chain(clipByGlobalNorm(1), injectHyperparams(adamaxw)({ learningRate: 0.02, weightDecay: 0.1 })), { path: 'engine' });
  for (let i = 0; i < 6; i++) {
    if (i === 3) for (const o of [oa, ob]) { o.setHyperparams({ weightDecay: 0.5, b1: 0.7 }); o.learningRate = 0.1; }
    oa.minimize(() => tf.sum(tf.square(a)) as tf.Scalar);
    ob.minimize(() => tf.sum(tf.square(b)) as tf.Scalar);
    assert.deepEqual(bits(a.dataSync()), bits(b.dataSync()), `step ${i}`);
  }
  assert.deepEqual(oa.hyperparams, ob.hyperparams);
  assert.ok(toTfjs(tx(), { path: 'ops' }));
  oa.dispose(); ob.dispose(); a.dispose(); b.dispose();
});

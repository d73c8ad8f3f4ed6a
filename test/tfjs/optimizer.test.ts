import assert from 'node:assert/strict';
import test from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  OptaxError, adamax, adamaxw, applyUpdates, chain, clipByGlobalNorm, injectHyperparams, ShapedArray, warmupCosineDecaySchedule,
  type GradientTransformation,
} from '../../src/index.js';
import { toTfjs, OptaxTfjsOptimizer } from '../../src/tfjs/index.js';

await tf.setBackend('cpu');

const schedule = () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 20, endValue: 0.001 });
const demoTx = () => chain(clipByGlobalNorm(1), adamaxw(schedule(), { weightDecay: 0.01 }));

/** Bits of a float32 array, for exact comparison (NaN payloads and -0 included). */
const bits = (a: ArrayLike<number>): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));

function model(seed: number): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.dense({ units: 8, inputShape: [4], activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }));
  return m;
}

function data(n: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const xs = Array.from({ length: n * 4 }, rand);
  const ys = Array.from({ length: n }, (_, i) => (xs[i * 4] + xs[i * 4 + 1] > 0 ? 0 : xs[i * 4 + 2] > 0 ? 1 : 2));
  return { x: tf.tensor2d(xs, [n, 4]), y: tf.oneHot(tf.tensor1d(ys, 'int32'), 3).toFloat() as tf.Tensor2D };
}

test('each step is bit-identical to the pure path (tx.update + applyUpdates) on the tfjs cpu backend', () => {
  for (const tx of [demoTx(), injectHyperparams(adamax)({ learningRate: 0.01 }), adamax(0.003)] as GradientTransformation<any>[]) {
    const m = model(1);
    const { x, y } = data(32, 7);
    const optimizer = toTfjs(tx);
    const vars = m.trainableWeights.map((w) => (w as any).val as tf.Variable);
    let params: Record<string, ShapedArray> = Object.fromEntries(vars.map((v) => [v.name, new ShapedArray(Float32Array.from(v.dataSync() as Float32Array), v.shape)]));
    let state = tx.init(params);
    for (let step = 0; step < 12; step++) {
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, m.apply(x) as tf.Tensor) as tf.Scalar, vars);
      const g = Object.fromEntries(vars.map((v) => [v.name, new ShapedArray(Float32Array.from(grads[v.name].dataSync() as Float32Array), v.shape)]));
      optimizer.applyGradients(grads);
      tf.dispose([value, ...Object.values(grads)]);
      const [updates, next] = tx.update(g, state, params);
      params = applyUpdates(params, updates);
      state = next;
      for (const v of vars) assert.deepEqual(bits(v.dataSync()), bits(params[v.name].data), `${tx.name} step ${step} ${v.name}`);
    }
    optimizer.dispose();
    tf.dispose([x, y]);
    m.layers.forEach((l) => l.dispose());
  }
});

test('model.compile / fit trains; model.save with includeOptimizer then tf.loadLayersModel resumes bit-identically', async () => {
  const { x, y } = data(64, 3);
  const a = model(5);
  a.compile({ optimizer: toTfjs(demoTx()), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const first = await a.fit(x, y, { epochs: 3, batchSize: 16, shuffle: false, verbose: 0 });
  let saved: tf.io.ModelArtifacts | undefined;
  await a.save(tf.io.withSaveHandler(async (artifacts) => { saved = artifacts; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }), { includeOptimizer: true });
  // Through JSON, as a file would carry it.
  const b = await tf.loadLayersModel(tf.io.fromMemory({ ...saved!, trainingConfig: JSON.parse(JSON.stringify(saved!.trainingConfig)), modelTopology: JSON.parse(JSON.stringify(saved!.modelTopology)) }));
  assert.ok(b.optimizer instanceof OptaxTfjsOptimizer);
  assert.equal(b.optimizer.iterations, 12);
  const ha = await a.fit(x, y, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 });
  const hb = await b.fit(x, y, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 });
  assert.deepEqual(hb.history.loss, ha.history.loss);
  a.getWeights().forEach((w, i) => assert.deepEqual(bits(b.getWeights()[i].dataSync()), bits(w.dataSync()), `weight ${i}`));
  assert.ok((ha.history.loss[1] as number) < (first.history.loss[0] as number));
  tf.dispose([x, y]);
});

test('state is keyed by variable name: a layer frozen for some steps keeps its moments, the others move on', async () => {
  const m = model(9);
  const { x, y } = data(16, 11);
  const optimizer = toTfjs(adamax(0.01));
  m.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const moments = async () => Object.fromEntries((await optimizer.getWeights()).slice(1).map((w) => [w.name, Array.from(w.tensor.dataSync())]));
  await m.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
  const before = await moments();
  const kernel0 = Array.from(m.layers[0].getWeights()[0].dataSync());
  m.layers[0].trainable = false;
  m.compile({ optimizer, loss: 'categoricalCrossentropy' });
  await m.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
  const frozen = await moments();
  assert.deepEqual(Array.from(m.layers[0].getWeights()[0].dataSync()), kernel0);
  const name0 = (m.layers[0].getWeights()[0] as any).name ?? m.layers[0].weights[0].originalName;
  const keys = Object.keys(before);
  const layer0 = keys.filter((k) => k.includes(m.layers[0].name));
  const layer1 = keys.filter((k) => k.includes(m.layers[1].name));
  assert.ok(layer0.length >= 4 && layer1.length >= 4, `${keys.join(' ')} ${name0}`);
  for (const k of layer0) assert.deepEqual(frozen[k], before[k], k);
  for (const k of layer1) assert.notDeepEqual(frozen[k], before[k], k);
  assert.deepEqual(frozen['[0,"count"]#int'], [3]);
  m.layers[0].trainable = true;
  m.compile({ optimizer, loss: 'categoricalCrossentropy' });
  await m.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
  const after = await moments();
  for (const k of layer0) assert.notDeepEqual(after[k], before[k], k);
  assert.deepEqual(after['[0,"count"]#int'], [4]);
  tf.dispose([x, y]);
});

test('the learning rate is readable and settable between steps: injected, a number, a schedule', () => {
  const v = tf.variable(tf.tensor1d([1, -2]), true, 'lr_test_v');
  const loss = () => tf.sum(tf.square(v)) as tf.Scalar;
  const injected = toTfjs(injectHyperparams(adamax)({ learningRate: 0.1 }));
  assert.equal(injected.learningRate, 0.10000000149011612);
  injected.minimize(loss);
  injected.learningRate = 0;
  const held = Array.from(v.dataSync());
  injected.minimize(loss);
  assert.deepEqual(Array.from(v.dataSync()), held);
  assert.equal(injected.learningRate, 0);

  const scheduled = toTfjs(adamax(schedule()));
  assert.equal(scheduled.learningRate, 0);
  for (let i = 0; i < 3; i++) scheduled.minimize(loss);
  assert.equal(scheduled.learningRate, schedule()(3));
  scheduled.learningRate = 0.5;
  assert.equal(scheduled.learningRate, 0.5);
  assert.match(JSON.stringify(scheduled.getConfig()), /spec/);
  scheduled.minimize(loss);
  assert.equal(scheduled.iterations, 4);
  assert.throws(() => { toTfjs(chain()).learningRate = 1; }, OptaxError);
  injected.dispose(); scheduled.dispose(); v.dispose();
});

test('getWeights / setWeights round-trip exactly; a state that does not fit is refused before anything changes', async () => {
  const v = tf.variable(tf.tensor2d([[1, 2], [3, 4]]), true, 'weights_test_v');
  const loss = () => tf.sum(tf.abs(v)) as tf.Scalar;
  const a = toTfjs(demoTx());
  for (let i = 0; i < 4; i++) a.minimize(loss);
  const w = await a.getWeights();
  assert.equal(w[0].name, 'iter');
  const c = toTfjs(demoTx());
  await c.setWeights(w);
  assert.deepEqual((await c.getWeights()).map((t) => [t.name, t.tensor.dtype, Array.from(t.tensor.dataSync())]), (await a.getWeights()).map((t) => [t.name, t.tensor.dtype, Array.from(t.tensor.dataSync())]));
  // Resuming: a's next step and c's next step from the same values are the same, bit for bit.
  const start = v.clone();
  a.minimize(loss);
  const next = Array.from(v.dataSync());
  v.assign(start);
  c.minimize(loss);
  assert.deepEqual(bits(v.dataSync()), bits(next));
  assert.equal(c.iterations, 5);
  start.dispose();
  // Another shape: refused at setWeights (a has stepped, so it knows its variables), and a keeps its state.
  const keep = (await a.getWeights()).map((t) => Array.from(t.tensor.dataSync()));
  const bad = (await a.getWeights()).map((t) => ({ name: t.name, tensor: t.name.includes('weights_test_v') ? tf.zeros([3]) : t.tensor }));
  await assert.rejects(a.setWeights(bad), /weights_test_v.*expected shape \[2, 2\], got \[3\]/);
  assert.deepEqual((await a.getWeights()).map((t) => Array.from(t.tensor.dataSync())), keep);
  await assert.rejects(a.setWeights([{ name: 'iter', tensor: tf.scalar(1, 'int32') }, { name: 'junk', tensor: tf.scalar(1) }]), /not a weight of an optax-ts optimizer/);
  a.dispose(); c.dispose(); v.dispose();
});

test('no leaks: tf.memory().numTensors is flat over 1,000 steps and 100 saves', async () => {
  const m = model(21);
  const { x, y } = data(8, 5);
  const optimizer = toTfjs(demoTx());
  m.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const vars = m.trainableWeights.map((w) => (w as any).val as tf.Variable);
  const step = () => optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, m.apply(x) as tf.Tensor) as tf.Scalar, false, vars);
  const handler = tf.io.withSaveHandler(async () => ({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }));
  step();
  await m.save(handler, { includeOptimizer: true });
  const start = tf.memory().numTensors;
  for (let i = 0; i < 1000; i++) step();
  assert.equal(tf.memory().numTensors, start, 'after 1,000 steps');
  for (let i = 0; i < 100; i++) await m.save(handler, { includeOptimizer: true });
  assert.equal(tf.memory().numTensors, start, 'after 100 saves');
  optimizer.dispose();
  tf.dispose([x, y]);
});

test('bad input is refused with an OptaxError naming the variable', () => {
  const v = tf.variable(tf.tensor1d([1, 2]), true, 'bad_input_v');
  const o = toTfjs(adamax(0.1));
  assert.throws(() => o.applyGradients({ bad_input_v: tf.zeros([3]) }), /gradient of 'bad_input_v' must be a float32 tensor of shape \[2\]/);
  assert.throws(() => o.applyGradients({ nowhere: tf.zeros([2]) }), /no variable is named 'nowhere'/);
  assert.throws(() => o.applyGradients([{ name: 'bad_input_v', tensor: tf.zeros([2]) }, { name: 'bad_input_v', tensor: tf.zeros([2]) }]), /two gradients/);
  assert.throws(() => toTfjs({} as any), /expected a gradient transformation/);
  assert.throws(() => OptaxTfjsOptimizer.fromConfig(OptaxTfjsOptimizer, { spec: '!!' }), /not base64 JSON/);
  o.dispose(); v.dispose();
});

test('cpu and wasm: parameters are written in place unless a clone shares them, with the same results either way', async () => {
  await import('@tensorflow/tfjs-backend-wasm');
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    const a = tf.variable(tf.tensor1d([1, -2, 3]), true, `inplace_a_${backend}`);
    const b = tf.variable(tf.tensor1d([1, -2, 3]), true, `inplace_b_${backend}`);
    const oa = toTfjs(demoTx()), ob = toTfjs(demoTx());
    const snapshots: tf.Tensor[] = [];
    for (let i = 0; i < 6; i++) {
      const g = tf.tensor1d([0.5, -1, 2 + i]);
      oa.applyGradients({ [a.name]: g });
      ob.applyGradients({ [b.name]: g });
      snapshots.push(b.clone()); // shares b's memory: the next step must not change it
      g.dispose();
    }
    assert.deepEqual(bits(b.dataSync()), bits(a.dataSync()), backend);
    const values = snapshots.map((s) => Array.from(s.dataSync()));
    assert.equal(new Set(values.map((v) => v.join())).size, 6, `${backend}: every snapshot keeps its own values`);
    tf.dispose(snapshots);
    oa.dispose(); ob.dispose(); a.dispose(); b.dispose();
  }
  await tf.setBackend('cpu');
});

test('wasm: a model trained by trainOnBatch computes with its new weights (the backend caches packed weights by data id)', async () => {
  await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  const losses = async (optimizer: tf.Optimizer): Promise<number[]> => {
    const m = model(31);
    m.compile({ optimizer, loss: 'categoricalCrossentropy' });
    const { x, y } = data(16, 2);
    const out: number[] = [];
    for (let i = 0; i < 25; i++) out.push((await m.trainOnBatch(x, y)) as number);
    tf.dispose([x, y]);
    m.dispose();
    return out;
  };
  // tfjs's own Adamax differs from optax's in where eps goes, which changes little here: the losses agree
  // to a few parts in 1e4, while weights left stale in the backend's cache would leave ours far behind.
  const ours = await losses(toTfjs(adamax(0.02)));
  const theirs = await losses(tf.train.adamax(0.02));
  assert.ok(ours[24] < ours[0] - 0.1, `ours: ${ours[0]} -> ${ours[24]}`);
  ours.forEach((l, i) => assert.ok(Math.abs(l - theirs[i]) < 1e-3 * Math.abs(theirs[i]) + 1e-4, `step ${i}: ${l} vs ${theirs[i]}`));
  await tf.setBackend('cpu');
});

test('injected hyperparameters are readable and settable between steps, checked as setHyperparams checks them', () => {
  const v = tf.variable(tf.tensor1d([1, -2]), true, 'hp_test_v');
  const loss = () => tf.sum(tf.square(v)) as tf.Scalar;
  const o = toTfjs(chain(clipByGlobalNorm(1), injectHyperparams(adamaxw)({ learningRate: schedule(), weightDecay: 0.01 })));
  assert.deepEqual(Object.keys(o.hyperparams).sort(), ['b1', 'b2', 'eps', 'learning_rate', 'weight_decay']);
  o.minimize(loss);
  o.setHyperparams({ weightDecay: 0.5, b1: 0.8 });
  assert.equal(o.hyperparams.weight_decay, 0.5);
  o.minimize(loss);
  assert.equal(o.hyperparams.b1, Math.fround(0.8));
  assert.throws(() => o.setHyperparams({ learningRate: 1 }), /follows a schedule/);
  assert.throws(() => o.setHyperparams({ nope: 1 }), /unknown hyperparameter 'nope'/);
  assert.throws(() => o.setHyperparams({ b2: 0.5, weightDecay: NaN }), (e: unknown) => e instanceof OptaxError && /hyperparameter 'weight_decay' is NaN/.test(e.message));
  assert.equal(o.hyperparams.weight_decay, 0.5);
  assert.equal(o.hyperparams.b2, Math.fround(0.999));
  assert.throws(() => toTfjs(adamax(0.1)).setHyperparams({ b1: 0.5 }), /injects no hyperparameters/);
  assert.deepEqual(toTfjs(adamax(0.1)).hyperparams, {});
  o.dispose(); v.dispose();
});

test('a mask function is called when the step is set up for its variables, not at every step (engine path, as the ops path and jax.jit)', () => {
  const m = model(3);
  const vars = m.trainableWeights.map((w) => (w as any).val as tf.Variable);
  let calls = 0;
  // Decay the kernels, not the biases: by name, as users write it.
  const mask = (tree: unknown) => { calls++; return Object.fromEntries(Object.keys(tree as object).map((k) => [k, !k.includes('bias')])); };
  const tx = adamaxw(0.01, { weightDecay: 0.5, mask });
  const optimizer = toTfjs(tx, { path: 'engine' });
  let params: Record<string, ShapedArray> = Object.fromEntries(vars.map((v) => [v.name, new ShapedArray(Float32Array.from(v.dataSync() as Float32Array), v.shape)]));
  let state = tx.init(params);
  for (let step = 0; step < 5; step++) {
    const grads = Object.fromEntries(vars.map((v, i) => [v.name, tf.fill(v.shape, 0.1 * (i + 1) * (step % 2 ? -1 : 1))]));
    if (step === 1) calls = 0;
    optimizer.applyGradients(grads as Record<string, tf.Tensor>);
    const g = Object.fromEntries(Object.entries(grads).map(([k, t]) => [k, new ShapedArray(Float32Array.from(t.dataSync() as Float32Array), t.shape)]));
    const [u, s] = tx.update(g, state, params);
    params = applyUpdates(params, u) as typeof params;
    state = s;
    for (const t of Object.values(grads)) t.dispose();
  }
  assert.equal(calls, 4, 'after the first step, only the pure path (4 steps) called it');
  for (const v of vars) assert.deepEqual(bits(v.dataSync() as Float32Array), bits(params[v.name].data), v.name);
  optimizer.dispose();
});

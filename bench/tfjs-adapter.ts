/**
 * The TensorFlow.js adapter against tfjs's own Adamax, on the same models: `toTfjs(adamax(...))` and
 * `tf.train.adamax(...)` (same hyperparameters) on the cpu and wasm backends, and the adapter's
 * tfjs-ops path (what it runs on webgl/webgpu) for the choice between its two paths. Two timings per model:
 * the optimizer step alone (`applyGradients` with fixed gradients of the model's variables) and a
 * whole training step (`model.trainOnBatch`: forward, backward, optimizer). The two optimizers are
 * timed in alternating batches, best batch kept, so a change of load on a shared machine skews both.
 */
import * as tf from '@tensorflow/tfjs';
import { adamax } from '../src/alias/adamax.js';
import { toTfjs } from '../src/tfjs/index.js';
import { HYPER } from './config.js';

/** One model on one backend: ms per step of each optimizer. */
export interface TfjsAdapterRow {
  readonly backend: string;
  readonly model: string;
  readonly params: number;
  /** applyGradients alone: tfjs's Adamax, the adapter (auto: the fused engine here), the adapter's tfjs-ops path. */
  readonly optimizerMs: readonly [tfjs: number, adapter: number, ops: number];
  /** trainOnBatch: tfjs's Adamax, the adapter. */
  readonly trainMs: readonly [tfjs: number, adapter: number];
}

interface ModelSpec {
  readonly name: string;
  readonly build: () => tf.LayersModel;
  readonly batch: () => [tf.Tensor, tf.Tensor];
}

const dense = (units: number, seed: number, extra: Partial<Parameters<typeof tf.layers.dense>[0]> = {}) =>
  tf.layers.dense({ units, kernelInitializer: tf.initializers.glorotUniform({ seed }), ...extra });

const MODELS: readonly ModelSpec[] = [
  {
    // The demo's model (examples/shakespeare): one-hot characters, embedding, hidden layer, softmax.
    name: 'char MLP 12×62→12→128→62',
    build: () => tf.sequential({ layers: [dense(12, 1, { inputShape: [12, 62], useBias: false }), tf.layers.flatten(), dense(128, 2, { activation: 'relu' }), dense(62, 3, { activation: 'softmax' })] }),
    batch: () => [tf.oneHot(tf.randomUniform([64, 12], 0, 62, 'int32', 5), 62).toFloat(), tf.randomUniform([64, 1], 0, 62, 'int32', 6).toFloat()],
  },
  {
    name: 'MLP 784→512→512→10',
    build: () => tf.sequential({ layers: [dense(512, 1, { inputShape: [784], activation: 'relu' }), dense(512, 2, { activation: 'relu' }), dense(10, 3, { activation: 'softmax' })] }),
    batch: () => [tf.randomUniform([64, 784], 0, 1, 'float32', 5), tf.randomUniform([64, 1], 0, 10, 'int32', 6).toFloat()],
  },
];

/** Best ms per call of `fn` over `rounds` alternating batches of `calls`. */
async function alternate(fns: readonly (() => unknown)[], calls: number, rounds: number): Promise<number[]> {
  const best = fns.map(() => Infinity);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < fns.length; i++) {
      const t = performance.now();
      for (let k = 0; k < calls; k++) await fns[i]();
      best[i] = Math.min(best[i], (performance.now() - t) / calls);
    }
  }
  return best;
}

/** Measures every model on each backend that starts. */
export async function measureTfjsAdapter(quick: boolean): Promise<TfjsAdapterRow[]> {
  await import('@tensorflow/tfjs-backend-wasm');
  tf.env().set('PROD', true);
  const rows: TfjsAdapterRow[] = [];
  for (const backend of ['cpu', 'wasm']) {
    if (!(await tf.setBackend(backend))) continue;
    await tf.ready();
    for (const spec of quick ? MODELS.slice(0, 1) : MODELS) {
      const [x, y] = spec.batch();
      const tx = () => adamax(HYPER.learningRate, { b1: HYPER.b1, b2: HYPER.b2, eps: HYPER.eps });
      const optimizers = [tf.train.adamax(HYPER.learningRate, HYPER.b1, HYPER.b2, HYPER.eps), toTfjs(tx()), toTfjs(tx(), { path: 'ops' })];
      const models = optimizers.map((optimizer) => {
        const m = spec.build();
        m.compile({ optimizer, loss: 'sparseCategoricalCrossentropy' });
        return m;
      });
      const grads = models.map((m) => {
        const vars = m.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
        const { value, grads: g } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.zeros([64], 'int32'), m.outputs[0].shape[1] as number), m.apply(x) as tf.Tensor) as tf.Scalar, vars);
        value.dispose();
        return g;
      });
      const params = models[0].countParams();
      const calls = quick ? 3 : params > 1e5 ? 10 : 30;
      const rounds = quick ? 2 : 5;
      const step = optimizers.map((o, i) => () => tf.tidy(() => (o as tf.Optimizer).applyGradients(grads[i])));
      step.forEach((s) => s()); // first step: the adapter compiles its engine here
      const optimizerMs = await alternate(step, calls, rounds);
      const train = models.slice(0, 2).map((m) => () => m.trainOnBatch(x, y));
      const trainMs = await alternate(train, Math.max(2, Math.round(calls / 3)), rounds);
      rows.push({ backend, model: spec.name, params, optimizerMs: [optimizerMs[0], optimizerMs[1], optimizerMs[2]], trainMs: [trainMs[0], trainMs[1]] });
      grads.forEach((g) => tf.dispose(Object.values(g)));
      optimizers.forEach((o) => o.dispose());
      models.forEach((m) => m.dispose());
      tf.dispose([x, y]);
    }
  }
  return rows;
}

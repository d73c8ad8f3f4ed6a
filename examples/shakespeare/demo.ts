import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { adamaxw, chain, clipByGlobalNorm, warmupCosineDecaySchedule } from '../../src/index.js';
import { type OptaxTfjsOptimizer, toTfjs } from '../../src/tfjs/index.js';
import { checkpointLoader, checkpointSaver } from './checkpoint.js';
import { batchStarts, loadText, random, windows } from './data.js';
import { charModel } from './model.js';
import { type CurvePoint, curvesSvg } from './plot.js';

/** What the demo trains and how long. */
export interface DemoOptions {
  readonly steps: number;
  /** The step at which a checkpoint is saved and training resumes from it (none: straight through). */
  readonly checkpointAt?: number;
  readonly batchSize?: number;
  readonly context?: number;
  readonly hidden?: number;
  readonly peakLearningRate?: number;
  /** Evaluate on the held-out text every this many steps. */
  readonly evalEvery?: number;
  /** Where the checkpoint goes. */
  readonly checkpointDir: string;
  /** Where the SVG of the curves goes (none: not drawn). */
  readonly svgPath?: string;
  readonly backend?: 'cpu' | 'wasm';
  /** How many characters of sample text to generate at the end (default 200). */
  readonly sampleLength?: number;
  /** Called after each step. */
  readonly onStep?: (step: number, loss: number, learningRate: number) => void;
}

/** Loss (nats per character) and accuracy of next-character prediction. */
export interface Metrics {
  readonly loss: number;
  readonly accuracy: number;
}

export interface DemoResult {
  readonly train: Metrics;
  readonly heldOut: Metrics;
  readonly points: readonly CurvePoint[];
  readonly sample: string;
  readonly weights: Float32Array[];
  readonly backend: string;
}

export const TEXT = join(import.meta.dirname, 'tinyshakespeare.txt');

/**
 * Trains a character-level model of Shakespeare with TensorFlow.js and
 * `toTfjs(chain(clipByGlobalNorm(1), adamaxw(warmupCosineDecaySchedule(...))))`, saving a checkpoint
 * midway (model and optimizer, tfjs's own format) and resuming from it.
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const { steps, batchSize = 64, context = 12, hidden = 128, peakLearningRate = 0.01, evalEvery = 50, backend = 'wasm' } = o;
  await tf.setBackend(backend);
  const data = loadText(TEXT);
  const schedule = warmupCosineDecaySchedule({ initValue: 0, peakValue: peakLearningRate, warmupSteps: Math.max(1, Math.round(steps * 0.05)), decaySteps: steps, endValue: peakLearningRate / 100 });
  const tx = chain(clipByGlobalNorm(1), adamaxw(schedule, { weightDecay: 1e-4 }));
  let model: tf.LayersModel = charModel({ vocabSize: data.vocab.length, context, embedding: 12, hidden, seed: 42 });
  model.compile({ optimizer: toTfjs(tx), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });

  const draw = random(7);
  const evalSet = (ids: Int32Array, seed: number) => tensors(windows(ids, context, batchStarts(ids, context, 2048, random(seed))), context, data.vocab.length);
  const heldOutSet = evalSet(data.heldOut, 11);
  const trainSet = evalSet(data.train, 13);
  const points: CurvePoint[] = [];
  for (let step = 0; step < steps; step++) {
    if (step === o.checkpointAt) {
      await model.save(checkpointSaver(o.checkpointDir), { includeOptimizer: true });
      model.dispose();
      // Model, optimizer (rebuilt from its spec) and optimizer state, from the files alone.
      model = await tf.loadLayersModel(checkpointLoader(o.checkpointDir));
    }
    const learningRate = (model.optimizer as OptaxTfjsOptimizer).learningRate!;
    const [x, y] = tensors(windows(data.train, context, batchStarts(data.train, context, batchSize, draw)), context, data.vocab.length);
    const [loss] = (await model.trainOnBatch(x, y)) as number[];
    tf.dispose([x, y]);
    points.push({ step, loss, learningRate, series: 'train' });
    if ((step + 1) % evalEvery === 0 || step === steps - 1) points.push({ step, loss: evaluate(model, heldOutSet).loss, learningRate, series: 'held-out' });
    o.onStep?.(step, loss, learningRate);
  }
  const result: DemoResult = {
    train: evaluate(model, trainSet),
    heldOut: evaluate(model, heldOutSet),
    points,
    sample: generate(model, data.vocab, data.heldOut.subarray(0, context), o.sampleLength ?? 200, random(3)),
    weights: model.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array)),
    backend: tf.getBackend(),
  };
  if (o.svgPath) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(o.svgPath, await curvesSvg(points, `Character-level Shakespeare, TensorFlow.js + optax-ts adamaxw (checkpoint at step ${o.checkpointAt ?? 'none'})`));
  }
  tf.dispose([...heldOutSet, ...trainSet]);
  model.optimizer.dispose();
  model.dispose();
  return result;
}

function tensors({ x, y }: { x: Int32Array; y: Int32Array }, context: number, vocabSize: number): [tf.Tensor, tf.Tensor] {
  return [oneHot(x, [y.length, context], vocabSize), tf.tensor2d(Float32Array.from(y), [y.length, 1])];
}

function oneHot(ids: ArrayLike<number>, shape: number[], vocabSize: number): tf.Tensor {
  const data = new Float32Array(ids.length * vocabSize);
  for (let i = 0; i < ids.length; i++) data[i * vocabSize + ids[i]] = 1;
  return tf.tensor(data, [...shape, vocabSize]);
}

function evaluate(model: tf.LayersModel, [x, y]: [tf.Tensor, tf.Tensor]): Metrics {
  const out = model.evaluate(x, y, { batchSize: 1024 }) as tf.Scalar[];
  const [loss, accuracy] = out.map((t) => t.dataSync()[0]);
  tf.dispose(out);
  return { loss, accuracy };
}

/** Continues `prompt` by sampling the model (temperature 0.8). */
function generate(model: tf.LayersModel, vocab: readonly string[], prompt: Int32Array, length: number, next: () => number): string {
  const window = Array.from(prompt);
  let text = window.map((i) => vocab[i]).join('');
  for (let i = 0; i < length; i++) {
    const p = tf.tidy(() => {
      const probs = model.predict(oneHot(window, [1, window.length], vocab.length)) as tf.Tensor;
      const scaled = tf.softmax(tf.div(tf.log(tf.add(probs, 1e-9)), 0.8));
      return scaled.dataSync() as Float32Array;
    });
    let r = next(), c = 0;
    while (c < p.length - 1 && (r -= p[c]) > 0) c++;
    window.shift();
    window.push(c);
    text += vocab[c];
  }
  return text;
}

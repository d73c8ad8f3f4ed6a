/**
 * optax-ts inside TensorFlow.js: any optax-ts transformation as a `tf.Optimizer`.
 * Needs `@tensorflow/tfjs-core` (an optional peer dependency; `@tensorflow/tfjs` includes it).
 * @packageDocumentation
 */
import type { GradientTransformation } from '../core/transformation.js';
import { OptaxTfjsOptimizer, type ToTfjsOptions } from './optimizer.js';

export { OptaxTfjsOptimizer, type ToTfjsOptions };

/**
 * Wraps an optax-ts transformation as a TensorFlow.js optimizer (a `tf.Optimizer`): it works with
 * `model.compile({ optimizer })` and `model.fit`, `optimizer.minimize(f)` and
 * `optimizer.applyGradients(...)`, on `tf.Variable`s.
 *
 * - **The step** runs on the fused engine (the same per-element rule the pure path runs, compiled to
 *   WebAssembly SIMD or JS) on tfjs's cpu and wasm backends, whose tensors live in this thread's
 *   memory: each gradient is read once, parameters and state are updated in one pass. On other
 *   backends (webgl, webgpu) it runs as tfjs ops instead, lowered from the same `ex.*` graphs with the
 *   state in tfjs variables, so nothing is read back: chains of elementwise transformations,
 *   clipByGlobalNorm, masked and partition (static per variable: on either path a mask or labels
 *   function is called when the step is set up for a set of variables, as `jax.jit` calls it when
 *   it traces, not at every step), injectHyperparams (its
 *   hyperparameters fed as per-step scalars), applyIfFinite (finiteness reduced on the device, its
 *   counters and the counts inside it kept there, updates and state selected with `tf.where`) and
 *   multiSteps (accumulator in variables; skipNotFinite and skipLargeUpdates as device reductions).
 *   The engine takes what the ops path cannot run (a transformation of your own, a skip function of
 *   your own, where counts live on the device a schedule that never settles): there gradients are
 *   read back and parameters uploaded at every step. (Measured by
 *   `npm run bench`: the ops path costs about what `tf.train.adamax` costs, the engine 6 to 140 times
 *   less on cpu and wasm; option `path`.) Either way a step is bit-identical to optax-ts's pure path
 *   (`tx.update` then `applyUpdates`) on the cpu backend, so training resumes bit-identically from a
 *   save. The traced inner step of applyIfFinite and multiSteps has fused multiply-adds, which tfjs
 *   lacks: each is computed exactly from float32 ops (about 230 of them per fma). On webgl and webgpu
 *   (SwiftShader, tested in headless Chromium) the ops path measured bit-identical too, combinators
 *   included, except that the global norm is the GPU's reduction (another summation order: the
 *   moments then differ by tens of ulps of their largest value). On webgpu the engine path reads
 *   gradients with `dataSync()`, which tfjs-webgpu does through an OffscreenCanvas (slow; in headless
 *   Chromium on SwiftShader it loses the device), so there prefer transformations the ops path runs.
 * - **State by variable name**, not position: the params are `{[variable.name]: value}`. A variable
 *   without a gradient in a step (a layer made non-trainable) is left alone, and its moments are kept
 *   for when it trains again; shared counts (the step count) go on.
 * - **Saving**: `getConfig()` holds the transformation as data ({@link toSpec}), the class is
 *   registered with `tf.serialization.registerClass`, and `getWeights()`/`setWeights()` carry the
 *   iteration count and every state leaf (named by its path), exactly. So `model.save(handler,
 *   { includeOptimizer: true })` then `tf.loadLayersModel(handler)` restores model and optimizer with
 *   no user code; the transformation must be built from optax-ts's parts (toSpec says what cannot be).
 * - **Learning rate and hyperparameters**: `optimizer.learningRate` reads the rate the next step uses
 *   and sets it (an injected hyperparameter in the state, or the argument of adamax / adamaxw /
 *   scaleByLearningRate); `optimizer.hyperparams` and `optimizer.setHyperparams({...})` read and set
 *   every hyperparameter of an `injectHyperparams` transformation between steps.
 * - **Memory**: every temporary tensor is disposed; the tensors `getWeights()` returns are the
 *   optimizer's, valid until its next `getWeights()`, `setWeights()` or `dispose()`.
 *
 * @param tx - any optax-ts transformation (e.g. `chain(clipByGlobalNorm(1), adamaxw(schedule))`).
 * @param options - `path` (`'auto'`, `'engine'`, `'ops'`), and `threads`, `backend`: how the fused
 *   engine runs (see `compile`). See {@link ToTfjsOptions}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { adamax } from 'optax-ts';
 * import { toTfjs } from 'optax-ts/tfjs';
 * await tf.setBackend('cpu');
 * const x = tf.variable(tf.tensor1d([1, 2, 3]), true, 'x');
 * const optimizer = toTfjs(adamax(0.1));
 * for (let i = 0; i < 50; i++) optimizer.minimize(() => tf.sum(tf.square(x)));
 * console.log(tf.sum(tf.square(x)).dataSync()[0].toFixed(4), optimizer.iterations, optimizer.learningRate); // 0.0571 50 0.1
 * ```
 */
export function toTfjs(tx: GradientTransformation<any>, options: ToTfjsOptions = {}): OptaxTfjsOptimizer {
  return new OptaxTfjsOptimizer(tx, options);
}

/**
 * Runs in headless Chromium (bundled by test/browser/gpu.test.ts): the adapters on the GPU backends,
 * tfjs's webgl and webgpu and jax-js's webgl and webgpu devices, each compared with the pure path.
 * The test calls `window.optaxGpu.tfjs(backend)` and `window.optaxGpu.jaxjs(device)` and gets back a
 * report: whether the backend came up (and why not), the largest difference in float32 ulps of every
 * parameter and state leaf, the tensor counts, and whether a save and restore resumed training exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import * as tfl from '@tensorflow/tfjs-layers';
import * as jax from '@jax-js/jax';
import {
  ShapedArray, adamax, adamaxw, applyIfFinite, applyUpdates as pureApply, chain, clipByGlobalNorm, masked, multiSteps, partition, scale, skipNotFinite, warmupCosineDecaySchedule,
  type GradientTransformation,
} from '../../src/index.js';
import { OptaxTfjsOptimizer, toTfjs } from '../../src/tfjs/index.js';
import { type StateStore, storeState } from '../../src/tfjs/state-store.js';
import { applyUpdates, toJaxJs, type JaxArray } from '../../src/jax-js/index.js';

/** The transformations the reports run (the demo's: clipping, then adamaxw on a warmup-cosine schedule). */
const schedule = () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 20, endValue: 0.001 });
export const TRANSFORMATIONS: Record<string, () => GradientTransformation<any>> = {
  'chain(clipByGlobalNorm(1), adamaxw(warmupCosine))': () => chain(clipByGlobalNorm(1), adamaxw(schedule(), { weightDecay: 0.01 })),
  'adamaxw(warmupCosine)': () => adamaxw(schedule(), { weightDecay: 0.01 }),
  'adamax(warmupCosine)': () => adamax(schedule()),
};

/**
 * Combinators the tfjs adapter lowers to ops (the jax-js adapter does not run them): each must run on
 * the ops path on a GPU backend, never through the engine nor a synchronous read. Their gradients
 * hold a NaN at step 4 (see gradsAt): applyIfFinite skips it, multiSteps' accumulation carries it.
 */
export const TFJS_COMBINATORS: Record<string, () => GradientTransformation<any>> = {
  'masked(adamax(warmupCosine), w)': () => masked(adamax(schedule()), { b: false, w: true }),
  'applyIfFinite(adamaxw(warmupCosine))': () => applyIfFinite(adamaxw(schedule(), { weightDecay: 0.01 }), { maxConsecutiveErrors: 1 }),
  'multiSteps(adamax(0.01), 3)': () => multiSteps(adamax(0.01), { everyKSchedule: 3 }),
  'multiSteps(adamax(warmupCosine), 2, skipNotFinite)': () => multiSteps(adamax(schedule()), { everyKSchedule: 2, shouldSkipUpdateFn: skipNotFinite }),
  'partition(adamax, applyIfFinite(chain(clipByGlobalNorm(1), adamax)))': () => partition({ a: adamax(0.02), b: applyIfFinite(chain(clipByGlobalNorm(1), adamax(schedule())), { maxConsecutiveErrors: 0 }) }, { b: 'b', w: 'a' }),
};
const ALL_TRANSFORMATIONS = { ...TRANSFORMATIONS, ...TFJS_COMBINATORS };

/**
 * Combinators through toJaxJs, on the small leaf `b` only (each jitted step of a traced inner
 * optimizer is dozens of shaders, and SwiftShader compiles them slowly), on WebGPU and WebGL (there
 * with the kernels of their exact fused multiply-adds cut down to what its shader compiler takes:
 * src/jax-js/webgl-kernels.ts), with the NaN at step 4:
 * applyIfFinite skips that step (its finiteness reduced on the device), multiSteps carries the NaN in
 * its accumulator into adamax's `nu = max(|g| + eps, b2 * nu)`, where GLSL's and WGSL's `max` would
 * drop it (src/jax-js/nan-min-max.ts).
 */
export const JAX_COMBINATORS: Record<string, () => GradientTransformation<any>> = {
  'applyIfFinite(adamax(0.01)) [b]': () => applyIfFinite(adamax(0.01), { maxConsecutiveErrors: 2 }),
  'multiSteps(adamax(0.01), 2) [b]': () => multiSteps(adamax(0.01), { everyKSchedule: 2 }),
};
/**
 * The NaN cases every jax-js GPU device runs, WebGL included (leaf b, the NaN at step 4): adamax's
 * `nu = max(|g| + eps, b2 * nu)` must carry the NaN where GLSL's `max` drops it (nan-min-max.ts), and
 * applyIfFinite must reduce the finiteness on the device, skip that step and count it. Its inner step
 * has no multiply-add (a traced adamax's fused multiply-adds are the combinators' above).
 */
export const JAX_NAN_CASES: Record<string, () => GradientTransformation<any>> = {
  'adamax(0.01), NaN gradient [b]': () => adamax(0.01),
  'applyIfFinite(scale(-0.5)) [b]': () => applyIfFinite(scale(-0.5), { maxConsecutiveErrors: 2 }),
};
/** The leaves a jax-js case runs on. */
const jaxLeaves = (txName: string): string[] => (txName in JAX_COMBINATORS || txName in JAX_NAN_CASES ? ['b'] : Object.keys(SHAPES));
const pick = (tree: Tree, keys: readonly string[]): Tree => Object.fromEntries(keys.map((k) => [k, tree[k]]));

const STEPS = 10;
/** Two leaves: one large (many values, so rare ulp outliers show), one of odd size. */
const SHAPES: Record<string, number[]> = { b: [7], w: [64, 64] };
type Tree = Record<string, Float32Array>;
const SIZES = { steps: STEPS, elements: Object.values(SHAPES).reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0) };

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const initialParams = (): Tree => Object.fromEntries(Object.entries(SHAPES).map(([k, s], j) => [k, Float32Array.from({ length: size(s) }, (_, i) => Math.cos(i * 0.7 + j) * (1 + (i % 5)))]));
/**
 * The gradient of step k: values over seven binades (1e-3 to 1e3, and exact zeros), so divisions and
 * maxima meet many exponents; every third step is scaled by 1e-5, so its global norm is below 1 and
 * clipping leaves it alone, while the others are clipped.
 */
const gradsAt = (k: number, withNaN = false): Tree => Object.fromEntries(Object.entries(SHAPES).map(([key, s], j) => [key, Float32Array.from({ length: size(s) }, (_, i) => (withNaN && k === 4 && i === 3 ? NaN : i % 13 === 0 ? 0 : Math.sin(i * 0.37 + k * 1.3 + j) * 10 ** ((i % 7) - 3) * (k % 3 === 2 ? 1e-5 : 1)))]));
/** The combinators' gradients: with a NaN at step 4 (in leaf b, for multiSteps in w's accumulation too: only b's). */
const withNaN = (txName: string): boolean => txName in TFJS_COMBINATORS || txName in JAX_COMBINATORS || txName in JAX_NAN_CASES;

/**
 * The pure path: `steps` steps of `tx.update` then `applyUpdates`; the params and the state by path.
 * The leaves carry their shapes, as the variables do (a global norm's order depends on them).
 */
function pureRun(tx: GradientTransformation<any>, steps: number, nan = false, keys: readonly string[] = Object.keys(SHAPES)): { params: Tree; state: StateStore } {
  const shaped = (tree: Tree) => Object.fromEntries(keys.map((k) => [k, new ShapedArray(tree[k], SHAPES[k])]));
  const flat = (x: unknown): unknown => (x instanceof ShapedArray ? x.data : Array.isArray(x) ? x.map(flat) : x !== null && typeof x === 'object' && !ArrayBuffer.isView(x) ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, flat(v)])) : x);
  let params = shaped(initialParams());
  let state = tx.init(params);
  for (let k = 0; k < steps; k++) {
    const [u, s] = tx.update(shaped(gradsAt(k, nan)), state, params);
    params = pureApply(params, u) as typeof params;
    state = s;
  }
  const store: StateStore = new Map();
  storeState(flat(state), store);
  return { params: flat(params) as Tree, state: store };
}

/** See {@link CaseReport.muAmplification}; b1 is adamax's default, 0.9. */
function muAmplification(state: StateStore): Record<string, number> {
  const clip = clipByGlobalNorm(1);
  const maxG: Record<string, number> = {};
  for (let k = 0; k < STEPS; k++) {
    const [g] = clip.update(gradsAt(k), {});
    for (const [name, v] of Object.entries(g as Tree)) maxG[name] = Math.max(maxG[name] ?? 0, ...Array.from(v, Math.abs));
  }
  const out: Record<string, number> = {};
  for (const [key, leaf] of state) {
    const path = JSON.parse(key) as (string | number)[];
    if (path.at(-2) !== 'mu' || !(leaf instanceof Float32Array)) continue;
    out[key.replace(/"/g, "'")] = (maxG[path.at(-1) as string] * (1 - 0.9 ** STEPS)) / Math.max(...Array.from(leaf, Math.abs));
  }
  return out;
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);
/** A float32 value's position on the number line (adjacent floats differ by 1; -0 and +0 are both 0). */
function ordinal(x: number): number {
  f32[0] = x;
  return i32[0] < 0 ? -2147483648 - i32[0] : i32[0];
}
/** The largest distance in float32 ulps between two arrays (NaN against NaN is 0, against a number Infinity). */
function maxUlps(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Number.isNaN(a[i]) || Number.isNaN(b[i]) ? (Number.isNaN(a[i]) && Number.isNaN(b[i]) ? 0 : Infinity) : Math.abs(ordinal(a[i]) - ordinal(b[i]));
    if (d > worst) worst = d;
  }
  return worst;
}
const identical = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && new Uint8Array(Float32Array.from(a).buffer).every((x, i) => x === new Uint8Array(Float32Array.from(b).buffer)[i]);

export interface CaseReport {
  readonly tx: string;
  /** What ran the step (tfjs: 'engine' or 'ops'; jax-js: 'jit'). */
  readonly path: string;
  /** Largest difference from the pure path in float32 ulps, elementwise, by leaf: `params/<name>` and state paths. */
  readonly ulps: Record<string, number>;
  /** The same in ulps of each leaf's largest magnitude (normwise). */
  readonly scaledUlps: Record<string, number>;
  /** Params after a save midway and a restore into a new optimizer equal those of the uninterrupted run, bit for bit. */
  readonly resumedIdentical: boolean;
  /**
   * For each first-moment (`mu`) leaf: max over steps of the largest clipped gradient, times
   * (1 - b1^steps), over the largest |mu| (pure path): how much a relative error in the gradients
   * can grow in mu's normwise error (mu is a b1-weighted average of them; see gpu.test.ts).
   */
  readonly muAmplification: Record<string, number>;
  /** jax-js: the step counts in the state after the uninterrupted run (an int32 array counted in the graph). */
  readonly count?: readonly number[];
  /** jax-js: the state's scalar leaves (counts, flags) that differ from the pure path's, as `path: got vs expected`. */
  readonly scalarMismatches?: readonly string[];
  /** jax-js: how long the case took (its three runs: whole, and halves with a save and restore). */
  readonly ms?: number;
  /** jax-js: the uninterrupted run's first jitted step (tracing and compiling it, to the device's finish), and the median of the others, in ms. */
  readonly firstStepMs?: number;
  readonly stepMs?: number;
  /** jax-js on WebGL, the combinators (their jitted steps cut): params and state bit-identical to the same steps run eagerly. */
  readonly eagerIdentical?: boolean;
  /** jax-js: how many of the arrays handed to the jitted steps were still alive after them (their refCount). */
  readonly unconsumed?: number;
  /** tfjs: how many synchronous reads (`dataSync`, `arraySync`) the steps made (a GPU->CPU round trip each). */
  readonly dataSyncs?: number;
  /** tfjs: `tf.memory().numTensors` after the first step, the last step, and 5 more saves (getWeights) and restores. */
  readonly numTensors?: readonly number[];
}
export interface BackendReport {
  readonly backend: string;
  readonly available: boolean;
  /** Why the backend is not available (what was tried, what it said). */
  readonly reason?: string;
  /** What runs it: the WebGL renderer or the WebGPU adapter. */
  readonly device?: string;
  readonly cases: CaseReport[];
  readonly ms: number;
  /** tfjs: a linear model trained on the backend (see tfjsTrain). */
  readonly trained?: TrainReport;
  /** Steps per run, and the number of elements of the params (what the global norm sums). */
  readonly steps: number;
  readonly elements: number;
}

/** What WebGL and WebGPU adapters Chromium gives this page (before any library touches them). */
async function deviceInfo(): Promise<{ webgl: string; webgpu: string }> {
  let webgl = 'no WebGL2 context';
  const gl = document.createElement('canvas').getContext('webgl2');
  if (gl) {
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    webgl = String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
    if (!gl.getExtension('EXT_color_buffer_float')) webgl += ' (no EXT_color_buffer_float: no float32 render targets)';
    gl.getExtension('WEBGL_lose_context')?.loseContext();
  }
  let webgpu: string;
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<any> } }).gpu;
  if (!gpu) webgpu = `no navigator.gpu (isSecureContext=${String(isSecureContext)}; Chromium needs --enable-unsafe-webgpu on Linux)`;
  else {
    const adapter = await gpu.requestAdapter().catch((e: unknown) => { throw new Error(`navigator.gpu.requestAdapter() threw: ${String(e)}`); });
    webgpu = adapter ? `adapter ${adapter.info?.vendor ?? '?'} / ${adapter.info?.architecture ?? '?'}` : 'navigator.gpu.requestAdapter() returned null (no WebGPU adapter: try --use-webgpu-adapter=swiftshader)';
  }
  return { webgl, webgpu };
}

/**
 * Variables read back asynchronously: tfjs-webgpu's synchronous read (dataSync) goes through an
 * OffscreenCanvas, which in headless Chromium on SwiftShader loses the WebGPU device.
 */
async function readVariables(variables: Record<string, tf.Variable>): Promise<Tree> {
  return Object.fromEntries(await Promise.all(Object.entries(variables).map(async ([k, v]) => [k, (await v.data()) as Float32Array])));
}

/** The optimizer's params (by variable name) and state (by path), read back. */
async function tfjsSnapshot(opt: OptaxTfjsOptimizer, variables: Record<string, tf.Variable>): Promise<{ params: Tree; state: Map<string, Float32Array> }> {
  const params = await readVariables(variables);
  const state = new Map<string, Float32Array>();
  for (const w of await opt.getWeights()) if (w.name.endsWith('#f32')) state.set(w.name.slice(0, -4), (await w.tensor.data()) as Float32Array);
  return { params, state };
}

/** The spacing of float32 values at x (2^-149 below the normal range). */
function ulpOf(x: number): number {
  const e = Math.floor(Math.log2(Math.abs(x)));
  return 2 ** Math.max(e - 23, -149);
}

/**
 * The largest difference, leaf by leaf, in ulps of the leaf's largest magnitude (a normwise error):
 * unlike elementwise ulps, it does not grow without bound where a value near zero came out of a
 * cancellation (a parameter crossing zero, a moment of gradients of both signs).
 */
function maxScaledUlps(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0, worst = 0;
  // The scale of the leaf's numbers (a NaN the pure path has is matched elementwise, not a scale).
  for (let i = 0; i < b.length; i++) if (!Number.isNaN(b[i])) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Object.is(a[i], b[i]) ? 0 : Math.abs(a[i] - b[i]));
  return Number.isNaN(worst) ? Infinity : worst === 0 ? 0 : worst / ulpOf(scale || Number.MIN_VALUE);
}

/** Elementwise and normwise ulps of every float32 leaf (params and state) from the pure path's. */
function ulpsAgainst(pure: { params: Tree; state: StateStore }, got: { params: Tree; state: Map<string, ArrayLike<number>> }): { ulps: Record<string, number>; scaledUlps: Record<string, number> } {
  const ulps: Record<string, number> = {}, scaledUlps: Record<string, number> = {};
  const leaves: [string, ArrayLike<number>, ArrayLike<number> | undefined][] = Object.keys(pure.params).map((k) => [`params/${k}`, pure.params[k], got.params[k]]);
  for (const [key, leaf] of pure.state) if (leaf instanceof Float32Array) leaves.push([key.replace(/"/g, "'"), leaf, got.state.get(key)]);
  for (const [key, want, have] of leaves) {
    ulps[key] = have ? maxUlps(have, want) : Infinity;
    scaledUlps[key] = have && have.length === want.length ? maxScaledUlps(have, want) : Infinity;
  }
  return { ulps, scaledUlps };
}

export interface TrainReport {
  readonly path: string;
  /** The loss before each of the steps 0, 10, 20, ..., and after the last. */
  readonly losses: number[];
  /** `tf.memory().numTensors` after the first and after the last step. */
  readonly numTensors: number[];
  /**
   * A layers model fitted 4 epochs, against one fitted 2, saved by `model.save(handler,
   * { includeOptimizer: true })`, loaded by `tf.loadLayersModel` (model and optimizer rebuilt) and
   * fitted 2 more: the weights of both, bit for bit.
   */
  readonly modelResumedIdentical: boolean;
  /** The path the loaded model's optimizer took. */
  readonly modelPath: string;
}

/**
 * Training as users train: a linear regression (256 samples, 16 features) by `optimizer.minimize`,
 * so the gradients are computed on the backend (no copy on the host, unlike the runs above), with
 * the demo's chain, 60 steps.
 */
async function tfjsTrain(): Promise<TrainReport> {
  const xs = tf.tensor2d(Float32Array.from({ length: 256 * 16 }, (_, i) => Math.sin(i * 0.13 + (i % 7))), [256, 16]);
  const ys = tf.tidy(() => tf.add(tf.matMul(xs, tf.tensor2d(Float32Array.from({ length: 16 }, (_, i) => Math.cos(i)), [16, 1])), 0.5));
  const variable = (shape: number[], name: string) => { const zeros = tf.zeros(shape); const v = tf.variable(zeros, true, name); zeros.dispose(); return v; };
  const w = variable([16, 1], 'train/w'), b = variable([1], 'train/b');
  const schedule = warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.1, warmupSteps: 5, decaySteps: 60, endValue: 0.01 });
  const opt = toTfjs(chain(clipByGlobalNorm(1), adamaxw(schedule, { weightDecay: 1e-4 })));
  const loss = () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(xs, w), b), ys))) as tf.Scalar;
  const losses: number[] = [], numTensors: number[] = [];
  for (let k = 0; k < 60; k++) {
    const l = opt.minimize(loss, true)!;
    if (k % 10 === 0) losses.push((await l.data())[0]);
    l.dispose();
    if (k === 0 || k === 59) numTensors.push(tf.memory().numTensors);
  }
  const last = loss();
  losses.push((await last.data())[0]);
  last.dispose();
  const path = (opt as unknown as { current?: { ops?: unknown } }).current?.ops ? 'ops' : 'engine';
  opt.dispose();
  tf.dispose([xs, ys, w, b]);
  return { path, losses, numTensors, ...await tfjsModelResume() };
}

/** See {@link TrainReport.modelResumedIdentical}. */
async function tfjsModelResume(): Promise<{ modelResumedIdentical: boolean; modelPath: string }> {
  const x = tf.tensor2d(Float32Array.from({ length: 64 * 8 }, (_, i) => Math.sin(i * 0.31)), [64, 8]);
  const y = tf.tidy(() => tf.sum(tf.square(x), 1, true));
  const build = () => {
    const model = tfl.sequential({ layers: [
      tfl.layers.dense({ units: 8, inputShape: [8], activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
      tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ] });
    model.compile({ optimizer: toTfjs(chain(clipByGlobalNorm(1), adamaxw(schedule(), { weightDecay: 0.01 }))), loss: 'meanSquaredError' });
    return model;
  };
  const fit = (model: tfl.LayersModel, epochs: number) => model.fit(x, y, { epochs, batchSize: 16, shuffle: false, verbose: 0 });
  const weights = (model: tfl.LayersModel) => Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array));
  const whole = build();
  await fit(whole, 4);
  const first = build();
  await fit(first, 2);
  let artifacts: tf.io.ModelArtifacts | undefined;
  await first.save(tf.io.withSaveHandler(async (a) => { artifacts = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }), { includeOptimizer: true });
  const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
  await fit(loaded, 2);
  const [a, b] = [await weights(whole), await weights(loaded)];
  const modelPath = (loaded.optimizer as unknown as { current?: { ops?: unknown } }).current?.ops ? 'ops' : 'engine';
  const modelResumedIdentical = a.length === b.length && a.every((w, i) => identical(w, b[i]));
  for (const m of [whole, first, loaded]) { m.optimizer.dispose(); m.dispose(); }
  tf.dispose([x, y]);
  return { modelResumedIdentical, modelPath };
}

/** A weight as getWeights gave it, copied to the host (a save). */
interface SavedWeight { readonly name: string; readonly values: Float32Array | Int32Array; readonly shape: number[]; readonly dtype: 'float32' | 'int32' }

/**
 * tfjs on `backend`: each transformation through toTfjs with the path `auto` chooses there (tfjs ops
 * for a chain of elementwise transformations, the fused engine otherwise), against the pure path.
 */
async function tfjsReport(backend: string): Promise<BackendReport> {
  const t0 = performance.now();
  const info = await deviceInfo().catch((e) => ({ webgl: String(e), webgpu: String(e) }));
  const device = backend === 'webgl' ? info.webgl : info.webgpu;
  let ok: unknown;
  try {
    ok = await tf.setBackend(backend);
  } catch (e) {
    ok = e;
  }
  if (ok !== true || tf.getBackend() !== backend) {
    return { backend: `tfjs-${backend}`, available: false, reason: `tf.setBackend('${backend}') gave ${ok instanceof Error ? `an error: ${ok.message}` : String(ok)}; ${device}`, cases: [], ms: performance.now() - t0, ...SIZES };
  }
  const cases: CaseReport[] = [];
  // The path `auto` takes on this backend for each transformation, and the demo's chain through the engine too.
  const runs = [...Object.keys(TRANSFORMATIONS).map((tx) => [tx, 'auto'] as const), [Object.keys(TRANSFORMATIONS)[0], 'engine'] as const, ...Object.keys(TFJS_COMBINATORS).map((tx) => [tx, 'auto'] as const)];
  // Counts the synchronous reads a step makes (the engine path's, on a GPU backend).
  let dataSyncs = 0;
  const proto = tf.Tensor.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ['dataSync', 'arraySync']) {
    const original = proto[name];
    proto[name] = function (this: unknown, ...args: unknown[]) { dataSyncs++; return original.apply(this, args); };
  }
  for (const [txName, option] of runs) {
    const make = ALL_TRANSFORMATIONS[txName];
    const nan = withNaN(txName);
    const pure = pureRun(make(), STEPS, nan);
    // Named as the pure path's params are, so that the optimizer's state paths are the pure state's.
    const makeVariables = (params: Tree) => Object.fromEntries(Object.entries(SHAPES).map(([k, s]) => {
      const initial = tf.tensor(params[k], s, 'float32');
      const v = tf.variable(initial, true, k);
      initial.dispose();
      return [k, v];
    }));
    const step = (opt: OptaxTfjsOptimizer, k: number) => {
      const grads = Object.fromEntries(Object.entries(gradsAt(k, nan)).map(([key, g]) => [key, tf.tensor(g, SHAPES[key], 'float32')]));
      opt.applyGradients(grads);
      tf.dispose(Object.values(grads));
    };

    // The uninterrupted run, then 5 saves and restores (each followed by a step) on the same optimizer.
    let variables = makeVariables(initialParams());
    let opt = toTfjs(make(), { path: option });
    const numTensors: number[] = [];
    const syncsBefore = dataSyncs;
    for (let k = 0; k < STEPS; k++) {
      step(opt, k);
      if (k === 0 || k === STEPS - 1) numTensors.push(tf.memory().numTensors);
    }
    const stepSyncs = dataSyncs - syncsBefore;
    const path = (opt as unknown as { current?: { ops?: unknown } }).current?.ops ? 'ops' : 'engine';
    const got = await tfjsSnapshot(opt, variables);
    numTensors.push(tf.memory().numTensors);
    for (let i = 0; i < 5; i++) {
      const copies = (await opt.getWeights()).map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
      await opt.setWeights(copies);
      tf.dispose(copies.map((c) => c.tensor));
      step(opt, STEPS + i);
    }
    await opt.getWeights();
    numTensors.push(tf.memory().numTensors);
    opt.dispose();
    tf.dispose(Object.values(variables));

    // Saved after half the steps (to the host), restored into an optimizer rebuilt from its config alone.
    const half = STEPS >> 1;
    variables = makeVariables(initialParams());
    opt = toTfjs(make(), { path: option });
    for (let k = 0; k < half; k++) step(opt, k);
    const saved: SavedWeight[] = await Promise.all((await opt.getWeights()).map(async (w) => ({ name: w.name, values: (await w.tensor.data()) as Float32Array | Int32Array, shape: w.tensor.shape, dtype: w.tensor.dtype as SavedWeight['dtype'] })));
    const savedParams = await readVariables(variables);
    const config = opt.getConfig();
    opt.dispose();
    tf.dispose(Object.values(variables));
    variables = makeVariables(savedParams);
    // As tf.loadLayersModel rebuilds it: from its config alone (which keeps no options: the path is auto's).
    opt = option === 'auto' ? OptaxTfjsOptimizer.fromConfig(OptaxTfjsOptimizer, config) as OptaxTfjsOptimizer : toTfjs(make(), { path: option });
    const loaded = saved.map((w) => ({ name: w.name, tensor: tf.tensor(w.values, w.shape, w.dtype) }));
    await opt.setWeights(loaded);
    tf.dispose(loaded.map((w) => w.tensor));
    for (let k = half; k < STEPS; k++) step(opt, k);
    const resumedParams = await readVariables(variables);
    const resumedIdentical = Object.keys(SHAPES).every((k) => identical(resumedParams[k], got.params[k]));
    opt.dispose();
    tf.dispose(Object.values(variables));

    cases.push({ tx: txName, path, ...ulpsAgainst(pure, got), muAmplification: muAmplification(pure.state), resumedIdentical, numTensors, dataSyncs: stepSyncs });
  }
  const webglDetails = backend === 'webgl' ? `, WEBGL_VERSION ${tf.env().getNumber('WEBGL_VERSION')}, float32 render targets ${String(tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED'))}` : '';
  const trained = await tfjsTrain();
  return { backend: `tfjs-${backend}`, available: true, device: device + webglDetails, cases, trained, ms: performance.now() - t0, ...SIZES };
}

const toJax = (tree: Tree): Record<string, JaxArray> => Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, jax.numpy.array(v.slice()).reshape(SHAPES[k])]));

type JaxHostLeaf = Float32Array | Int32Array | Uint8Array;
/** A jax-js state read to the host by path (as storeState lays out the pure one); the arrays are kept. Booleans as a Uint8Array. */
async function jaxState(state: unknown, path: (string | number)[] = [], out = new Map<string, JaxHostLeaf>()): Promise<Map<string, JaxHostLeaf>> {
  if (state instanceof jax.numpy.Array) {
    const data = (await state.ref.data()) as ArrayLike<number>;
    out.set(JSON.stringify(path), state.dtype === 'bool' ? Uint8Array.from(data, Number) : (data as Float32Array | Int32Array));
  }
  else if (Array.isArray(state)) for (let i = 0; i < state.length; i++) await jaxState(state[i], [...path, i], out);
  else if (state && typeof state === 'object') for (const k of Object.keys(state)) await jaxState((state as Record<string, unknown>)[k], [...path, k], out);
  return out;
}

/** Rebuilds a state laid out as `like` from what jaxState read (a restore). */
function jaxRestore(like: unknown, saved: Map<string, JaxHostLeaf>, path: (string | number)[] = []): unknown {
  if (like instanceof jax.numpy.Array) {
    const v = saved.get(JSON.stringify(path))!;
    if (v instanceof Uint8Array) return jax.numpy.array(Array.from(v, Boolean), { dtype: jax.numpy.bool }).reshape(like.shape);
    return jax.numpy.array(v.slice(), { dtype: v instanceof Int32Array ? jax.numpy.int32 : jax.numpy.float32 }).reshape(like.shape);
  }
  if (Array.isArray(like)) return like.map((x, i) => jaxRestore(x, saved, [...path, i]));
  if (like && typeof like === 'object') return Object.fromEntries(Object.keys(like).map((k) => [k, jaxRestore((like as Record<string, unknown>)[k], saved, [...path, k])]));
  return like;
}

/** jax-js on `device`: each transformation through toJaxJs in a jitted step, against the pure path. */
async function jaxReport(device: 'webgl' | 'webgpu'): Promise<BackendReport> {
  const t0 = performance.now();
  const info = await deviceInfo().catch((e) => ({ webgl: String(e), webgpu: String(e) }));
  const adapter = device === 'webgl' ? info.webgl : info.webgpu;
  let ready: unknown;
  try {
    ready = await jax.init(device);
  } catch (e) {
    ready = e;
  }
  if (!Array.isArray(ready) || !ready.includes(device)) {
    return { backend: `jax-js-${device}`, available: false, reason: `jax.init('${device}') gave ${ready instanceof Error ? `an error: ${ready.message}` : JSON.stringify(ready)}; ${adapter}`, cases: [], ms: performance.now() - t0, ...SIZES };
  }
  jax.defaultDevice(device);
  const cases: CaseReport[] = [];
  // The fma combinators too: on WebGL with their kernels cut (jax-js 0.1.25's GLSL writes a shared
  // subexpression again at each use; uncut, applyIfFinite(adamax)'s traced inner step made a
  // 239,855,547-character fragment shader, which ANGLE on SwiftShader took 496 s to reject, measured).
  for (const [txName, make] of Object.entries({ ...TRANSFORMATIONS, ...JAX_NAN_CASES, ...JAX_COMBINATORS })) {
    const keys = jaxLeaves(txName), nan = withNaN(txName), caseStart = performance.now();
    const pure = pureRun(make(), STEPS, nan, keys);
    // Every array handed to the jitted step (gradients, the old params and state) must be consumed by it.
    const handed: JaxArray[] = [];
    const stepMs: number[] = [];
    const train = async (from: number, to: number, start?: { params: Tree; state: Map<string, JaxHostLeaf> }, eager = false) => {
      const opt = toJaxJs(make());
      const stepFn = (p: Record<string, JaxArray>, s: unknown, g: Record<string, JaxArray>): [Record<string, JaxArray>, unknown] => {
        const [u, ns] = opt.update(g, s, jax.tree.ref(p));
        return [applyUpdates(p, u), ns];
      };
      const step = eager ? Object.assign(stepFn, { dispose() {} }) : (jax.jit(stepFn as any) as unknown as typeof stepFn & { dispose(): void });
      let params = toJax(start?.params ?? pick(initialParams(), keys));
      let state = opt.init(jax.tree.ref(params));
      if (start) {
        const fresh = state;
        state = jaxRestore(fresh, start.state);
        jax.tree.dispose(fresh as any);
      }
      for (let k = from; k < to; k++) {
        const grads = toJax(pick(gradsAt(k, nan), keys));
        if (!eager) handed.push(...Object.values(grads), ...Object.values(params), ...jax.tree.leaves(state as any) as JaxArray[]);
        const t = performance.now();
        [params, state] = step(params, state, grads);
        await jax.blockUntilReady([params, state] as any);
        if (!start && !eager && to === STEPS) stepMs.push(performance.now() - t);
      }
      const hostParams = Object.fromEntries(await Promise.all(Object.entries(params).map(async ([k, v]) => [k, (await v.ref.data()) as Float32Array])));
      const hostState = await jaxState(state);
      jax.tree.dispose(params as any);
      jax.tree.dispose(state as any);
      step.dispose();
      opt.dispose();
      return { params: hostParams as Tree, state: hostState };
    };
    const got = await train(0, STEPS);
    const half = STEPS >> 1;
    const resumed = await train(half, STEPS, await train(0, half));
    const resumedIdentical = keys.every((k) => identical(resumed.params[k], got.params[k]));
    // On WebGL the combinators' jitted steps are cut (src/jax-js/webgl-kernels.ts): the same steps run
    // eagerly there, every jax-js operation a kernel of its own (no cut), must give the same bits.
    const eager = device === 'webgl' && txName in JAX_COMBINATORS ? await train(0, STEPS, undefined, true) : undefined;
    const eagerIdentical = eager && keys.every((k) => identical(eager.params[k], got.params[k])) && [...got.state].every(([k, v]) => eager.state.has(k) && identical(eager.state.get(k)!, v));
    const count = [...got.state].filter(([k]) => k.endsWith('"count"]')).map(([, v]) => v[0]);
    const scalarMismatches = [...pure.state].filter(([, v]) => typeof v === 'number' || typeof v === 'boolean').flatMap(([k, v]) => {
      const have = got.state.get(k)?.[0];
      return have !== undefined && Object.is(Number(have), Number(v)) ? [] : [`${k}: ${have} vs ${Number(v)}`];
    });
    const unconsumed = handed.filter((a) => a.refCount !== 0).length;
    const later = stepMs.slice(1).sort((x, y) => x - y);
    cases.push({ tx: txName, path: 'jit', ...ulpsAgainst(pure, got), muAmplification: muAmplification(pure.state), resumedIdentical, count, scalarMismatches, unconsumed, ms: performance.now() - caseStart, firstStepMs: stepMs[0], stepMs: later[later.length >> 1], ...(eager ? { eagerIdentical } : {}) });
  }
  return { backend: `jax-js-${device}`, available: true, device: adapter, cases, ms: performance.now() - t0, ...SIZES };
}

(globalThis as any).optaxGpu = { tfjs: tfjsReport, jaxjs: jaxReport };
document.body.setAttribute('data-ready', 'true');

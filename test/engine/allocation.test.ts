/**
 * A fused step allocates nothing (issue 10), checked without timing: V8's sampling heap profiler
 * records the stack of sampled allocations; after a warm-up, a window of steps must leave no sample
 * whose stack runs through optax-ts's sources. A step that allocates even 16 bytes is sampled many
 * times over a window (the sampling interval is 32 bytes on average). No allocation, no sample: the
 * passing case cannot be flaky; only V8's optimizing compiler finishing late (it runs concurrently,
 * and code not optimized yet boxes doubles) can make one window fail, so a chain gets a few windows
 * and fails only when each of them allocates (a real regression allocates in every one).
 *
 * The bench's heap section measures the same with the young generation's byte count, per combinator
 * and backend (bench/heap.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from 'node:inspector/promises';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { compile } from '../../src/engine/compile.js';
import { adamax } from '../../src/alias/adamax.js';
import { adamaxw } from '../../src/alias/adamaxw.js';
import { chain } from '../../src/transforms/chain.js';
import { ema } from '../../src/transforms/ema.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import type { Stepper } from '../../src/engine/stepper.js';
import type { Params, Tree } from '../../src/tree/tree.js';
import { multiSteps } from '../../src/transforms/multi-steps.js';
import { skipLargeUpdates, skipNotFinite } from '../../src/transforms/skip-updates.js';
import { partition } from '../../src/transforms/partition.js';
import { applyIfFinite } from '../../src/transforms/apply-if-finite.js';
import { clipByGlobalNorm } from '../../src/transforms/clip-by-global-norm.js';
import { exponentialDecay } from '../../src/schedules/exponential-decay.js';
import { joinSchedules } from '../../src/schedules/join.js';
import { linearSchedule } from '../../src/schedules/linear.js';
import { cosineDecaySchedule } from '../../src/schedules/cosine-decay.js';
import { warmupCosineDecaySchedule } from '../../src/schedules/warmup-cosine-decay.js';
import { sgdrSchedule } from '../../src/schedules/sgdr.js';
import { clip } from '../../src/transforms/clip.js';
import { masked } from '../../src/transforms/masked.js';
import { type InjectHyperparamsState, injectHyperparams, setHyperparams } from '../../src/transforms/inject-hyperparams.js';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** The stacks (innermost first) of sampled allocations that run through optax-ts's sources. */
function librarySamples(head: ProfileNode): string[] {
  const out: string[] = [];
  const walk = (node: ProfileNode, stack: ProfileNode['callFrame'][]): void => {
    const frames = [node.callFrame, ...stack];
    if (node.selfSize > 0 && frames.some((f) => f.url.includes(SRC))) {
      out.push(`${node.selfSize} bytes: ${frames.slice(0, 4).map((f) => `${f.functionName || '(anonymous)'} ${path.basename(f.url)}`).join(' <- ')}`);
    }
    for (const c of node.children) walk(c, frames);
  };
  walk(head, []);
  return out;
}

/** One leaf (the trees the bench's heap section steps), so the kernels stay monomorphic. */
const oneLeaf = (dtype: 'float32' | 'float64' = 'float32') => (): Record<string, Float32Array | Float64Array> => {
  const w = Float64Array.from({ length: 5000 }, (_, i) => Math.cos(i));
  return { w: dtype === 'float32' ? Float32Array.from(w) : w };
};
/** Four leaves, for the chains that select leaves (masks, partitions). */
const fourLeaves = (): Record<string, Float32Array> => Object.fromEntries(['a', 'b', 'c', 'd'].map((k, j) => [k, Float32Array.from({ length: 1250 }, (_, i) => Math.cos(i + 1250 * j))]));

/** 2000 small leaves in a flat dict: a mask or label dict of 2000 keys (the leaves' size does not matter here). */
const manyLeaves = (): Record<string, Float32Array> => Object.fromEntries(Array.from({ length: 2000 }, (_, j) => [`layer${j}`, Float32Array.from({ length: 4 }, (_, i) => Math.cos(i + 4 * j))]));

/**
 * A mask (labels) function as a careful user writes one for a hot loop: the same tree at every call,
 * so that it allocates nothing itself and whatever a step allocates is optax-ts's.
 */
function fixed<T>(make: (params: Tree) => T): (params: Tree) => T {
  let value: T | undefined;
  return (params) => (value ??= make(params));
}
const everyOther = <T>(a: T, b: T) => (params: Tree): Record<string, T> => Object.fromEntries(Object.keys(params as object).map((k, i) => [k, i % 2 === 0 ? a : b]));

interface Chain {
  make(): GradientTransformation<unknown>;
  params(): Record<string, Float32Array | Float64Array>;
  /** Runs before the measured windows (what the user does between steps; not measured). */
  before?(stepper: Stepper<Params, unknown>, window?: number): void;
  /** Run `before` again before each window (then warm up again: a new path of the step is first run unoptimized). */
  readonly everyWindow?: boolean;
  /**
   * The backends it is stepped on (default: all three). What a chain adds to a step in JS (mask and
   * label checks, schedules) is the same code on every backend: such chains run on one, to keep the
   * test short (each run is a process of its own).
   */
  readonly backends?: readonly Backend[];
  /** Steps before the measured windows (default {@link WARMUP}). */
  readonly warmup?: number;
}

/**
 * Steps before the measured windows, by default. V8 12+ (Node 22, 24) runs a hot function in its
 * mid tier (Maglev) for longer before TurboFan, and Maglev code still boxes some doubles: measured
 * on Node 24, 3000 steps leave 16-50 B/step of boxed doubles in powf, cosf and the count (on
 * Node 20 none), 10 000 steps none. A training loop sees that only in its first thousands of steps.
 */
const WARMUP = 12_000;

type Backend = readonly ['js' | 'wasm', number];
const BACKENDS: readonly Backend[] = [['js', 1], ['wasm', 1], ['wasm', 2]];
const JS_ONLY: readonly Backend[] = [['js', 1]];

const lr = 1e-3;
const CHAINS: Record<string, Chain> = {
  'adamax': { make: () => adamax(lr) as GradientTransformation<unknown>, params: oneLeaf() },
  'adamax float64': { make: () => adamax(lr) as GradientTransformation<unknown>, params: oneLeaf('float64') },
  'adamaxw': { make: () => adamaxw(lr, { weightDecay: 1e-4 }) as GradientTransformation<unknown>, params: oneLeaf() },
  'chain(ema, adamax)': { make: () => chain(ema(0.9), adamax(lr)) as GradientTransformation<unknown>, params: oneLeaf() },
  'multiSteps(adamax, k=4)': { make: () => multiSteps(adamax(lr), { everyKSchedule: 4 }) as GradientTransformation<unknown>, params: oneLeaf() },
  // The built-in skip functions, computed by the engine on its gradient views (their state written in place).
  'multiSteps(adamax, k=4, skipNotFinite)': { make: () => multiSteps(adamax(lr), { everyKSchedule: 4, shouldSkipUpdateFn: skipNotFinite }) as GradientTransformation<unknown>, params: oneLeaf() },
  'multiSteps(adamax, k=4, skipLargeUpdates)': { make: () => multiSteps(adamax(lr), { everyKSchedule: 4, shouldSkipUpdateFn: skipLargeUpdates(1e30) }) as GradientTransformation<unknown>, params: oneLeaf() },
  // More than 32 leaves: the leaf sums are added in XLA's windows.
  'multiSteps(adamax, k=4, skipLargeUpdates), 2000 leaves': { make: () => multiSteps(adamax(lr), { everyKSchedule: 4, shouldSkipUpdateFn: skipLargeUpdates(1e30) }) as GradientTransformation<unknown>, params: manyLeaves, backends: JS_ONLY },
  'applyIfFinite(chain(clipByGlobalNorm(1), adamax))': { make: () => applyIfFinite(chain(clipByGlobalNorm(1), adamax(lr)), { maxConsecutiveErrors: 3 }) as GradientTransformation<unknown>, params: oneLeaf() },
  'applyIfFinite(adamax)': { make: () => applyIfFinite(adamax(lr), { maxConsecutiveErrors: 3 }) as GradientTransformation<unknown>, params: oneLeaf() },
  'adamaxw(mask function)': { make: () => adamaxw(lr, { weightDecay: 1e-4, mask: fixed(everyOther(true, false)) }) as GradientTransformation<unknown>, params: fourLeaves },
  // A dict of 2000 keys is a hash table in V8: walking it lists its keys (16 KB at every step); a
  // frozen tree judged before is not walked again (selection.ts).
  'adamaxw(mask function, one frozen 2000-key tree)': { make: () => adamaxw(lr, { weightDecay: 1e-4, mask: fixed((p) => Object.freeze(everyOther(true, false)(p))) }) as GradientTransformation<unknown>, params: manyLeaves, backends: JS_ONLY },
  'partition(labels function, one frozen 2000-key tree)': { make: () => partition({ a: adamax(lr), b: adamax(lr / 10) }, fixed((p) => Object.freeze(everyOther('a', 'b')(p)))) as GradientTransformation<unknown>, params: manyLeaves, backends: JS_ONLY },
  'partition(labels function)': { make: () => partition({ a: adamax(lr), b: adamax(lr / 10) }, fixed(everyOther('a', 'b'))) as GradientTransformation<unknown>, params: fourLeaves },
  'masked(adamax, mask tree)': { make: () => masked(adamax(lr), { a: true, b: false, c: true, d: false }) as GradientTransformation<unknown>, params: fourLeaves, backends: JS_ONLY },
  'partition(labels tree)': { make: () => partition({ a: adamax(lr), b: adamax(lr / 10) }, { a: 'a', b: 'b', c: 'a', d: 'b' }) as GradientTransformation<unknown>, params: fourLeaves, backends: JS_ONLY },
  'chain(clip(1), adamax)': { make: () => chain(clip(1), adamax(lr)) as GradientTransformation<unknown>, params: oneLeaf(), backends: [['wasm', 2]] },
  'chain(clipByGlobalNorm(1), adamax)': { make: () => chain(clipByGlobalNorm(1), adamax(lr)) as GradientTransformation<unknown>, params: oneLeaf() },
  // Cosine schedules: glibc's cosf (float32) or cos (float64) at every step; a decay of 16 000 steps
  // crosses the polynomial's branches (pi/4, quadrants) during the warm-up and the measured windows.
  'adamax(cosineDecay)': { make: () => adamax(cosineDecaySchedule({ initValue: lr, decaySteps: 16_000, alpha: 0.1 })) as GradientTransformation<unknown>, params: oneLeaf(), backends: JS_ONLY },
  'adamax(cosineDecay float64)': { make: () => adamax(cosineDecaySchedule({ initValue: lr, decaySteps: 16_000, dtype: 'float64' })) as GradientTransformation<unknown>, params: oneLeaf('float64'), backends: JS_ONLY },
  'adamax(warmupCosineDecay)': { make: () => adamax(warmupCosineDecaySchedule({ initValue: 0, peakValue: lr, warmupSteps: 100, decaySteps: 16_000 })) as GradientTransformation<unknown>, params: oneLeaf(), backends: JS_ONLY },
  // Cycles shorter than a window: the measured steps cross the joins' boundaries. The code of a
  // boundary runs once a cycle, so V8 optimizes it late: measured, 3000 steps of warm-up leave about
  // 10 B/step of boxed doubles at the boundaries, 20000 none on Node 20; Node 24 still boxes 1.6 B/step
  // after 60000 steps, none after 150 000 (400 cycles: the measured steps are still inside them).
  'adamax(sgdr)': {
    make: () => adamax(sgdrSchedule({ cosineKwargs: Array.from({ length: 400 }, () => ({ initValue: 0, peakValue: lr, warmupSteps: 50, decaySteps: 450 })) })) as GradientTransformation<unknown>,
    params: oneLeaf(),
    backends: JS_ONLY,
    warmup: 150_000,
  },
  'adamax(exponentialDecay)': { make: () => adamax(exponentialDecay({ initValue: lr, transitionSteps: 100, decayRate: 0.99 })) as GradientTransformation<unknown>, params: oneLeaf() },
  // The schedules traced (inside applyIfFinite), joined, staircase: their programs branch and call.
  'applyIfFinite(chain(clip, adamaxw(join(linear, staircase exponentialDecay))))': {
    make: () => applyIfFinite(chain(clipByGlobalNorm(1), adamaxw(joinSchedules({ schedules: [linearSchedule({ initValue: 0, endValue: lr, transitionSteps: 50 }), exponentialDecay({ initValue: lr, transitionSteps: 10, decayRate: 0.9, staircase: true, endValue: lr / 100 })], boundaries: [50] }), { weightDecay: 1e-4 })), { maxConsecutiveErrors: 3 }) as GradientTransformation<unknown>,
    params: oneLeaf(),
  },
  // setHyperparams before every window, as a loop that changes the learning rate now and then: the
  // step that rebuilds the inner transformation allocates (it is not measured), the steps after it
  // must not (a closure of the rare path used to make V8 allocate a context at every step).
  'injectHyperparams(adamax), lr set between windows': {
    make: () => injectHyperparams(adamax)(lr, { b1: 0.9 }) as GradientTransformation<unknown>,
    params: oneLeaf(),
    before: (stepper, window = 0) => { stepper.state = setHyperparams(stepper.state as InjectHyperparamsState, { learningRate: (window + 2) * lr }); },
    everyWindow: true,
  },
  // A scheduled hyperparameter: each step evaluates the schedule; the stages compute their scalars
  // from it by their formulas (nothing rebuilt: it used to rebuild adamax at every step, 2-16 KB).
  'injectHyperparams(adamax)(cosineDecay)': { make: () => injectHyperparams(adamax)(cosineDecaySchedule({ initValue: lr, decaySteps: 16_000, alpha: 0.1 }), { b1: 0.9 }) as GradientTransformation<unknown>, params: oneLeaf() },
  'injectHyperparams(adamaxw)(warmupCosineDecay)': {
    make: () => injectHyperparams(adamaxw)({ learningRate: warmupCosineDecaySchedule({ initValue: 0, peakValue: lr, warmupSteps: 100, decaySteps: 16_000 }), weightDecay: 1e-4 }) as GradientTransformation<unknown>,
    params: oneLeaf(),
    backends: JS_ONLY,
  },
  // Scheduled b1/b2/eps (the bias correction 1 - b1^t from the b1 of the step), hyperparameters of
  // another dtype than the leaves, ema and clip injected: their scalars by formulas too (each used to
  // rebuild its inner transformation at every step). The schedules still change in the measured windows.
  'injectHyperparams(adamax)(b1, b2, eps scheduled)': {
    make: () => injectHyperparams(adamax)({ learningRate: lr, b1: exponentialDecay({ initValue: 0.95, transitionSteps: 1000, decayRate: 0.99, endValue: 0.5 }), b2: linearSchedule({ initValue: 0.99, endValue: 0.999, transitionSteps: 100_000 }), eps: cosineDecaySchedule({ initValue: 1e-6, decaySteps: 16_000 }) }) as GradientTransformation<unknown>,
    params: oneLeaf(),
  },
  'injectHyperparams(adamax, float64 hyperparameters)(b1 scheduled)': {
    make: () => injectHyperparams(adamax, { hyperparamDtype: 'float64' })({ learningRate: lr, b1: linearSchedule({ initValue: 0.9, endValue: 0.99, transitionSteps: 100_000 }) }) as GradientTransformation<unknown>,
    params: oneLeaf(),
    backends: JS_ONLY,
  },
  'chain(injectHyperparams(clip)(schedule), injectHyperparams(ema)(schedule), adamax)': {
    make: () => chain(injectHyperparams(clip)(linearSchedule({ initValue: 1, endValue: 0.1, transitionSteps: 100_000 })), injectHyperparams(ema)(linearSchedule({ initValue: 0.5, endValue: 0.9, transitionSteps: 100_000 })), adamax(lr)) as GradientTransformation<unknown>,
    params: oneLeaf(),
    backends: JS_ONLY,
  },
  'chain(injectHyperparams(clipByGlobalNorm)(schedule), adamax)': {
    make: () => chain(injectHyperparams(clipByGlobalNorm)(linearSchedule({ initValue: 1, endValue: 0.1, transitionSteps: 100_000 })), adamax(lr)) as GradientTransformation<unknown>,
    params: oneLeaf(),
  },
  'injectHyperparams(adamax)(cosineDecay float64)': { make: () => injectHyperparams(adamax)(cosineDecaySchedule({ initValue: lr, decaySteps: 16_000, dtype: 'float64' })) as GradientTransformation<unknown>, params: oneLeaf('float64'), backends: JS_ONLY },
  'injectHyperparams(adamax), lr set': {
    make: () => injectHyperparams(adamax)(lr, { b1: 0.9 }) as GradientTransformation<unknown>,
    params: oneLeaf(),
    before: (stepper) => { stepper.state = setHyperparams(stepper.state as InjectHyperparamsState, { learningRate: 2 * lr }); },
  },
};

/**
 * Child mode (`allocation.test.ts <chain> <backend> <threads>`): steps one optimizer alone in this
 * process, as a training loop does (in a process that has stepped other optimizers, V8's code for
 * the shared step is polymorphic and may box doubles: see the report of issue 10), and prints the
 * library's samples of the last window as JSON.
 */
/** Measured windows at most: the first that allocates nothing ends the child. */
const WINDOWS = 5;

async function child(name: string, backend: 'js' | 'wasm', threads: number): Promise<void> {
  const c = CHAINS[name];
  const stepper = compile(c.make(), c.params(), { backend, threads, minElementsPerThread: 1000 });
  if (stepper.backend !== backend) throw new Error(stepper.referenceReason ?? 'not fused');
  if (stepper.threads !== threads) throw new Error(`ran ${stepper.threads} threads, not ${threads}`);
  for (const g of Object.values(stepper.grads as Record<string, Float32Array>)) g.set(g.map((_, i) => 0.5 * Math.sin(0.37 * i) + 0.01));
  c.before?.(stepper);
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  for (let i = 0; i < (c.warmup ?? WARMUP); i++) stepper.step();
  let samples: string[] = [];
  for (let window = 0; window < WINDOWS; window++) {
    if (c.everyWindow) {
      c.before!(stepper, window);
      for (let i = 0; i < 3000; i++) stepper.step();
    }
    await session.post('HeapProfiler.startSampling', { samplingInterval: 32, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
    for (let i = 0; i < 1000; i++) stepper.step();
    const { profile } = await session.post('HeapProfiler.stopSampling') as unknown as { profile: { head: ProfileNode } };
    samples = librarySamples(profile.head);
    if (samples.length === 0) break;
    // Code not optimized yet boxes doubles: on a busy machine (CI runs test files side by side) V8's
    // concurrent compiler can be starved past the warm-up (seen in CI: 6-40 KB a window in the step's
    // own code). Give it time and let the steps pick the optimized code up before the next window;
    // a step that allocates in its optimized code still allocates in every window. The wait grows
    // window by window (CI once saw all of three 250 ms waits pass with MultiSteps' skip sums still
    // boxing: 3.7 KB a window in builtInSkip, none on a quiet machine in any window).
    await new Promise((resolve) => setTimeout(resolve, 250 * (window + 1)));
    for (let i = 0; i < 1000; i++) stepper.step();
  }
  session.disconnect();
  stepper.dispose();
  process.stdout.write(`${JSON.stringify(samples)}\n`);
}

const self = fileURLToPath(import.meta.url);
if (process.argv[2] !== undefined && path.resolve(process.argv[1] ?? '') === self) {
  await child(process.argv[2], process.argv[3] as 'js' | 'wasm', Number(process.argv[4]));
} else {
  for (const [backend, threads] of BACKENDS) {
    for (const name of Object.keys(CHAINS)) {
      if (!(CHAINS[name].backends ?? BACKENDS).some(([b, t]) => b === backend && t === threads)) continue;
      test(`a fused step of ${name} (${backend}, ${threads} thread${threads > 1 ? 's' : ''}) allocates nothing`, () => {
        const r = spawnSync(process.execPath, ['--import', 'tsx', self, name, backend, String(threads)], { cwd: path.resolve(SRC, '..'), encoding: 'utf8', timeout: 120_000 });
        assert.equal(r.status, 0, r.stderr);
        const samples = JSON.parse(r.stdout.trim().split('\n').pop()!) as string[];
        assert.deepEqual(samples, [], `every window of 1000 steps allocated in optax-ts's code, e.g.\n${samples.slice(0, 8).join('\n')}`);
      });
    }
  }
}

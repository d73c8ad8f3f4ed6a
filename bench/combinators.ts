import { adamax } from '../src/alias/adamax.js';
import { adamaxw } from '../src/alias/adamaxw.js';
import type { GradientTransformation } from '../src/core/transformation.js';
import type { Tree } from '../src/tree/tree.js';
import { applyIfFinite } from '../src/transforms/apply-if-finite.js';
import { chain } from '../src/transforms/chain.js';
import { clipByGlobalNorm } from '../src/transforms/clip-by-global-norm.js';
import { ema } from '../src/transforms/ema.js';
import { injectHyperparams } from '../src/transforms/inject-hyperparams.js';
import { multiSteps } from '../src/transforms/multi-steps.js';
import type { MaskTree } from '../src/transforms/masked.js';
import { partition } from '../src/transforms/partition.js';
import { type InjectHyperparamsState, setHyperparams } from '../src/transforms/inject-hyperparams.js';
import { exponentialDecay } from '../src/schedules/exponential-decay.js';
import { warmupCosineDecaySchedule } from '../src/schedules/warmup-cosine-decay.js';
import { cosineDecaySchedule } from '../src/schedules/cosine-decay.js';
import { linearSchedule } from '../src/schedules/linear.js';
import { clip } from '../src/transforms/clip.js';
import { skipLargeUpdates, skipNotFinite } from '../src/transforms/skip-updates.js';
import { type BenchConfig, HYPER, type Layout, paramCount } from './config.js';
import type { Dtype } from '../src/core/dtype.js';
import type { FusedStepper } from './engine.js';
import { compileStepper, fillGrads } from './impls/fused.js';
import { benchOptimizer } from './impls/reference.js';
import { interleavedBest } from './layout-cost.js';
import { makeProblem } from './problem.js';

/**
 * The combinators real training loops put around adamax, each compiled by the fused engine next to
 * plain adamax on the same tree, backend and thread count, and stepped in turn: their cost is read
 * as a ratio measured within the same seconds (this machine is shared, and absolute times drift).
 */

/** One combinator row: its id (for the heap child), its label, and the optimizer. */
export interface Combinator {
  readonly id: string;
  readonly label: string;
  make(): GradientTransformation<unknown>;
  /** compile's `masks` for this row (default: every step). */
  readonly masks?: 'once';
  /**
   * The user's code the engine calls at each step (a mask function), as the engine calls it, for a
   * stepper of this combinator: timed alone in the same rounds, so that the row says how much of
   * the combinator's time is that code's rather than the library's.
   */
  userCode?(stepper: FusedStepper): () => void;
}

const lr = HYPER.learningRate;
/** MultiSteps' k in its row (its ratio averages k steps: k - 1 accumulating, one emitting). */
const MULTI_STEPS_K = 4;
const options = { b1: HYPER.b1, b2: HYPER.b2, eps: HYPER.eps };

/**
 * A weight-decay mask function, as optax users write one to leave biases and norms undecayed: here
 * every other leaf of the (flat dict) tree is decayed, the one-leaf tree's only leaf included. optax
 * calls it at every step, and so does the engine (to check it still selects the compiled leaves).
 */
const decayMask = (params: Tree): MaskTree => Object.fromEntries(Object.keys(params as Record<string, unknown>).map((k, i) => [k, i % 2 === 0]));

/** Keeps what timed user code returns alive (so that the call is not optimized away). */
let userSink: unknown;

export const COMBINATORS: readonly Combinator[] = [
  { id: 'multisteps', label: `multiSteps(adamax, k=${MULTI_STEPS_K})`, make: () => multiSteps(adamax(lr, options), { everyKSchedule: MULTI_STEPS_K }) as GradientTransformation<unknown> },
  { id: 'inject', label: 'injectHyperparams(adamax)', make: () => injectHyperparams(adamax)(lr, options) as GradientTransformation<unknown> },
  {
    id: 'guarded-clip',
    label: 'applyIfFinite(chain(clipByGlobalNorm(1), adamax))',
    make: () => applyIfFinite(chain(clipByGlobalNorm(1), adamax(lr, options)), { maxConsecutiveErrors: 3 }) as GradientTransformation<unknown>,
  },
  {
    id: 'adamaxw-mask',
    label: 'adamaxw(mask function)',
    make: () => adamaxw(lr, { ...options, weightDecay: 1e-4, mask: decayMask }) as GradientTransformation<unknown>,
    // The engine calls it with the gradients (optax's update calls it with the updates).
    userCode: (stepper) => () => { userSink = decayMask(stepper.grads as Tree); },
  },
  {
    // The same, compiled with `masks: 'once'`: the mask function is called by compile alone, as
    // jax.jit calls it once when it traces the step.
    id: 'adamaxw-mask-once',
    label: "adamaxw(mask function), masks: 'once'",
    make: () => adamaxw(lr, { ...options, weightDecay: 1e-4, mask: decayMask }) as GradientTransformation<unknown>,
    masks: 'once',
  },
  { id: 'ema', label: 'chain(ema(0.9), adamax)', make: () => chain(ema(0.9), adamax(lr, options)) as GradientTransformation<unknown> },
];

/** A combinator of the heap section: optionally, what runs between its measured windows (the user's part, not measured). */
export interface HeapCombinator extends Combinator {
  betweenWindows?(stepper: FusedStepper, window: number): void;
  /** The parameters' dtype (default: the row's). */
  readonly dtype?: Dtype;
  /** Measured by full runs only (a quick run is a smoke test, and each row is a process of its own). */
  readonly fullRunOnly?: boolean;
}

/**
 * A mask function as a careful user writes one for a hot loop: it returns the same (precomputed)
 * mask tree at every call, frozen, so that it allocates nothing itself and what the step allocates
 * is the library's alone (the engine does not walk a deeply frozen tree it has judged before; a tree
 * that is not frozen is walked at every step, and a dict of more than 1020 keys, a hash table in
 * V8, then has its keys listed: 16 KB a step at 2000 keys). (The timed rows use {@link decayMask}, which builds a new tree each call.)
 */
function fixedMask(): (params: Tree) => MaskTree {
  return fixed((params) => Object.freeze(decayMask(params)));
}

/** `make`'s first result, returned at every call (a mask or labels function that allocates nothing itself). */
function fixed<T>(make: (params: Tree) => T): (params: Tree) => T {
  let value: T | undefined;
  return (params) => (value ??= make(params));
}

/** Partition labels as users write them: every other leaf in group `b`. */
const everyOtherLabel = (params: Tree): Record<string, string> => Object.fromEntries(Object.keys(params as Record<string, unknown>).map((k, i) => [k, i % 2 === 0 ? 'a' : 'b']));

/**
 * The heap section's combinators: the timed ones (the mask function replaced by one that allocates
 * nothing itself, so that the row measures the engine's share) and the other fused chains a training loop uses: adamaxw, a library schedule as
 * the learning rate, partition, and injectHyperparams with a hyperparameter set between windows.
 */
export const HEAP_COMBINATORS: readonly HeapCombinator[] = [
  ...COMBINATORS.map((c) => (c.id === 'adamaxw-mask'
    ? { id: c.id, label: 'adamaxw(fixed frozen mask function)', make: () => adamaxw(lr, { ...options, weightDecay: 1e-4, mask: fixedMask() }) as GradientTransformation<unknown> }
    : c)),
  { id: 'adamaxw', label: 'adamaxw', make: () => adamaxw(lr, { ...options, weightDecay: 1e-4 }) as GradientTransformation<unknown> },
  // float64 leaves: the bias correction is glibc's float64 pow at every step.
  { id: 'float64', label: 'adamax, float64 leaves', make: () => adamax(lr, options) as GradientTransformation<unknown>, dtype: 'float64' },
  {
    id: 'schedule',
    label: 'adamax(exponentialDecay)',
    make: () => adamax(exponentialDecay({ initValue: lr, transitionSteps: 100, decayRate: 0.99 }), options) as GradientTransformation<unknown>,
  },
  {
    id: 'guarded',
    label: 'applyIfFinite(adamax)',
    fullRunOnly: true,
    make: () => applyIfFinite(adamax(lr, options), { maxConsecutiveErrors: 3 }) as GradientTransformation<unknown>,
  },
  {
    // glibc's cosf at every step (a schedule's libm call: registers, no boxed double).
    id: 'cosine',
    label: 'adamax(warmupCosineDecay)',
    fullRunOnly: true,
    make: () => adamax(warmupCosineDecaySchedule({ initValue: 0, peakValue: lr, warmupSteps: 100, decaySteps: 100_000 }), options) as GradientTransformation<unknown>,
  },
  {
    id: 'partition',
    label: 'partition(adamax, adamax(lr/10)), fixed frozen labels function',
    // Like the mask function above, the labels function returns the same tree at every call: what
    // the step allocates is the library's alone (a function building a new tree allocates that tree).
    make: () => partition({ a: adamax(lr, options), b: adamax(lr / 10, options) }, fixed((params) => Object.freeze(everyOtherLabel(params)))) as GradientTransformation<unknown>,
  },
  {
    // A scheduled hyperparameter: its value changes at every step.
    id: 'inject-cosine',
    label: 'injectHyperparams(adamax)(cosineDecay)',
    fullRunOnly: true,
    make: () => injectHyperparams(adamax)(cosineDecaySchedule({ initValue: lr, decaySteps: 100_000, alpha: 0.1 }), options) as GradientTransformation<unknown>,
  },
  {
    id: 'inject-warmup',
    label: 'injectHyperparams(adamax)(warmupCosineDecay)',
    fullRunOnly: true,
    make: () => injectHyperparams(adamax)(warmupCosineDecaySchedule({ initValue: 0, peakValue: lr, warmupSteps: 100, decaySteps: 100_000 }), options) as GradientTransformation<unknown>,
  },
  {
    // Scheduled b1, b2, eps: the bias correction 1 - b1^t from the b1 of each step (glibc's powf).
    id: 'inject-b1-b2-eps',
    label: 'injectHyperparams(adamax)(b1, b2, eps scheduled)',
    fullRunOnly: true,
    make: () => injectHyperparams(adamax)({ learningRate: lr, b1: linearSchedule({ initValue: 0.8, endValue: 0.9, transitionSteps: 100_000 }), b2: linearSchedule({ initValue: 0.99, endValue: 0.999, transitionSteps: 100_000 }), eps: cosineDecaySchedule({ initValue: 1e-6, decaySteps: 100_000 }) }) as GradientTransformation<unknown>,
  },
  {
    // float64 hyperparameters of float32 leaves (hyperparamDtype), b1 scheduled.
    id: 'inject-f64-hyper',
    label: 'injectHyperparams(adamax, float64 hyperparameters)(b1 scheduled)',
    fullRunOnly: true,
    make: () => injectHyperparams(adamax, { hyperparamDtype: 'float64' })({ learningRate: lr, b1: linearSchedule({ initValue: 0.8, endValue: 0.9, transitionSteps: 100_000 }) }) as GradientTransformation<unknown>,
  },
  {
    id: 'inject-clip-ema',
    label: 'chain(injectHyperparams(clip)(linear), injectHyperparams(ema)(linear), adamax)',
    fullRunOnly: true,
    make: () => chain(injectHyperparams(clip)(linearSchedule({ initValue: 1, endValue: 0.1, transitionSteps: 100_000 })), injectHyperparams(ema)(linearSchedule({ initValue: 0.5, endValue: 0.9, transitionSteps: 100_000 })), adamax(lr, options)) as GradientTransformation<unknown>,
  },
  {
    id: 'inject-global-norm',
    label: 'chain(injectHyperparams(clipByGlobalNorm)(linear), adamax)',
    fullRunOnly: true,
    make: () => chain(injectHyperparams(clipByGlobalNorm)(linearSchedule({ initValue: 1, endValue: 0.1, transitionSteps: 100_000 })), adamax(lr, options)) as GradientTransformation<unknown>,
  },
  {
    id: 'multisteps-not-finite',
    label: `multiSteps(adamax, k=${MULTI_STEPS_K}, skipNotFinite)`,
    fullRunOnly: true,
    make: () => multiSteps(adamax(lr, options), { everyKSchedule: MULTI_STEPS_K, shouldSkipUpdateFn: skipNotFinite }) as GradientTransformation<unknown>,
  },
  {
    id: 'multisteps-large',
    label: `multiSteps(adamax, k=${MULTI_STEPS_K}, skipLargeUpdates)`,
    fullRunOnly: true,
    make: () => multiSteps(adamax(lr, options), { everyKSchedule: MULTI_STEPS_K, shouldSkipUpdateFn: skipLargeUpdates(1e30) }) as GradientTransformation<unknown>,
  },
  {
    // The same mask tree at every call, not frozen: walked at every step (a hash table past 1020 keys).
    id: 'adamaxw-mask-unfrozen',
    label: 'adamaxw(fixed mask function, not frozen)',
    fullRunOnly: true,
    make: () => adamaxw(lr, { ...options, weightDecay: 1e-4, mask: fixed(decayMask) }) as GradientTransformation<unknown>,
  },
  {
    id: 'partition-unfrozen',
    label: 'partition(adamax, adamax(lr/10)), fixed labels function, not frozen',
    fullRunOnly: true,
    make: () => partition({ a: adamax(lr, options), b: adamax(lr / 10, options) }, fixed(everyOtherLabel)) as GradientTransformation<unknown>,
  },
  {
    id: 'inject-set',
    label: 'injectHyperparams(adamax), lr set between windows',
    make: () => injectHyperparams(adamax)(lr, options) as GradientTransformation<unknown>,
    betweenWindows: (stepper, w) => {
      const s = stepper as unknown as { state: InjectHyperparamsState };
      s.state = setHyperparams(s.state, { learningRate: lr * (w + 2) });
    },
  },
];

/** The combinator with this id (the timed ones, then the heap section's). */
export function combinatorById(id: string): HeapCombinator {
  const c = COMBINATORS.find((x) => x.id === id) ?? HEAP_COMBINATORS.find((x) => x.id === id);
  if (!c) throw new Error(`unknown combinator ${id}; known: ${HEAP_COMBINATORS.map((x) => x.id).join(', ')}`);
  return c;
}

/** The heap section's combinator with this id. */
export function heapCombinatorById(id: string): HeapCombinator {
  const c = HEAP_COMBINATORS.find((x) => x.id === id);
  if (!c) throw new Error(`unknown combinator ${id}; known: ${HEAP_COMBINATORS.map((x) => x.id).join(', ')}`);
  return c;
}

/** One tree, one backend: plain adamax's ns/param and each combinator's, stepped in turn. */
export interface CombinatorResult {
  readonly layout: string;
  readonly backend: string;
  /** Threads the steppers really ran on. */
  readonly threads: number;
  readonly plain: number;
  /** ns/param of each combinator, in {@link COMBINATORS} order (undefined: it did not fuse). */
  readonly ns: readonly (number | undefined)[];
  /** Why a combinator ran on the reference path (then it is not timed). */
  readonly reasons: readonly (string | undefined)[];
  /** ns/param of each combinator's user code alone ({@link Combinator.userCode}; undefined: it has none). */
  readonly user?: readonly (number | undefined)[];
}

/**
 * Measures every combinator on the one-leaf and the many-leaf trees of `config.layoutCost`, per fused
 * backend: the steppers of one (tree, backend) are compiled side by side and stepped in turn.
 */
export async function measureCombinators(config: BenchConfig, backends: readonly { backend: 'js' | 'wasm'; threads: number }[], log: (s: string) => void = () => {}): Promise<CombinatorResult[]> {
  const out: CombinatorResult[] = [];
  for (const layout of [config.layoutCost.one, config.layoutCost.many]) {
    for (const { backend, threads } of backends) {
      out.push(await measureOne(layout, backend, threads, config.layoutCost.seconds));
      const r = out[out.length - 1];
      log(`combinators ${layout.label.padEnd(9)} ${r.backend.padEnd(8)} adamax ${r.plain.toFixed(3)}; ${COMBINATORS.map((c, k) => `${c.id} ${r.ns[k] === undefined ? 'reference' : (r.ns[k]! / r.plain).toFixed(2) + 'x'}${r.user?.[k] === undefined ? '' : ` (its user code alone ${(r.user[k]! / r.plain).toFixed(2)}x)`}`).join(', ')}`);
    }
  }
  return out;
}

async function measureOne(layout: Layout, backend: 'js' | 'wasm', threads: number, seconds: number): Promise<CombinatorResult> {
  const n = paramCount(layout);
  const steppers: FusedStepper[] = [];
  try {
    const reasons: (string | undefined)[] = [];
    for (const [tx, masks] of [[benchOptimizer(), undefined] as const, ...COMBINATORS.map((c) => [c.make(), c.masks] as const)]) {
      const problem = makeProblem(layout);
      const stepper = await compileStepper(problem, { backend, threads, ...(masks ? { masks } : {}) }, tx);
      fillGrads(stepper, problem);
      steppers.push(stepper);
      reasons.push(stepper.backend === 'reference' ? (stepper as { referenceReason?: string }).referenceReason ?? 'reference path' : undefined);
    }
    // Only fused steppers are timed (a reference step would take the whole budget).
    const timed = steppers.map((s, k) => ({ s, k })).filter(({ k }) => reasons[k] === undefined);
    // Samples of whole multiSteps cycles (k = 4): each holds the same share of emitting steps.
    // Each combinator's user code alone, timed in the same rounds.
    const users = timed.flatMap(({ s, k }) => (k > 0 && COMBINATORS[k - 1].userCode ? [{ k, run: COMBINATORS[k - 1].userCode!(s) }] : []));
    const best = interleavedBest([...timed.map(({ s }) => () => s.step()), ...users.map((u) => u.run)], seconds, MULTI_STEPS_K);
    const ns: (number | undefined)[] = steppers.map(() => undefined);
    timed.forEach(({ k }, j) => { ns[k] = (best[j] * 1e6) / n; });
    const user: (number | undefined)[] = steppers.map(() => undefined);
    users.forEach(({ k }, j) => { user[k] = (best[timed.length + j] * 1e6) / n; });
    return { layout: layout.label, backend: `${backend} ${steppers[0].threads ?? threads}t`, threads: steppers[0].threads ?? threads, plain: ns[0]!, ns: ns.slice(1), reasons: reasons.slice(1), user: user.slice(1) };
  } finally {
    for (const s of steppers) s.dispose();
  }
}

// Standalone: `tsx bench/combinators.ts [--quick]` prints the ratios (the full `npm run bench` reports them too).
if (import.meta.url === `file://${process.argv[1]}`) {
  const { parseConfig } = await import('./config.js');
  const { availableParallelism } = await import('node:os');
  const config = parseConfig(process.argv.slice(2));
  const n = Math.max(1, availableParallelism());
  await measureCombinators(config, [{ backend: 'js', threads: 1 }, { backend: 'wasm', threads: 1 }, ...(n > 1 ? [{ backend: 'wasm' as const, threads: n }] : [])], (s) => process.stdout.write(`${s}\n`));
  process.exit(0);
}

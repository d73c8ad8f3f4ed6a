/**
 * A run's configuration turned into an optax-ts optimizer, plus what the panels read back from its
 * state: the Adamax moments wherever the chain nests them, and the bias correction as optax computes it.
 */
import {
  type GradientTransformation, type ScaleByAdamaxState, type Schedule, type Stepper, adamax, adamaxw, applyUpdates, chain, clip,
  biasCorrection, clipByGlobalNorm, compile, multiSteps, roundTo,
} from '../../src/index.js';
import { SCHEDULES } from './schedules.js';
import type { BackendChoice, RunConfig } from './settings.js';

export interface BuiltOptimizer {
  readonly tx: GradientTransformation<unknown>;
  /** The learning rate at a step count of the learning-rate stage. */
  readonly lrAt: (count: number) => number;
  /** A short description, e.g. `multi_steps(chain(clip_by_global_norm(1), adamax(schedule)), k=2)`. */
  readonly describe: string;
}

/** Builds the optimizer; throws (OptaxError or Error) with the library's message when an option is invalid. */
export function buildOptimizer(run: RunConfig): BuiltOptimizer {
  const spec = SCHEDULES[run.lr.kind];
  const lr: number | Schedule = spec.make(run.lr.values);
  const options = { b1: run.b1, b2: run.b2, eps: run.eps };
  let tx: GradientTransformation<unknown> = run.optimizer === 'adamaxw'
    ? (adamaxw(lr, { ...options, weightDecay: run.weightDecay }) as GradientTransformation<unknown>)
    : (adamax(lr, options) as GradientTransformation<unknown>);
  let describe = `${run.optimizer}(${typeof lr === 'number' ? lr : spec.label.split(' ')[0]}, b1=${run.b1}, b2=${run.b2}, eps=${run.eps}${run.optimizer === 'adamaxw' ? `, weight_decay=${run.weightDecay}` : ''})`;
  if (run.clipping !== 'none') {
    const clipper = run.clipping === 'clip' ? clip(run.clipValue) : clipByGlobalNorm(run.clipValue);
    tx = chain(clipper as GradientTransformation<unknown>, tx) as GradientTransformation<unknown>;
    describe = `chain(${run.clipping}(${run.clipValue}), ${describe})`;
  }
  if (run.multiSteps > 1) {
    tx = multiSteps(tx, { everyKSchedule: run.multiSteps, useGradMean: run.useGradMean }) as GradientTransformation<unknown>;
    describe = `MultiSteps(${describe}, every_k_schedule=${run.multiSteps})`;
  }
  const lrAt = typeof lr === 'number' ? () => lr : lr;
  return { tx, lrAt, describe };
}

/**
 * The gradient Adamax receives, given the one its chain receives: clipped by the library's own
 * transformation (so exactly what the chain computes). MultiSteps is not applied here.
 */
export function clipped(run: RunConfig, grads: FlatParams): FlatParams {
  if (run.clipping === 'none') return grads;
  const tx = (run.clipping === 'clip' ? clip(run.clipValue) : clipByGlobalNorm(run.clipValue)) as GradientTransformation<unknown>;
  return tx.update(grads, tx.init(grads), grads)[0] as FlatParams;
}

/**
 * Tracks what Adamax receives: the mini-step gradients MultiSteps accumulates (summed in double), then
 * at an update their mean (or sum) clipped as the chain clips. Exact without MultiSteps; with it, the
 * mean differs from MultiSteps' float32 running mean in the last bits (the panel shows 5 digits).
 */
export class GradientToAdamax {
  private sum: Record<string, Float64Array> = {};
  private n = 0;

  constructor(private readonly run: RunConfig) {}

  /** Adds the gradient given to the chain at this step (before the step). */
  add(grads: FlatParams): void {
    for (const [k, g] of Object.entries(grads)) {
      const s = (this.sum[k] ??= new Float64Array(g.length));
      for (let i = 0; i < g.length; i++) s[i] += g[i];
    }
    this.n++;
  }

  /** After the step: what Adamax received if it ran (its count advanced), else undefined. */
  take(ran: boolean): FlatParams | undefined {
    if (!ran) return undefined;
    const div = this.run.multiSteps > 1 && this.run.useGradMean ? this.n : 1;
    const mean = Object.fromEntries(Object.entries(this.sum).map(([k, s]) => [k, Float32Array.from(s, (v) => v / div)]));
    this.sum = {};
    this.n = 0;
    return clipped(this.run, mean);
  }
}

/** The Adamax moments inside any state (chain, MultiSteps and clipping nest it differently). */
export function findAdamaxState(state: unknown, depth = 0): ScaleByAdamaxState | undefined {
  if (typeof state !== 'object' || state === null || depth > 8) return undefined;
  if ('mu' in state && 'nu' in state && 'count' in state) return state as ScaleByAdamaxState;
  for (const child of Array.isArray(state) ? state : Object.values(state)) {
    const found = findAdamaxState(child, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** `1 - b1^t` for a float32 leaf, by the library's own rule (the one scale_by_adamax uses). */
export function float32BiasCorrection(b1: number, t: number): number {
  return biasCorrection('float32', roundTo('float32', b1), t);
}

/** The common face of a compiled stepper and of the pure path (`tx.update` + `applyUpdates`). */
/** Flat parameter trees: a name per Float32Array. */
export type FlatParams = Record<string, Float32Array>;

export interface Runner<P extends FlatParams> {
  readonly params: P;
  readonly grads: P;
  readonly state: unknown;
  readonly backend: string;
  readonly threads: number;
  /** Why the engine runs this chain on its reference path, when it does. */
  readonly note: string | undefined;
  step(): void;
  dispose(): void;
}

/** `tx.update` then `applyUpdates`, with the last updates kept for the math panel. */
export class PureRunner<P extends FlatParams> implements Runner<P> {
  params: P;
  readonly grads: P;
  state: unknown;
  lastUpdates: P | undefined;
  readonly backend = 'pure tx.update';
  readonly threads = 1;
  readonly note = undefined;

  constructor(private readonly tx: GradientTransformation<unknown>, params: P, grads: P) {
    this.params = params;
    this.grads = grads;
    this.state = tx.init(params);
  }

  step(): void {
    // A copy: the caller rewrites this.grads in place, and a state may keep what it was given.
    const grads = Object.fromEntries(Object.entries(this.grads).map(([k, v]) => [k, v.slice()])) as P;
    const [updates, state] = this.tx.update(grads, this.state, this.params);
    this.lastUpdates = updates as P;
    this.params = applyUpdates(this.params, updates) as P;
    this.state = state;
  }

  dispose(): void {}
}

/** The fused engine's stepper behind the Runner face. */
class CompiledRunner<P extends FlatParams> implements Runner<P> {
  constructor(private readonly stepper: Stepper<P, unknown>) {}
  get params(): P { return this.stepper.params; }
  get grads(): P { return this.stepper.grads; }
  get state(): unknown { return this.stepper.state; }
  get backend(): string { return this.stepper.backend; }
  get threads(): number { return this.stepper.threads; }
  get note(): string | undefined { return this.stepper.referenceReason; }
  step(): void { this.stepper.step(); }
  dispose(): void { this.stepper.dispose(); }
}

/** A runner for the chosen backend: the fused engine (`compile`), or the pure path when `reference` is chosen. */
export function makeRunner<P extends FlatParams>(tx: GradientTransformation<unknown>, params: P, backend: BackendChoice, threads: number, emptyGrads: () => P): Runner<P> {
  if (backend === 'reference') return new PureRunner(tx, params, emptyGrads());
  const options = threads > 0 ? { backend, threads, minElementsPerThread: 1 } : { backend };
  return new CompiledRunner(compile(tx, params, options));
}

import { type Dtype, type FloatArray, allocate, roundTo } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { isInt32, safeIncrement } from '../core/numerics.js';
import type { ExtraArgs, GradientTransformation } from '../core/transformation.js';
import { type ArrayLeaf, leafData, leafDtype, leafLike, leafShape } from '../tree/leaf.js';
import { treeLeaves, mapTrees } from '../tree/map.js';
import { describe, isDictNode } from '../tree/structure.js';
import type { Params, Tree, Updates } from '../tree/tree.js';
import { treeZerosLike } from '../tree/zeros.js';
import { type Kernel, ex } from '../kernel/expr.js';
import { evaluateKernel, planKernel } from '../kernel/interpret.js';
import { tracedUpdate } from './traced.js';
import { recordCall } from '../spec/record.js';
import { isStepCount } from '../core/numerics.js';
import { readOptions } from '../core/options.js';
import { hasExactKeys } from '../tree/validate.js';

/** The state of {@link multiSteps} / {@link MultiSteps} (optax's `MultiStepsState`). */
export interface MultiStepsState<S = unknown> {
  /** Mini-steps accumulated since the last emitted update (int32); 0 right after one. */
  mini_step: number;
  /** Updates emitted so far (int32): the step the `everyKSchedule` is evaluated at. */
  gradient_step: number;
  /** The inner optimizer's state (it changes only when an update is emitted). */
  inner_opt_state: S;
  /** The running mean (or sum) of the gradients of this accumulation, in `accumulatorDtype`. */
  acc_grads: Tree;
  /** What `shouldSkipUpdateFn` returned last (`[]` without one, as optax's `()`). */
  skip_state: unknown;
}

/**
 * Decides whether a mini-step's gradients are dropped (optax's `ShouldSkipUpdateFunction`): returns
 * `[skip, skipState]`; `skipState` is kept in `MultiStepsState.skip_state` for monitoring.
 */
export type ShouldSkipUpdateFunction = (updates: Updates, gradientStep: number, params: Params | null | undefined) => [boolean, unknown];

/** Options of {@link multiSteps} / {@link MultiSteps}. */
export interface MultiStepsOptions {
  /**
   * How many mini-steps make one update: a positive integer, or a function of `gradient_step`
   * returning one (checked when each step runs). Required.
   */
  everyKSchedule: number | ((gradientStep: number) => number);
  /** Average the accumulated gradients (true, the default: a running mean) or sum them (false). */
  useGradMean?: boolean;
  /** Rejects some mini-steps, as if they never happened (default: none). */
  shouldSkipUpdateFn?: ShouldSkipUpdateFunction;
  /**
   * The dtype of `acc_grads`: `'float32'` by default, as in optax (even for float64 params, whose
   * running mean is then rounded to float32 between mini-steps), or `null` for each param's dtype.
   */
  accumulatorDtype?: Dtype | null;
}

const noSkip: ShouldSkipUpdateFunction = () => [false, []];

function checkK(k: unknown, where: string): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || !isInt32(k)) {
    throw new OptaxError(`MultiSteps: every_k_schedule must be a positive integer${where}, got ${String(k)}`);
  }
  return k;
}

/**
 * The updates of a mini-step that emits nothing: optax's `emit * u` with `emit` false, as XLA
 * compiles it inside `lax.cond` (openxla/xla, xla/hlo/transforms/simplifiers/algebraic_simplifier.cc,
 * `HandleMultiply`; JAX converts the bool to the float dtype, then broadcasts it to the leaf's shape):
 *
 * - rank-0 leaf: `convert(emit) * u` matches "Mul(Convert(Pred), operand) => select(pred, operand,
 *   0)": +0, whatever `u` is;
 * - leaf of two or more elements whose update ends with a multiplication by a constant (`u = c * y`,
 *   `c` a Python number in optax: a constant learning rate): "Mul(Mul(a, constant), Broadcast(b)) =>
 *   Mul(a, Broadcast(Mul(b, constant)))", then the rule above turns `convert(emit) * c` into
 *   `select(emit, c, 0)`: `y * +0`, the sign of `y` (NaN where `y` is not finite);
 * - any other leaf (a one-element leaf, whose broadcast becomes a reshape; an update ending with a
 *   computed scalar such as a schedule's value): `+0 * u`, the sign of `u`.
 */
function silentUpdates<U extends Tree>(updates: U, preScale: U | undefined): U {
  const pre = preScale ? treeLeaves<ArrayLeaf>(preScale).leaves : undefined;
  let i = 0;
  return mapTrees(([u]: ArrayLeaf[]) => {
    const k = i++;
    const data = leafData(u);
    const out = allocate(leafDtype(u), data.length);
    if (leafShape(u).length === 0) return leafLike(u, out); // select(emit, u, 0)
    const source = pre && data.length > 1 ? leafData(pre[k]) : data;
    for (let j = 0; j < source.length; j++) out[j] = 0 * source[j];
    return leafLike(u, out);
  }, [updates]);
}

/**
 * Gradient accumulation (optax's `MultiSteps`): the updates of `k` consecutive mini-steps are
 * accumulated, and every `k`-th step the inner optimizer is applied to their mean (or sum); the other
 * steps return zeros and leave the inner state unchanged.
 *
 * ```
 * acc = acc + (g - acc) / (mini_step + 1)     (useGradMean; else acc = g + acc)
 * emit = mini_step == k - 1
 * u = emit * inner(acc)       mini_step = (mini_step + 1) % k      acc = (1 - emit) * acc
 * ```
 *
 * Exactly as in optax 0.2.8 (bit for bit, see `traced.ts` for why its numerics differ from eager):
 * - the inner optimizer runs at every mini-step, inside optax's `lax.cond`, so with XLA's traced
 *   numerics; when not emitting its result is multiplied by 0, which XLA's algebraic simplifier
 *   rewrites by leaf: +0 on a rank-0 leaf; `+0 * y` where the update ends with a constant factor
 *   (`u = -lr * y`, a constant learning rate: the zeros carry the sign of `y`, so +0 where the update
 *   is negative); `+0 * u` otherwise (the sign of the update). NaN where the multiplied value is not
 *   finite;
 * - the running mean is computed in the wider of the gradient's and the accumulator's dtype, as
 *   `fma(g - acc, 1 / (n + 1), acc)` (XLA's reciprocal, then LLVM's fused multiply-add), and stored
 *   rounded to `accumulatorDtype` (float32 by default, even for float64 params, as in optax);
 * - `acc = (1 - emit) * acc` is a multiplication: a NaN accumulated before an update stays in the
 *   accumulator.
 *
 * Use it as a plain transformation with {@link multiSteps}, or as optax's class.
 *
 * @example
 * ```ts
 * import { MultiSteps, scale } from 'optax-ts';
 * const ms = new MultiSteps(scale(-1), { everyKSchedule: 2 });
 * const tx = ms.gradientTransformation();
 * let state = tx.init({ w: new Float32Array(1) });
 * let u;
 * [u, state] = tx.update({ w: new Float32Array([1]) }, state);
 * console.log(u.w, ms.hasUpdated(state)); // Float32Array(1) [ -0 ] false
 * [u, state] = tx.update({ w: new Float32Array([3]) }, state);
 * console.log(u.w, ms.hasUpdated(state)); // Float32Array(1) [ -2 ] true
 * ```
 */
export class MultiSteps<S = unknown> {
  readonly innerOpt: GradientTransformation<S>;
  private readonly everyK: (gradientStep: number) => number;
  private readonly constantK: number | undefined;
  private readonly useGradMean: boolean;
  private readonly shouldSkip: ShouldSkipUpdateFunction;
  private readonly accumulatorDtype: Dtype | null;

  /**
   * @param opt - the inner optimizer.
   * @param options - `everyKSchedule` (required), `useGradMean` (true), `shouldSkipUpdateFn` (none),
   *   `accumulatorDtype` (`'float32'`).
   */
  constructor(opt: GradientTransformation<S>, options: MultiStepsOptions) {
    if (!opt || typeof opt.init !== 'function' || typeof opt.update !== 'function') {
      throw new OptaxError(`MultiSteps: opt is not a gradient transformation (got ${describe(opt)})`);
    }
    if (options === undefined) throw new OptaxError('MultiSteps: options {everyKSchedule} are required');
    const { everyKSchedule, useGradMean = true, shouldSkipUpdateFn = noSkip, accumulatorDtype = 'float32' } = readOptions('MultiSteps', options, {
      everyKSchedule: true, useGradMean: true, shouldSkipUpdateFn: true, accumulatorDtype: true,
    });
    if (typeof everyKSchedule === 'function') {
      this.everyK = (step) => checkK(everyKSchedule(step), ` (the schedule returned a bad value at gradient step ${step})`);
    } else {
      const k = checkK(everyKSchedule, '');
      this.everyK = () => k;
      this.constantK = k;
    }
    if (accumulatorDtype !== null && accumulatorDtype !== 'float32' && accumulatorDtype !== 'float64') {
      throw new OptaxError(`MultiSteps: accumulatorDtype must be 'float32', 'float64' or null, got ${String(accumulatorDtype)}`);
    }
    this.innerOpt = opt;
    this.useGradMean = useGradMean;
    this.shouldSkip = shouldSkipUpdateFn;
    this.accumulatorDtype = accumulatorDtype;
  }

  /** The initial state: zero accumulators and the inner optimizer's initial state. */
  init(params: Params): MultiStepsState<S> {
    const acc = this.accumulatorDtype;
    const [, skip_state] = this.shouldSkip(treeZerosLike(params), 0, params);
    return {
      mini_step: 0,
      gradient_step: 0,
      inner_opt_state: this.innerOpt.init(params),
      acc_grads: mapTrees(([p]: ArrayLeaf[]) => leafLike(p, allocate(acc ?? leafDtype(p), leafData(p).length)), [params]),
      skip_state,
    };
  }

  /** Accumulates `updates`; returns the inner optimizer's update every k-th mini-step, zeros otherwise. */
  update<U extends Updates>(updates: U, state: MultiStepsState<S>, params?: Params | null, extraArgs?: ExtraArgs): [U, MultiStepsState<S>] {
    checkState(state);
    const k = this.everyK(state.gradient_step);
    const [skip, skip_state] = decideSkip(this.shouldSkip, updates, state.gradient_step, params);
    if (skip) return [treeZerosLike(updates), { ...state, skip_state }];

    const n = state.mini_step;
    const plan = this.useGradMean ? meanPlan : sumPlan;
    // The running mean (accumulateKernel), in the promoted dtype of (gradient, accumulator).
    const accNew: ArrayLeaf[] = [];
    const forInner = mapTrees(([g, a]: ArrayLeaf[]) => {
      const wide: Dtype = leafDtype(g) === 'float64' || leafDtype(a) === 'float64' ? 'float64' : 'float32';
      const out = evaluateKernel(plan, { dtype: wide, updates: leafData(g), state: { acc: leafData(a) }, scalars: { r: runningMeanFactor(n, wide) } }, []).updates;
      accNew.push(leafLike(g, out));
      // optax.tree.cast_like(acc_grads, updates): the inner optimizer sees the gradient's dtype.
      return leafLike(g, leafDtype(g) === wide ? out : Float32Array.from(out));
    }, [updates, state.acc_grads], { names: ['grads', 'state.acc_grads'], root: 'grads' });

    // optax runs this inside lax.cond: the inner update is compiled as one XLA computation.
    const inner = tracedUpdate(this.innerOpt, forInner, state.inner_opt_state, params, extraArgs, { computedUpdates: true });
    const { emit, mini_step, gradient_step } = advanceCounters(n, state.gradient_step, k);
    let j = 0;
    const acc_grads = mapTrees(([a]: ArrayLeaf[]) => {
      const fresh = leafData(accNew[j++]);
      const out = allocate(leafDtype(a), fresh.length); // (1 - emit) * acc, stored in the accumulator's dtype
      for (let i = 0; i < fresh.length; i++) out[i] = (emit ? 0 : 1) * fresh[i];
      return leafLike(a, out);
    }, [state.acc_grads]);
    // `emit * u`, as XLA simplifies it (see silentUpdates).
    const silent = emit ? inner.updates : silentUpdates(inner.updates, inner.preScale);
    return [silent, {
      mini_step,
      gradient_step,
      inner_opt_state: emit ? (inner.state as S) : state.inner_opt_state,
      acc_grads,
      skip_state,
    }];
  }

  /** True right after a mini-step that emitted an update: `mini_step == 0 && gradient_step > 0`. */
  hasUpdated(state: MultiStepsState<S>): boolean {
    return state.mini_step === 0 && state.gradient_step > 0;
  }

  /** This wrapper as a plain {@link GradientTransformation} (optax's `gradient_transformation()`). */
  gradientTransformation(): GradientTransformation<MultiStepsState<S>> {
    return {
      name: 'MultiSteps',
      combinator: {
        kind: 'multiSteps',
        inner: this.innerOpt,
        everyK: this.everyK,
        constantK: this.constantK,
        useGradMean: this.useGradMean,
        shouldSkip: this.shouldSkip === noSkip ? undefined : this.shouldSkip,
        accumulatorDtype: this.accumulatorDtype,
      },
      init: (params) => this.init(params),
      update: (updates, state, params, extraArgs) => this.update(updates, state, params, extraArgs),
    };
  }
}

/**
 * The running mean (or sum) of a mini-step, written once for the reference path and the engine:
 * XLA computes optax's `acc + (g - acc) / (n + 1)` inside lax.cond as `fma(g - acc, r, acc)`: the
 * division by the per-leaf scalar n + 1 becomes a multiplication by its reciprocal `r`
 * ({@link runningMeanFactor}), which LLVM then fuses with the addition (one rounding). Reads the
 * gradient as `updates` and the accumulator as state `acc`; its update is the new accumulator.
 * @internal
 */
export function accumulateKernel(useGradMean: boolean): Kernel {
  const g = ex.updates, acc = ex.state('acc');
  const next = useGradMean ? ex.fma(ex.sub(g, acc), ex.scalar('r'), acc) : ex.add(g, acc);
  return { updates: next, state: { acc: next } };
}

// The reference path needs only the new accumulator (the kernel's update).
const meanPlan = planKernel({ updates: accumulateKernel(true).updates, state: {} });
const sumPlan = planKernel({ updates: accumulateKernel(false).updates, state: {} });

/** The scalar `r` of {@link accumulateKernel} at mini-step `n`: `1 / (n + 1)` rounded to the dtype. @internal */
export function runningMeanFactor(n: number, dtype: Dtype): number {
  return roundTo(dtype, 1 / (n + 1));
}

/** Whether a mini-step emits, and the counters after it (int32, saturating). @internal */
export function advanceCounters(miniStep: number, gradientStep: number, k: number): { emit: boolean; mini_step: number; gradient_step: number } {
  const emit = miniStep === k - 1;
  return { emit, mini_step: safeIncrement(miniStep) % k, gradient_step: emit ? safeIncrement(gradientStep) : gradientStep };
}

/** Calls a `shouldSkipUpdateFn` and checks what it returns. @internal */
export function decideSkip(fn: ShouldSkipUpdateFunction, updates: Updates, gradientStep: number, params: Params | null | undefined): [boolean, unknown] {
  const [skip, skipState] = fn(updates, gradientStep, params);
  if (typeof skip !== 'boolean') throw new OptaxError(`MultiSteps: shouldSkipUpdateFn must return [boolean, skipState], got ${describe(skip)} first`);
  return [skip, skipState];
}

/** Throws unless `state` has the fields of {@link MultiStepsState}. @internal */
export function checkMultiStepsState(state: unknown): asserts state is MultiStepsState {
  checkState(state);
}

function checkState(state: unknown): asserts state is MultiStepsState {
  const ok = isDictNode(state) && isStepCount(state.mini_step)
    && isStepCount(state.gradient_step) && hasExactKeys(state, ['mini_step', 'gradient_step', 'inner_opt_state', 'acc_grads', 'skip_state']);
  if (!ok) throw new OptaxError(`MultiSteps: this state does not belong to MultiSteps: expected {mini_step, gradient_step, inner_opt_state, acc_grads, skip_state}, got ${describe(state)}`);
}

/**
 * Gradient accumulation as a plain transformation: `new MultiSteps(opt, options).gradientTransformation()`.
 *
 * @example
 * ```ts
 * import { multiSteps, scale } from 'optax-ts';
 * const tx = multiSteps(scale(1), { everyKSchedule: 2, useGradMean: false });
 * let state = tx.init({ w: new Float64Array(1) });
 * let u;
 * [u, state] = tx.update({ w: new Float64Array([1]) }, state);
 * [u, state] = tx.update({ w: new Float64Array([3]) }, state);
 * console.log(u.w, state.gradient_step); // Float64Array(1) [ 4 ] 1
 * ```
 */
export function multiSteps<S>(opt: GradientTransformation<S>, options: MultiStepsOptions): GradientTransformation<MultiStepsState<S>> {
  return recordCall(new MultiSteps(opt, options).gradientTransformation(), 'MultiSteps', [opt, options]);
}

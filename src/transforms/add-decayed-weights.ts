import { OptaxError } from '../core/errors.js';
import { type Hyperparam, acceptsRange, checkHyperparam, constantScalars, hyperNumber, writeHyper } from '../core/hyperparams.js';
import { safeIncrement } from '../core/numerics.js';
import { roundInPlace } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import type { EmptyState, ExtraArgs, GradientTransformation } from '../core/transformation.js';
import { ex } from '../kernel/expr.js';
import { elementwise } from '../kernel/elementwise.js';
import type { Params, Updates } from '../tree/tree.js';
import { type CountState, advanceCount, checkCount, noControl } from './count.js';
import { type Mask, type MaskedState, masked } from './masked.js';
import { ScheduleEvaluator } from '../schedules/program.js';
import { readOptions } from '../core/options.js';
import { recordCall } from '../spec/record.js';

/** The state of {@link addDecayedWeights} with a schedule (optax's `WeightDecaySchedule`). */
export interface WeightDecayScheduleState {
  /** Steps taken (int32, saturating at 2^31-1): the schedule is evaluated at it before incrementing. */
  count: number;
}

/** The state of {@link addDecayedWeights}: empty for a fixed rate, a step count for a schedule, wrapped by `masked` when there is a mask. */
export type AddDecayedWeightsState = EmptyState | WeightDecayScheduleState | MaskedState<EmptyState | WeightDecayScheduleState>;

/** Options of {@link addDecayedWeights}. */
export interface AddDecayedWeightsOptions {
  /**
   * Which parameters to decay: a tree of booleans shaped like the params (or a prefix of them), or a
   * function of the params returning one. Default: all. Implemented as `masked(addDecayedWeights(wd), mask)`.
   */
  mask?: Mask | null;
}

/** `u = g + wd * p`, in optax's operand order (so each rounding happens where XLA's does). */
export const addDecayedWeightsKernel = { updates: ex.add(ex.updates, ex.mul(ex.scalar('weight_decay'), ex.params)), state: {} };

function checkScheduledRate(value: unknown): string | undefined {
  if (typeof value !== 'number') return `weight_decay must be a number or a schedule, got ${typeof value}`;
  if (!Number.isFinite(value)) return `weight_decay must be finite, got ${value}`;
  if (value < 0) return `weight_decay must be >= 0, got ${value}`;
  return undefined;
}

/**
 * Adds the parameters scaled by a weight decay rate (optax's `add_decayed_weights`):
 *
 * ```
 * u = g + wd * p
 * ```
 *
 * `wd` is rounded to each leaf's dtype (as JAX does with a python float). A schedule is evaluated at
 * the step count before it is incremented (so the first step uses `wd(0)`), and its state then holds
 * that count. With a fixed rate of exactly 0 the updates pass through untouched, as in optax (which
 * skips the addition: `g + 0 * p` would turn an infinite parameter into NaN). `params` are required.
 *
 * @param weightDecay - a finite number >= 0 (default 0), an array of them broadcast against each
 *   leaf, or a schedule (each value it returns is checked the same way when the step runs).
 * @param options - `mask` (default none: decay every parameter).
 *
 * @example
 * ```ts
 * import { addDecayedWeights } from 'optax-ts';
 * const tx = addDecayedWeights(0.5);
 * const params = { w: new Float32Array([2, -4]) };
 * const [u] = tx.update({ w: new Float32Array([1, 1]) }, tx.init(params), params);
 * console.log(u.w); // Float32Array(2) [ 2, -1 ]
 * ```
 */
export function addDecayedWeights(weightDecay: Hyperparam | Schedule = 0, options: AddDecayedWeightsOptions = {}): GradientTransformation<AddDecayedWeightsState> {
  const { mask } = readOptions('add_decayed_weights', options, { mask: true });
  const plain = typeof weightDecay === 'function' ? scheduled(weightDecay) : fixed(weightDecay);
  // optax raises when params are missing, even where the rate is 0 and they would not be read.
  const requireParams: GradientTransformation<any> = {
    ...plain,
    update<U extends Updates>(updates: U, state: any, params?: Params | null, extraArgs?: ExtraArgs): [U, any] {
      // An all-masked-out tree (null) needs none: optax passes MaskedNode there, not None.
      if (params === undefined || (params === null && updates !== null)) throw new OptaxError('add_decayed_weights needs params: call update(updates, state, params)');
      return plain.update(updates, state, params, extraArgs);
    },
  };
  return recordCall(mask === undefined || mask === null ? requireParams : masked(requireParams, mask), 'add_decayed_weights', [weightDecay, options]);
}

/** The one scalar of add_decayed_weights. */
const WEIGHT_DECAY = ['weight_decay'] as const;
/** The range of a fixed weight decay: checked when built, and for a scheduled (injected) value at each fused step. */
const WEIGHT_DECAY_RANGE = { min: 0 };
const ACCEPTS = { weight_decay: acceptsRange(WEIGHT_DECAY_RANGE) };

function fixed(weightDecay: Hyperparam): GradientTransformation<EmptyState> {
  checkHyperparam('add_decayed_weights', 'weight_decay', weightDecay, WEIGHT_DECAY_RANGE);
  // Only a plain number 0 skips the addition (optax tests `isinstance(wd, (int, float))`); an array
  // zero, e.g. from injectHyperparams, still computes g + 0 * p.
  const skip = typeof weightDecay === 'number' && weightDecay === 0;
  const constants = constantScalars(skip ? 0 : 1, (sink, dtype) => { if (!skip) writeHyper(sink, 0, weightDecay, dtype); });
  return elementwise<Record<string, never>, EmptyState>({
    name: 'add_decayed_weights',
    kernel: skip ? { updates: ex.updates, state: {} } : addDecayedWeightsKernel,
    stateLeaves: [],
    ...noControl,
    scalarNames: skip ? [] : WEIGHT_DECAY,
    writeScalars: (sink, _c, dtype) => constants(sink, dtype),
    injectable: skip || hyperNumber(weightDecay) === undefined ? undefined : {
      hyperparams: { weight_decay: hyperNumber(weightDecay)! },
      scalars: (h, _count, d, a) => ({ weight_decay: a.cast(d, h.weight_decay) }),
      accepts: ACCEPTS,
    },
  });
}

function scheduled(schedule: (count: number) => number): GradientTransformation<WeightDecayScheduleState> {
  const evaluator = new ScheduleEvaluator('add_decayed_weights', schedule);
  return elementwise<CountState, WeightDecayScheduleState>({
    name: 'add_decayed_weights',
    kernel: addDecayedWeightsKernel,
    stateLeaves: [],
    initControl: () => ({ count: 0 }),
    checkControl: checkCount('add_decayed_weights'),
    advance: advanceCount,
    scalarNames: WEIGHT_DECAY,
    // The schedule's value at the count, cast to the leaf dtype: the jax-js adapter's in-graph form.
    countScalars: (count, dtype, a) => ({ weight_decay: a.cast(dtype, a.call(schedule, count)) }),
    writeScalars: (sink, { count }, dtype, _extraArgs, traced) => {
      // Inside apply_if_finite / MultiSteps optax evaluates the schedule in the traced computation.
      // A program of the schedule (compiled on first use) writes its value: nothing is allocated.
      evaluator.writeInto(sink.values, 0, count, traced === true);
      const value = sink.values[0];
      // The common case tested here, with no call that would box the double (a new heap number per step).
      const problem = value >= 0 && value < Infinity ? undefined : checkScheduledRate(value);
      if (problem) throw new OptaxError(`add_decayed_weights: the schedule returned a bad value at step ${count}: ${problem}`);
      roundInPlace(dtype, sink.values, 0);
    },
  });
}

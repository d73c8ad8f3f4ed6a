import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { exponentialDecay } from './exponential-decay.js';
import { joinCore } from './join.js';
import { warmupPart } from './linear.js';
import { checkDtype, checkFinite, checkOptions, checkSteps, rethrowWithin } from './validate.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link warmupExponentialDecaySchedule}. */
export interface WarmupExponentialDecayScheduleOptions {
  /** The value at step 0. */
  initValue: number;
  /** The value reached at the end of the warmup, where the decay starts. */
  peakValue: number;
  /** The length `W` of the linear warmup (an integer `>= 0`). */
  warmupSteps: number;
  /** The steps per factor of `decayRate` (an integer `>= 0`; 0 holds `peakValue`), see {@link exponentialDecay}. */
  transitionSteps: number;
  /** The decay rate (finite, `> 0`). */
  decayRate: number;
  /** Steps after the warmup before decaying starts, the value being held at `peakValue` (default 0). */
  transitionBegin?: number;
  /** If true, decay in discrete steps (default false). */
  staircase?: boolean;
  /** Where the decay stops (default: none): a floor when `decayRate < 1`, a ceiling otherwise. */
  endValue?: number;
  /** `'float32'` (default: JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). */
  dtype?: Dtype;
}

/**
 * Linear warmup followed by exponential decay (optax's `warmup_exponential_decay_schedule`): optax
 * joins `linear_schedule(initValue, peakValue, warmupSteps)` and `exponential_decay(peakValue,
 * transitionSteps, decayRate, transitionBegin, staircase, endValue)` at step `warmupSteps`:
 *
 * ```text
 * schedule(t) = I + t / W * (P - I)                               if t < W
 *               P * decayRate ** ((t - W - B) / transitionSteps)   if t >= W  (P while t - W <= B)
 * ```
 *
 * clipped at `endValue`. Float32 in both modes (both parts are float32; see {@link linearSchedule} and
 * {@link exponentialDecay}), except that with `warmupSteps: 0` and `transitionSteps: 0` both parts
 * are Python floats and the join gives JAX's default float.
 *
 * Rejected (OptaxError): what {@link linearSchedule} and {@link exponentialDecay} reject
 * (non-finite values, negative or non-integer step counts, `decayRate <= 0`, ...), an unknown `dtype`;
 * and, when called, a step count that is not an int32.
 *
 * @param options - `initValue`, `peakValue`, `warmupSteps`, `transitionSteps`, `decayRate` (required); `transitionBegin` (default 0), `staircase` (default false), `endValue` (default none), `dtype` (default `'float32'`). See {@link WarmupExponentialDecayScheduleOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { warmupExponentialDecaySchedule } from 'optax-ts';
 * const schedule = warmupExponentialDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 5, transitionSteps: 3, decayRate: 0.7, staircase: true, endValue: 0.1 });
 * console.log(schedule(2), schedule(8), schedule(11), schedule(1000)); // 0.3999999761581421 0.699999988079071 0.4899999797344208 0.10000000149011612
 * ```
 */
export function warmupExponentialDecaySchedule(options: WarmupExponentialDecayScheduleOptions): Schedule {
  const fn = 'warmupExponentialDecaySchedule';
  checkOptions(fn, options, ['initValue', 'peakValue', 'warmupSteps', 'transitionSteps', 'decayRate', 'transitionBegin', 'staircase', 'endValue', 'dtype']);
  // Checked here so that errors name this function's options (not linearSchedule's).
  const initValue = checkFinite(fn, 'initValue', options.initValue);
  const peakValue = checkFinite(fn, 'peakValue', options.peakValue);
  const warmupSteps = checkSteps(fn, 'warmupSteps', options.warmupSteps);
  const dtype = checkDtype(fn, options.dtype);
  let decay: Schedule;
  try {
    decay = exponentialDecay({
      initValue: peakValue,
      transitionSteps: options.transitionSteps,
      decayRate: options.decayRate,
      transitionBegin: options.transitionBegin,
      staircase: options.staircase,
      endValue: options.endValue,
      dtype,
    });
  } catch (e) {
    rethrowWithin(fn, e);
  }
  return recordCall(joinCore(fn, {
    schedules: [warmupPart(initValue, peakValue, warmupSteps, dtype), decay],
    boundaries: [warmupSteps],
    dtype,
  }), 'warmup_exponential_decay_schedule', [options]);
}

import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { polynomialCore } from './polynomial.js';
import { checkDtype, checkFinite, checkOptions } from './validate.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link warmupConstantSchedule}. */
export interface WarmupConstantScheduleOptions {
  /** The value at step 0. */
  initValue: number;
  /** The value reached at the end of the warmup and kept afterwards. */
  peakValue: number;
  /**
   * The length of the linear warmup (an integer in `[1, 2^31-1]`). As in optax, any number `<= 0` makes
   * the linear part a constant: `initValue` throughout, with a warning (see `setWarningHandler`).
   */
  warmupSteps: number;
  /** `'float32'` (default: JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). */
  dtype?: Dtype;
}

/**
 * Linear warmup followed by a constant (optax's `warmup_constant_schedule`, which is
 * `linear_schedule(init_value, peak_value, warmup_steps)`):
 *
 * ```text
 * schedule(t) = I + t / W * (P - I)   if t < W
 *               P                     if t >= W
 * ```
 *
 * Float32 in both modes, like {@link linearSchedule}. Note optax's quirk, kept here: with
 * `warmupSteps <= 0` the linear schedule falls back to its *init* value (with a warning), so the
 * schedule returns `initValue` forever (not `peakValue`).
 *
 * Rejected (OptaxError): non-finite `initValue`/`peakValue`, a positive `warmupSteps` that is
 * non-integer or beyond int32, an unknown `dtype`; and, when called, a step count that is not an int32.
 *
 * @param options - `initValue`, `peakValue`, `warmupSteps` (required); `dtype` (default `'float32'`). See {@link WarmupConstantScheduleOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { warmupConstantSchedule } from 'optax-ts';
 * const schedule = warmupConstantSchedule({ initValue: 0, peakValue: 0.1, warmupSteps: 4 });
 * console.log(schedule(1), schedule(4), schedule(100)); // 0.02499999850988388 0.10000000149011612 0.10000000149011612
 * ```
 */
export function warmupConstantSchedule(options: WarmupConstantScheduleOptions): Schedule {
  const fn = 'warmupConstantSchedule';
  checkOptions(fn, options, ['initValue', 'peakValue', 'warmupSteps', 'dtype']);
  // Checked here so that errors name this function's options (not linearSchedule's).
  const initValue = checkFinite(fn, 'initValue', options.initValue);
  const peakValue = checkFinite(fn, 'peakValue', options.peakValue);
  const dtype = checkDtype(fn, options.dtype);
  return recordCall(polynomialCore(fn, { initValue, endValue: peakValue, power: 1, transitionSteps: options.warmupSteps, dtype }, 'warmupSteps'), 'warmup_constant_schedule', [options]);
}

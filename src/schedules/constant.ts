import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { defineSchedule } from './typed.js';
import { checkDtype, checkFinite, checkOptions } from './validate.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link constantSchedule}. */
export interface ConstantScheduleOptions {
  /** The value held constant throughout. */
  value: number;
  /**
   * `'float32'` (default: JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). It does not change the
   * value (see below); it only tells {@link joinSchedules} which mode the schedule belongs to.
   */
  dtype?: Dtype;
}

/**
 * A constant schedule: `schedule(t) = value` for every step `t`.
 *
 * optax's `constant_schedule` returns the Python float itself, not an array, so the value is never
 * rounded to float32 (optax's `constant_schedule(0.3)(5)` is the double 0.3 even in 32-bit mode).
 * When it is joined with an array-valued schedule, {@link joinSchedules} casts it as `jnp.where` does.
 *
 * Rejected: a `value` that is not a finite number (OptaxError).
 *
 * @param options - `value` (required); `dtype` (default `'float32'`). See {@link ConstantScheduleOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { constantSchedule } from 'optax-ts';
 * const schedule = constantSchedule({ value: 0.3 });
 * console.log(schedule(0), schedule(1000)); // 0.3 0.3
 * ```
 */
export function constantSchedule(options: ConstantScheduleOptions): Schedule {
  const fn = 'constantSchedule';
  checkOptions(fn, options, ['value', 'dtype']);
  const value = checkFinite(fn, 'value', options.value);
  const mode = checkDtype(fn, options.dtype);
  return recordCall(defineSchedule(fn, mode, 'python', () => value), 'constant_schedule', [options]);
}

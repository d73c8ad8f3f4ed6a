import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { polynomialCore } from './polynomial.js';
import { checkOptions } from './validate.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link linearSchedule}. */
export interface LinearScheduleOptions {
  /** Initial value of the scalar to be annealed. */
  initValue: number;
  /** End value of the scalar to be annealed. */
  endValue: number;
  /**
   * Number of steps `T` over which annealing takes place (an integer `>= 0`). `0` disables annealing:
   * the schedule returns `initValue` for every step, as optax does for `transition_steps <= 0`.
   */
  transitionSteps: number;
  /** Steps `B` before annealing starts, the value being held at `initValue` (default 0). */
  transitionBegin?: number;
  /** `'float32'` (default: JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). */
  dtype?: Dtype;
}

/**
 * A schedule with a linear transition from `initValue` to `endValue` (optax's `linear_schedule`,
 * which is `polynomial_schedule` with `power=1`). With `I = initValue`, `E = endValue`,
 * `B = transitionBegin`, `T = transitionSteps`:
 *
 * ```text
 * schedule(t) = I                          if t < B
 *               I + (t - B) / T * (E - I)  if B <= t < B + T
 *               E                          if t >= B + T
 * ```
 *
 * optax computes it as `(I - E) * (1 - (t - B) / T) + E`, in float32 in both modes (the ratio of an
 * int32 count is float32 even under x64), and so does this, one rounding per operation: values are
 * float32 values (e.g. 0.01 comes back as 0.009999999776482582). With `transitionSteps: 0` the
 * schedule returns `initValue` unrounded (optax returns the Python float).
 *
 * Rejected (OptaxError): non-finite `initValue`/`endValue`, `transitionSteps` or
 * `transitionBegin` that is negative, non-integer or beyond int32 (optax would log and fall back), an
 * unknown `dtype`; and, when called, a step count that is not an int32.
 *
 * @param options - `initValue`, `endValue`, `transitionSteps` (required); `transitionBegin` (default 0); `dtype` (default `'float32'`). See {@link LinearScheduleOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { linearSchedule } from 'optax-ts';
 * const schedule = linearSchedule({ initValue: 1, endValue: 0.01, transitionSteps: 100 });
 * console.log(schedule(0), schedule(50), schedule(1000)); // 1 0.5049999952316284 0.009999999776482582
 * ```
 */
export function linearSchedule(options: LinearScheduleOptions): Schedule {
  const fn = 'linearSchedule';
  checkOptions(fn, options);
  return recordCall(polynomialCore(fn, { ...options, power: 1 }), 'linear_schedule', [options]);
}

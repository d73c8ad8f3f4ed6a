import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { withoutWarnings } from '../core/warnings.js';
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
   * Number of steps `T` over which annealing takes place (an integer in `[1, 2^31-1]`). Any number
   * `<= 0` disables annealing, as in optax: a warning (see `setWarningHandler`), then the schedule
   * returns `initValue` for every step.
   */
  transitionSteps: number;
  /**
   * Steps `B` before annealing starts, the value being held at `initValue` (default 0). A negative one
   * falls back to 0 with a warning, as in optax.
   */
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
 * float32 values (e.g. 0.01 comes back as 0.009999999776482582).
 *
 * Accepted with a warning, as optax logs and carries on (see `setWarningHandler`): `transitionSteps <= 0`
 * gives the constant schedule `initValue`, unrounded (optax returns the Python float); a negative
 * `transitionBegin` is taken as 0.
 *
 * Rejected (OptaxError): non-finite `initValue`/`endValue`, a positive `transitionSteps` or a
 * `transitionBegin` that is non-integer or beyond int32, an unknown `dtype`; and, when called, a step
 * count that is not an int32.
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
  checkOptions(fn, options, ['initValue', 'endValue', 'transitionSteps', 'transitionBegin', 'dtype']);
  return recordCall(polynomialCore(fn, { ...options, power: 1 }), 'linear_schedule', [options]);
}

/**
 * The linear warmup of the warmup schedules (`linear_schedule(init, peak, warmup_steps)` in optax).
 * `warmupSteps: 0` is their documented "no warmup", so it does not warn, though optax's inner
 * `linear_schedule` logs about it. @internal
 */
export function warmupPart(initValue: number, peakValue: number, warmupSteps: number, dtype: Dtype): Schedule {
  return withoutWarnings(() => linearSchedule({ initValue, endValue: peakValue, transitionSteps: warmupSteps, dtype }));
}

import type { Schedule } from '../core/schedule.js';
import { type OnecycleCommonOptions, checkOnecycleOptions, onecycleBoundaries } from './onecycle.js';
import { piecewiseInterpolateCore } from './piecewise-interpolate.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link cosineOnecycleSchedule}. */
export interface CosineOnecycleScheduleOptions extends OnecycleCommonOptions {
  /** The fraction of the cycle spent increasing (in `[0, 1)`, default 0.3). */
  pctStart?: number;
  /** The final value is `peakValue / (divFactor * finalDivFactor)` (`> 0`, default 1e4). */
  finalDivFactor?: number;
}

/**
 * The one-cycle schedule with cosine phases (optax's `cosine_onecycle_schedule`, after Smith & Topin's
 * super-convergence): from `peakValue / divFactor` up to `peakValue` at step `int(pctStart * T)`, then
 * down to `peakValue / (divFactor * finalDivFactor)` at `T`, both along half cosines, and constant
 * afterwards.
 *
 * It is {@link piecewiseInterpolateSchedule}`('cosine', peakValue / divFactor, {int(pctStart * T):
 * divFactor, T: 1 / (divFactor * finalDivFactor)})`, with that schedule's mixed precision (values in
 * the default float dtype; the fraction and its cosine in float32).
 *
 * Rejected (OptaxError): `transitionSteps` not an integer in `[1, 2^31-1]` (optax raises for
 * `<= 0`), a non-finite `peakValue`, `pctStart` outside `[0, 1]`, or so close to 1 that
 * `int(pctStart * T) = T` (optax's dict would silently drop the warmup), `divFactor`/`finalDivFactor`
 * not finite and `> 0`, an unknown `dtype`; and, when called, a step count that is not an int32.
 *
 * @param options - `transitionSteps`, `peakValue` (required); `pctStart` (default 0.3), `divFactor` (default 25), `finalDivFactor` (default 1e4), `dtype` (default `'float32'`). See {@link CosineOnecycleScheduleOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { cosineOnecycleSchedule } from 'optax-ts';
 * const schedule = cosineOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
 * console.log(schedule(0), schedule(30), schedule(100)); // 0.04000002145767212 1 0.000003999999989900971
 * ```
 */
export function cosineOnecycleSchedule(options: CosineOnecycleScheduleOptions): Schedule {
  const fn = 'cosineOnecycleSchedule';
  const { steps, pctStart, divFactor, finalDivFactor, dtype, initValue } = checkOnecycleOptions(fn, options, []);
  const boundariesAndScales = onecycleBoundaries(fn, [
    ['pctStart * transitionSteps', Math.trunc(pctStart * steps), divFactor],
    ['transitionSteps', steps, 1 / (divFactor * finalDivFactor)],
  ]);
  return recordCall(piecewiseInterpolateCore(fn, { interpolateType: 'cosine', initValue, boundariesAndScales, dtype }), 'cosine_onecycle_schedule', [options]);
}

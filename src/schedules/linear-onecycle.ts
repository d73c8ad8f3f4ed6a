import { OptaxError } from '../core/errors.js';
import type { Schedule } from '../core/schedule.js';
import { type OnecycleCommonOptions, checkOnecycleOptions, onecycleBoundaries } from './onecycle.js';
import { piecewiseInterpolateCore } from './piecewise-interpolate.js';
import { checkFinite } from './validate.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link linearOnecycleSchedule}. */
export interface LinearOnecycleScheduleOptions extends OnecycleCommonOptions {
  /** The fraction of the cycle spent increasing (in `[0, 1]`, default 0.3). */
  pctStart?: number;
  /** The fraction of the cycle after which the value is back at `peakValue / divFactor` (in `[pctStart, 1]`, default 0.85). */
  pctFinal?: number;
  /** The final value is `peakValue / divFactor / finalDivFactor` (`> 0`, default 1e4). */
  finalDivFactor?: number;
}

/**
 * The one-cycle schedule with three linear phases (optax's `linear_onecycle_schedule`, after Smith &
 * Topin's super-convergence): from `peakValue / divFactor` up to `peakValue` at step
 * `int(pctStart * T)`, back down to `peakValue / divFactor` at `int(pctFinal * T)`, then down to
 * `peakValue / divFactor / finalDivFactor` at `T`, and constant afterwards.
 *
 * It is {@link piecewiseInterpolateSchedule}`('linear', peakValue / divFactor, {int(pctStart * T):
 * divFactor, int(pctFinal * T): 1 / divFactor, T: 1 / finalDivFactor})`, with that schedule's mixed
 * precision (values in the default float dtype, the fraction of each phase in float32).
 *
 * Rejected (OptaxError): `transitionSteps` not an integer in `[1, 2^31-1]` (optax raises for
 * `<= 0`), a non-finite `peakValue`, `pctStart`/`pctFinal` outside `[0, 1]` or `pctStart > pctFinal`,
 * phases that truncate to the same step (e.g. `pctFinal = 1`: optax's dict would silently drop a
 * phase), `divFactor`/`finalDivFactor` not finite and `> 0`, an unknown `dtype`; and, when called, a
 * step count that is not an int32.
 *
 * @param options - `transitionSteps`, `peakValue` (required); `pctStart` (default 0.3), `pctFinal` (default 0.85), `divFactor` (default 25), `finalDivFactor` (default 1e4), `dtype` (default `'float32'`). See {@link LinearOnecycleScheduleOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { linearOnecycleSchedule } from 'optax-ts';
 * const schedule = linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
 * console.log(schedule(0), schedule(30), schedule(100)); // 0.03999999910593033 1 0.000003999999989900971
 * ```
 */
export function linearOnecycleSchedule(options: LinearOnecycleScheduleOptions): Schedule {
  const fn = 'linearOnecycleSchedule';
  const { steps, pctStart, divFactor, finalDivFactor, dtype, initValue } = checkOnecycleOptions(fn, options, ['pctFinal']);
  const pctFinal = checkFinite(fn, 'pctFinal', options.pctFinal ?? 0.85);
  if (!(pctFinal >= 0 && pctFinal <= 1)) throw new OptaxError(`${fn}: pctFinal must be in [0, 1], got ${pctFinal}`);
  if (pctStart > pctFinal) throw new OptaxError(`${fn}: pctStart must be <= pctFinal, got pctStart = ${pctStart}, pctFinal = ${pctFinal}`);

  // Python: int(pct * transition_steps) truncates a double product.
  const boundariesAndScales = onecycleBoundaries(fn, [
    ['pctStart * transitionSteps', Math.trunc(pctStart * steps), divFactor],
    ['pctFinal * transitionSteps', Math.trunc(pctFinal * steps), 1 / divFactor],
    ['transitionSteps', steps, 1 / finalDivFactor],
  ]);
  return recordCall(piecewiseInterpolateCore(fn, { interpolateType: 'linear', initValue, boundariesAndScales, dtype }), 'linear_onecycle_schedule', [options]);
}

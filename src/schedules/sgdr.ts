import { OptaxError } from '../core/errors.js';
import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { joinCore } from './join.js';
import { checkDtype, checkOptions, rethrowWithin } from './validate.js';
import { type WarmupCosineDecayScheduleOptions, warmupCosineDecaySchedule } from './warmup-cosine-decay.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link sgdrSchedule}. */
export interface SgdrScheduleOptions {
  /**
   * One {@link warmupCosineDecaySchedule} option set per cycle (at least one); each cycle lasts its
   * `decaySteps`. The dtype is the top-level `dtype`, not per cycle.
   */
  cosineKwargs: readonly Omit<WarmupCosineDecayScheduleOptions, 'dtype'>[];
  /** `'float32'` (default: JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). */
  dtype?: Dtype;
}

/**
 * SGD with warm restarts (optax's `sgdr_schedule`, after Loshchilov & Hutter): warmup-cosine-decay
 * cycles one after another. Cycle `i` is `warmupCosineDecaySchedule(cosineKwargs[i])` and starts at
 * the sum of the `decaySteps` of the cycles before it:
 *
 * ```text
 * schedule(t) = cycle_i(t - (d_0 + ... + d_(i-1)))   for d_0 + ... + d_(i-1) <= t < d_0 + ... + d_i
 * ```
 *
 * and the last cycle continues (at its end value) after its end. optax builds it with
 * `join_schedules`, and so does this, so the dtype is optax's (see {@link warmupCosineDecaySchedule}
 * and {@link joinSchedules}): float32 in 32-bit mode; under x64 float32 as soon as one cycle has a
 * warmup, float64 when no cycle has one.
 *
 * Rejected (OptaxError): an empty `cosineKwargs` (optax fails when called), whatever
 * {@link warmupCosineDecaySchedule} rejects in a cycle (the message names the cycle), a cycle with
 * its own `dtype` different from the top-level one, cycle starts beyond int32, an unknown `dtype`;
 * and, when called, a step count that is not an int32.
 *
 * @param options - `cosineKwargs` (required: one {@link WarmupCosineDecayScheduleOptions} per cycle, without `dtype`); `dtype` (default `'float32'`). See {@link SgdrScheduleOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { sgdrSchedule } from 'optax-ts';
 * const schedule = sgdrSchedule({ cosineKwargs: [
 *   { initValue: 0, peakValue: 1, warmupSteps: 2, decaySteps: 10, endValue: 0.1 },
 *   { initValue: 0.1, peakValue: 0.5, warmupSteps: 3, decaySteps: 12 },
 * ] });
 * console.log(schedule(2), schedule(10), schedule(13), schedule(100)); // 1 0.09999999403953552 0.5 0
 * ```
 */
export function sgdrSchedule(options: SgdrScheduleOptions): Schedule {
  const fn = 'sgdrSchedule';
  checkOptions(fn, options, ['cosineKwargs', 'dtype']);
  const dtype = checkDtype(fn, options.dtype);
  const kwargs = options.cosineKwargs;
  if (!Array.isArray(kwargs)) throw new OptaxError(`${fn}: cosineKwargs must be an array of warmupCosineDecaySchedule options, got ${typeof kwargs}`);
  if (kwargs.length === 0) throw new OptaxError(`${fn}: cosineKwargs must not be empty`);
  const schedules: Schedule[] = [];
  const boundaries: number[] = [];
  let start = 0;
  kwargs.forEach((kw, i) => {
    const where = `${fn}: cosineKwargs[${i}]`;
    checkOptions(where, kw, ['initValue', 'peakValue', 'warmupSteps', 'decaySteps', 'endValue', 'exponent', 'dtype']);
    const own = (kw as { dtype?: unknown }).dtype;
    if (own !== undefined && own !== dtype) throw new OptaxError(`${where}: dtype ${JSON.stringify(own)} differs from the schedule's dtype '${dtype}'`);
    try {
      schedules.push(warmupCosineDecaySchedule({ ...kw, dtype }));
    } catch (e) {
      rethrowWithin(where, e);
    }
    if (i > 0) boundaries.push(start);
    start += kw.decaySteps;
    if (i < kwargs.length - 1 && start > 2147483647) {
      throw new OptaxError(`${where}: the cycles so far last ${start} steps, beyond int32 (the next cycle could never start)`);
    }
  });
  return recordCall(joinCore(fn, { schedules, boundaries, dtype }), 'sgdr_schedule', [options]);
}

import { OptaxError } from '../core/errors.js';
import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { cosineDecaySchedule } from './cosine-decay.js';
import { joinCore } from './join.js';
import { warmupPart } from './linear.js';
import { checkAtLeast, checkDtype, checkFinite, checkLongSteps, checkOptions, checkSteps } from './validate.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link warmupCosineDecaySchedule}. */
export interface WarmupCosineDecayScheduleOptions {
  /** The value at step 0. */
  initValue: number;
  /** The value reached at the end of the warmup. */
  peakValue: number;
  /** The length `W` of the linear warmup (an integer `>= 0`). */
  warmupSteps: number;
  /** The total length `T` of the schedule, warmup included (an integer `> warmupSteps`; not bounded by int32, as in {@link cosineDecaySchedule}). */
  decaySteps: number;
  /** The value at the end of the decay and afterwards (default 0). */
  endValue?: number;
  /** The exponent `p` of the cosine factor (finite, `>= 0`; default 1), taken as a Python float (`pow`). */
  exponent?: number;
  /** `'float32'` (default: JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). */
  dtype?: Dtype;
}

/**
 * Linear warmup followed by cosine decay (optax's `warmup_cosine_decay_schedule`): with
 * `I = initValue`, `P = peakValue`, `E = endValue`, `W = warmupSteps`, `T = decaySteps`,
 *
 * ```text
 * schedule(t) = I + t / W * (P - I)                                            if t < W
 *               E + (P - E) * (0.5 * (1 + cos(pi * (t - W) / (T - W))))^p       if W <= t < T
 *               E                                                              if t >= T
 * ```
 *
 * optax joins `linear_schedule(I, P, W)` and `cosine_decay_schedule(P, T - W, alpha = E / P,
 * exponent)` at step W (`alpha = 0` when `P = 0`), and so does this (see {@link joinSchedules}).
 * The dtype of the result is optax's: float32 in 32-bit mode; under x64 it is float32 too when
 * `W > 0` (the float32 linear warmup makes the join float32, so the cosine part is computed in
 * float64 and rounded once to float32), but float64 when `W = 0` (the warmup is then the Python float
 * `I`, which does not constrain the type).
 *
 * Rejected (OptaxError): non-finite `initValue`/`peakValue`/`endValue`/`exponent`, a
 * negative `exponent`, `warmupSteps` negative, non-integer or beyond int32, `decaySteps <= warmupSteps`
 * or non-integer (optax raises: the cosine part needs positive decay steps), an unknown
 * `dtype`; and, when called, a step count that is not an int32.
 *
 * @param options - `initValue`, `peakValue`, `warmupSteps`, `decaySteps` (required); `endValue` (default 0), `exponent` (default 1), `dtype` (default `'float32'`). See {@link WarmupCosineDecayScheduleOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { warmupCosineDecaySchedule } from 'optax-ts';
 * const schedule = warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 5, decaySteps: 25, endValue: 0.01 });
 * console.log(schedule(1), schedule(5), schedule(15), schedule(100)); // 0.19999998807907104 1 0.5049999952316284 0.009999999776482582
 * ```
 */
export function warmupCosineDecaySchedule(options: WarmupCosineDecayScheduleOptions): Schedule {
  const fn = 'warmupCosineDecaySchedule';
  checkOptions(fn, options, ['initValue', 'peakValue', 'warmupSteps', 'decaySteps', 'endValue', 'exponent', 'dtype']);
  const initValue = checkFinite(fn, 'initValue', options.initValue);
  const peakValue = checkFinite(fn, 'peakValue', options.peakValue);
  const warmupSteps = checkSteps(fn, 'warmupSteps', options.warmupSteps);
  const decaySteps = checkLongSteps(fn, 'decaySteps', options.decaySteps, 0); // the cosine part's length is a float in optax (see cosineDecaySchedule)
  if (!(decaySteps > warmupSteps)) {
    throw new OptaxError(`${fn}: decaySteps must be > warmupSteps (it includes the warmup), got decaySteps = ${decaySteps}, warmupSteps = ${warmupSteps}`);
  }
  const endValue = checkFinite(fn, 'endValue', options.endValue ?? 0);
  const exponent = checkAtLeast(fn, 'exponent', options.exponent ?? 1, 0, ' (a negative exponent is infinite at t = decaySteps)');
  const dtype = checkDtype(fn, options.dtype);

  const alpha = peakValue === 0 ? 0 : endValue / peakValue; // Python arithmetic (double)
  return recordCall(joinCore(fn, {
    schedules: [
      warmupPart(initValue, peakValue, warmupSteps, dtype),
      cosineDecaySchedule({ initValue: peakValue, decaySteps: decaySteps - warmupSteps, alpha, exponent, dtype }),
    ],
    boundaries: [warmupSteps],
    dtype,
  }), 'warmup_cosine_decay_schedule', [options]);
}

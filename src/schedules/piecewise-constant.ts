import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { type BoundariesAndScales, parseBoundaries } from './boundaries.js';
import { toDtype } from './float.js';
import { defineSchedule } from './typed.js';
import { checkDtype, checkFinite, checkOptions } from './validate.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link piecewiseConstantSchedule}. */
export interface PiecewiseConstantScheduleOptions {
  /** The value before the first boundary. */
  initValue: number;
  /**
   * `{step: scale}`: from `step` on, the value is multiplied by `scale` (default: none). A record (keys
   * are step numbers, e.g. `{ 100: 0.1, 200: 0.1 }`) or a Map.
   */
  boundariesAndScales?: BoundariesAndScales;
  /** `'float32'` (default: JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). */
  dtype?: Dtype;
}

/**
 * A piecewise constant schedule (optax's `piecewise_constant_schedule`): `initValue` times the product
 * of the scales of all boundaries `b` with `t >= b`.
 *
 * optax computes it, for each boundary in increasing order, as `v = v * i + (1 - i) * scale * v` with
 * `i = max(0, sign(b - t))` (1 before the boundary, 0 from it on). `i` is a weakly typed default float
 * (int32 meets the Python float 0.0), so the value is float32 in 32-bit mode and float64 under x64;
 * this reproduces that, operation by operation. Without boundaries, the value is `initValue` itself
 * (optax returns the Python float).
 *
 * Rejected (OptaxError): a non-finite `initValue`, steps that are not integers in
 * `[0, 2^31-1]` or given twice, scales that are negative or not finite (optax raises for negative
 * ones), an unknown `dtype`; and, when called, a step count that is not an int32.
 *
 * @param options - `initValue` (required); `boundariesAndScales` (default none), `dtype` (default `'float32'`). See {@link PiecewiseConstantScheduleOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { piecewiseConstantSchedule } from 'optax-ts';
 * const schedule = piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: { 100: 0.1, 200: 0.1 } });
 * console.log(schedule(50), schedule(150), schedule(250)); // 1 0.10000000149011612 0.010000000707805157
 * ```
 */
export function piecewiseConstantSchedule(options: PiecewiseConstantScheduleOptions): Schedule {
  const fn = 'piecewiseConstantSchedule';
  checkOptions(fn, options, ['initValue', 'boundariesAndScales', 'dtype']);
  const initValue = checkFinite(fn, 'initValue', options.initValue);
  const { boundaries, scales } = parseBoundaries(fn, options.boundariesAndScales);
  const mode = checkDtype(fn, options.dtype);

  // No boundaries: the loop never runs and optax returns the Python float init_value.
  if (boundaries.length === 0) return defineSchedule(fn, mode, 'python', () => initValue);

  const d = mode; // weakly typed default float
  const init = toDtype(d, initValue);
  const scalesD = scales.map((s) => toDtype(d, s));
  return recordCall(defineSchedule(fn, mode, 'weak', (count, a) => {
    let v: ReturnType<typeof a.add> = init;
    for (let k = 0; k < boundaries.length; k++) {
      // sign(threshold - count) in int32 (it wraps), then max(0.0, .) as a float: 1 before, 0 from on.
      const i = a.indicator(d, a.lt(0, a.subInt(boundaries[k], count)));
      v = a.add(d, a.mul(d, v, i), a.mul(d, a.mul(d, a.sub(d, 1, i), scalesD[k]), v));
    }
    return v;
  }), 'piecewise_constant_schedule', [options]);
}

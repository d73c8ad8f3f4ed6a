import { OptaxError } from '../core/errors.js';
import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { type BoundariesAndScales, parseBoundaries } from './boundaries.js';
import { cos, fromInt, mul, toDtype } from './float.js';
import type { ScheduleArith } from './arith.js';
import { defineSchedule } from './typed.js';
import { checkDtype, checkFinite, checkOptions } from './validate.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link piecewiseInterpolateSchedule}. */
export interface PiecewiseInterpolateScheduleOptions {
  /** How to move between the values at consecutive boundaries: `'linear'` or `'cosine'`. */
  interpolateType: 'linear' | 'cosine';
  /** The value at step 0. */
  initValue: number;
  /**
   * `{step: scale}`: the value at `step` is the value at the previous boundary times `scale` (default:
   * none). A record (keys are step numbers) or a Map.
   */
  boundariesAndScales?: BoundariesAndScales;
  /** `'float32'` (default: JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). */
  dtype?: Dtype;
}

/**
 * A schedule interpolating between accumulated scales (optax's `piecewise_interpolate_schedule`).
 * With sorted boundaries `0 = b_0 < b_1 < ... < b_n` and values `v_0 = initValue`,
 * `v_k = v_(k-1) * scale_k`, for `b_k <= t < b_(k+1)` and `pct = (t - b_k) / (b_(k+1) - b_k)`:
 *
 * ```text
 * linear:  schedule(t) = (v_(k+1) - v_k) * pct + v_k
 * cosine:  schedule(t) = v_(k+1) + (v_k - v_(k+1)) / 2 * (cos(pi * pct) + 1)
 * ```
 *
 * and `v_n` from `b_n` on (`0` before step 0). Mixed precision, as in optax: the values come from
 * `jnp.cumprod` (a strongly typed default float: float32, or float64 under x64, multiplied in order),
 * but `pct` is float32 in both modes (an int32 count divided by int steps), and so is the cosine of a
 * cosine interpolation; the result is the value of `indicator . interpolated + (t >= b_n) * v_n`
 * that optax computes.
 *
 * Rejected (OptaxError): `interpolateType` other than `'linear'`/`'cosine'` (optax raises
 * too), a non-finite `initValue`, steps that are not integers in `[0, 2^31-1]` or given twice, scales
 * that are negative or not finite, accumulated values that overflow the dtype (optax would return NaN
 * at every step), an unknown `dtype`; and, when called, a step count that is not an int32.
 *
 * @param options - `interpolateType`, `initValue` (required); `boundariesAndScales` (default none), `dtype` (default `'float32'`). See {@link PiecewiseInterpolateScheduleOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { piecewiseInterpolateSchedule } from 'optax-ts';
 * const schedule = piecewiseInterpolateSchedule({ interpolateType: 'linear', initValue: 1, boundariesAndScales: { 4: 0.1, 8: 0.1 } });
 * console.log(schedule(2), schedule(4), schedule(6), schedule(10)); // 0.550000011920929 0.10000000149011612 0.054999999701976776 0.010000000707805157
 * ```
 */
export function piecewiseInterpolateSchedule(options: PiecewiseInterpolateScheduleOptions): Schedule {
  return recordCall(piecewiseInterpolateCore('piecewiseInterpolateSchedule', options), 'piecewise_interpolate_schedule', [options]);
}

/** {@link piecewiseInterpolateSchedule}, with `fn` naming the public factory in error messages. */
export function piecewiseInterpolateCore(fn: string, options: PiecewiseInterpolateScheduleOptions): Schedule {
  checkOptions(fn, options, ['interpolateType', 'initValue', 'boundariesAndScales', 'dtype']);
  const type = options.interpolateType;
  if (type !== 'linear' && type !== 'cosine') {
    throw new OptaxError(`${fn}: interpolateType must be 'linear' or 'cosine', got ${typeof type === 'string' ? JSON.stringify(type) : String(type)}`);
  }
  const initValue = checkFinite(fn, 'initValue', options.initValue);
  const { boundaries, scales } = parseBoundaries(fn, options.boundariesAndScales);
  const mode = checkDtype(fn, options.dtype);

  const d = mode; // jnp.cumprod's values: strongly typed default float
  const f32: Dtype = 'float32'; // pct, and the cosine of pct
  // bounds = stack((0,) + boundaries); values = cumprod(stack((init_value,) + scales)), multiplied in
  // order (XLA's reduce-window: ((1 * v0) * s1) * s2 ...).
  const bounds = [0, ...boundaries];
  const values = [mul(d, 1, toDtype(d, initValue))];
  for (const s of scales) values.push(mul(d, values[values.length - 1], toDtype(d, s)));
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new OptaxError(`${fn}: initValue times the scales up to step ${bounds[bad]} overflows ${d} (optax would return NaN at every step)`);
  }
  const n = boundaries.length;
  const sizes = boundaries.map((b, k) => fromInt(f32, Math.max(b - bounds[k], 1))); // max(diff, 1)
  const last = values[n];
  const lastBound = bounds[n];
  const pi = toDtype(f32, Math.PI);

  const interpolate = <V, B>(a: ScheduleArith<V, B>, start: number, end: number, pct: V | number): V | number => {
    if (type === 'linear') return a.add(d, a.mul(d, a.sub(d, end, start), pct), start);
    const c = a.add(f32, a.cos(f32, a.mul(f32, pi, pct)), 1); // float32: pct is float32
    return a.add(d, end, a.mul(d, a.div(d, a.sub(d, start, end), 2), c));
  };

  return defineSchedule(fn, mode, mode, (count, a) => {
    // indicator . interp_vals: a dot product over every interval (a NaN anywhere would propagate).
    let acc: ReturnType<typeof a.add> = 0;
    for (let k = 0; k < n; k++) {
      const inside = a.indicator(d, a.and(a.le(bounds[k], count), a.lt(count, bounds[k + 1])));
      const pct = a.div(f32, a.fromInt(f32, a.subInt(count, bounds[k])), sizes[k]);
      acc = a.add(d, acc, a.mul(d, inside, interpolate(a, values[k], values[k + 1], pct)));
    }
    return a.add(d, acc, a.mul(d, a.indicator(d, a.le(lastBound, count)), last));
  }, false); // traced form not derived yet (docs/numerics.md §4): eager even inside lax.cond
}

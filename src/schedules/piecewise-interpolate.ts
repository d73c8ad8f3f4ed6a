import { OptaxError } from '../core/errors.js';
import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { type BoundariesAndScales, parseBoundaries } from './boundaries.js';
import { type ScheduleArith, eagerArith, tracedArith } from './arith.js';
import { fromInt, toDtype } from './float.js';
import { cumulativeProduct } from './cumprod.js';
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
  const bounds = [0, ...boundaries];
  const n = boundaries.length;
  const sizes = boundaries.map((b, k) => fromInt(f32, Math.max(b - bounds[k], 1))); // max(diff, 1)
  const lastBound = bounds[n];
  const pi = toDtype(f32, Math.PI);

  // The constants of the formula: `values`, and the per-interval `end - start` (linear) or
  // `(start - end) / 2` (cosine). Eagerly each is an XLA op; traced, XLA folds them (schedules/arith.ts).
  const constantsFor = (arith: ScheduleArith) => {
    // values = cumprod(stack((init_value,) + scales)): in order from 1, by blocks of 16 beyond 16 (./cumprod.ts).
    const values = cumulativeProduct([initValue, ...scales].map((v) => toDtype(d, v)), (a, b) => arith.constMul(d, a, b));
    const steps = values.slice(1).map((end, k) => (type === 'linear' ? arith.constSub(d, end, values[k]) : arith.constDiv(d, arith.constSub(d, values[k], end), 2)));
    return { values, steps };
  };
  const eager = constantsFor(eagerArith);
  const bad = eager.values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new OptaxError(`${fn}: initValue times the scales up to step ${bounds[bad]} overflows ${d} (optax would return NaN at every step)`);
  }
  const traced = constantsFor(tracedArith);
  // Traced, `Mul(Mul(x, 1/size), C) => x * fold(1/size * C)` needs both constant vectors to reach
  // HandleMultiply as plain constants. HandleConstant turns a vector of two or more equal elements
  // into a broadcast scalar, and a float vector 0, 1, 2, ... into an iota, and neither matches.
  // `jnp.pi * pct`'s pi is a broadcast scalar unless the vectors have one element (a broadcast that
  // keeps the element count becomes a reshape, folded into a constant).
  const plain = (v: readonly number[]): boolean => v.length === 1 || !(v.every((x) => x === v[0]) || v.every((x, i) => x === i));
  const plainSteps = plain(sizes) && plain(traced.steps);
  const plainPi = n === 1;

  return defineSchedule(fn, mode, mode, (count, arith) => {
    const { values, steps } = arith.traced ? traced : eager;
    type Value = ReturnType<typeof arith.add>;
    // indicator . interp_vals: a dot product over every interval (a NaN anywhere would propagate).
    // One indicator at most is 1 and the others 0, so the dot product is exact however XLA sums it.
    let acc: Value = 0;
    for (let k = 0; k < n; k++) {
      const inside = arith.indicator(d, arith.and(arith.le(bounds[k], count), arith.lt(count, bounds[k + 1])));
      // pct = (count - bound) / size: int32 arithmetic, then float32 (true_divide of two int32).
      const x = arith.fromInt(f32, arith.subInt(count, bounds[k]));
      let interpolated: Value;
      if (type === 'linear') {
        // (end - start) * pct + start
        interpolated = arith.mulDivConstAdd(d, f32, steps[k], x, sizes[k], values[k], plainSteps);
      } else {
        // end + (start - end) / 2.0 * (cos(pi * pct) + 1): the cosine in float32 (pct is float32).
        const c = arith.add(f32, arith.cos(f32, arith.mulDivConst(f32, pi, x, sizes[k], plainPi)), 1);
        interpolated = arith.mulAdd(d, steps[k], c, values[k + 1]);
      }
      acc = arith.add(d, acc, arith.mul(d, inside, interpolated));
    }
    // (bounds[-1] <= count) * values[-1]: Mul(Convert(pred), x) => select(pred, x, 0) (HandleMultiply).
    return arith.add(d, acc, arith.select(arith.le(lastBound, count), () => values[n], () => 0));
  });
}

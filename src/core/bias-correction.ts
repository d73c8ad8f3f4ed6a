import { type Dtype, roundTo } from './dtype.js';
import type { ScheduleArith } from '../schedules/arith.js';
import { powf, powfInto } from './libm/powf.js';
import { pow, powInto } from './libm/pow.js';

/**
 * optax's bias correction `1 - decay**count` (`optax.tree.bias_correction`, jitted), as XLA:CPU
 * computes it in `dtype`, before the final rounding of the subtraction (the caller rounds):
 *
 * - `decay**count` with an int32 count is `lax.pow(decay, count)`: the count is converted to the float
 *   dtype (jax-ml/jax, jax/_src/lax/lax.py, `_pow_lower`; a float32 count rounds above 2^24) and the C
 *   library's `pow` runs (see core/libm/powf.ts for how XLA gets there);
 * - float32: glibc's `powf` ({@link powf}), which is not always the correctly rounded power;
 * - float64: glibc's `pow` ({@link pow}), not always correctly rounded either: measured against glibc
 *   2.36 on 2.8 million `decay**count`, the correctly rounded power (`powInt`) differs from it
 *   in 1530 powers and in 703 values of `1 - decay**count`.
 *
 * @example
 * ```ts
 * import { biasCorrection } from 'optax-ts';
 * console.log(biasCorrection('float32', Math.fround(0.9), 1), biasCorrection('float64', 0.9, 1)); // 0.10000002384185791 0.09999999999999998
 * ```
 */
export function biasCorrection(dtype: Dtype, decay: number, count: number): number {
  if (dtype === 'float32') return 1 - powf(Math.fround(decay), Math.fround(count));
  return 1 - pow(decay, count);
}

/**
 * `out[at] = roundTo(dtype, biasCorrection(dtype, roundTo(dtype, decay), count))` where `out[at]`
 * holds `decay`: read and written in place, not passed or returned, since the fused engine computes
 * it at every step and nothing may be allocated (see `powfInto`, `powInto`).
 * @internal
 */
export function writeBiasCorrectionValue(out: Float64Array, at: number, dtype: Dtype, count: number): void {
  if (dtype === 'float32') {
    powfInto(out, at, count);
    out[at] = Math.fround(1 - out[at]);
  } else {
    // float64: the decay is a double already (roundTo is the identity); glibc's pow.
    powInto(out, at, count);
    out[at] = 1 - out[at];
  }
}

/**
 * The bias correction at step `count + 1` (optax's `safe_increment`, then `1 - decay**t`), written over
 * a {@link ScheduleArith} so that the jax-js adapter evaluates it from the count in its graph. With
 * numbers it equals `roundTo(dtype, biasCorrection(dtype, decay, t))` for `decay` in [0, 1] (the
 * flushes it adds only touch subnormals, which `1 - x` rounds away; test/jax-js/schedule.test.ts
 * checks both agree). @internal
 */
export function biasCorrectionOf<V, B>(a: ScheduleArith<V, B>, dtype: Dtype, decay: V | number, count: V | number): V | number {
  // Rounded to the dtype first, as the pure path's writer does; a value of the interpretation (an
  // injected hyperparameter) may be wider (float64 hyperparameters of a float32 leaf).
  const base = typeof decay === 'number' ? roundTo(dtype, decay) : a.cast(dtype, decay);
  return a.sub(dtype, 1, a.pow(dtype, base, a.fromInt(dtype, a.increment(count))));
}

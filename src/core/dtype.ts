/**
 * Floating-point element types, and rounding to them.
 *
 * optax runs in JAX's default 32-bit mode (`float32` leaves, python-float hyperparameters "weakly typed"
 * so that they take the leaf's dtype at the point of use) or with `jax_enable_x64` (`float64`). optax-ts
 * mirrors that: every hyperparameter given as a JS number is rounded to the leaf's dtype where optax
 * would cast it, and every elementwise operation rounds its result to the leaf's dtype.
 */

/** The element type of a leaf: `float32` (JAX's default) or `float64` (JAX with x64 enabled). */
export type Dtype = 'float32' | 'float64';

/** A typed array of one of the supported dtypes. */
export type FloatArray = Float32Array | Float64Array;

/**
 * Rounds a double to the nearest value of `dtype` (round-to-nearest-even, as IEEE casts do).
 *
 * @example
 * ```ts
 * import { roundTo } from 'optax-ts';
 * // 0.1 is not a float32: it rounds to 0.10000000149011612
 * console.log(roundTo('float32', 0.1) === 0.1, roundTo('float32', 0.1)); // false 0.10000000149011612
 * console.log(roundTo('float64', 0.1) === 0.1); // true
 * ```
 */
export function roundTo(dtype: Dtype, x: number): number {
  return dtype === 'float32' ? Math.fround(x) : x;
}

/**
 * `values[at] = roundTo(dtype, values[at])`: in place, so that no double crosses the call (per-step
 * code that must not allocate: a double passed to a call V8 does not inline is a new heap number).
 * @internal
 */
export function roundInPlace(dtype: Dtype, values: Float64Array, at: number): void {
  values[at] = roundTo(dtype, values[at]);
}

/** The dtype of a typed array. */
export function dtypeOfArray(a: FloatArray): Dtype {
  return a instanceof Float32Array ? 'float32' : 'float64';
}

/** Allocates a zero-filled typed array of `dtype`. */
export function allocate(dtype: Dtype, length: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(length) : new Float64Array(length);
}

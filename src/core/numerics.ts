/**
 * The largest int32: optax's step counters are int32 and stop here instead of wrapping.
 *
 * @example
 * ```ts
 * import { INT32_MAX, safeIncrement } from 'optax-ts';
 * console.log(INT32_MAX, safeIncrement(INT32_MAX) === INT32_MAX); // 2147483647 true
 * ```
 */
export const INT32_MAX = 2147483647;

/**
 * Increments an int32 step count, saturating at 2^31-1 like optax's `safe_increment` (so that a very
 * long run keeps a count whose bias correction is 1, instead of wrapping to a negative count).
 *
 * @example
 * ```ts
 * import { safeIncrement } from 'optax-ts';
 * console.log(safeIncrement(0), safeIncrement(2147483647)); // 1 2147483647
 * ```
 */
export function safeIncrement(count: number): number {
  return count < INT32_MAX ? count + 1 : INT32_MAX;
}

/** True for a step count: a non-negative int32 (NaN, fractions, negatives and 2^31 are not). */
export function isStepCount(x: unknown): x is number {
  return isInt32(x) && x >= 0;
}

/** True for an int32 value. */
export function isInt32(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= -2147483648 && x <= INT32_MAX;
}

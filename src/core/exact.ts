/**
 * Error-free transformations of doubles: the building blocks of the double-double arithmetic that
 * optax-ts uses wherever JS's own operations are not rounded the way XLA rounds (correctly rounded
 * `pow` and `cos` in float64, fused multiply-add). One copy, shared by all of them.
 *
 * @internal
 */

/** A double-double value `hi + lo` (|lo| at most half an ulp of hi). */
export type DoubleDouble = [hi: number, lo: number];

/** [s, e] with s + e === a + b exactly (Knuth's TwoSum). */
export function twoSum(a: number, b: number): DoubleDouble {
  const s = a + b;
  const bb = s - a;
  return [s, (a - (s - bb)) + (b - bb)];
}

/** [s, e] with s + e === a + b exactly, given |a| >= |b| (Dekker's FastTwoSum). */
export function fastTwoSum(a: number, b: number): DoubleDouble {
  const s = a + b;
  return [s, b - (s - a)];
}

/** [p, e] with p + e === a * b exactly (Dekker's product with Veltkamp splitting; no overflow assumed). */
export function twoProduct(a: number, b: number): DoubleDouble {
  const p = a * b;
  return [p, productError(a, b, p)];
}

/**
 * The e of {@link twoProduct} alone, `a * b - p` exactly where `p = fl(a * b)`; allocates nothing
 * (for loops that run every optimizer step), and reads nothing but its arguments (the JS kernels embed
 * its source, see fused-multiply-add.ts).
 */
export function productError(a: number, b: number, p: number): number {
  const SPLITTER = 134217729; // 2^27 + 1, Veltkamp's constant for splitting a double into two halves.
  let t = SPLITTER * a;
  const ah = t - (t - a), al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b), bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

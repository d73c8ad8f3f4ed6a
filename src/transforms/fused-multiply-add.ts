import type { Dtype } from '../core/dtype.js';
import { twoProduct, twoSum } from '../core/exact.js';

/**
 * Fused multiply-add `a * b + c` with a single rounding, in float32 or float64: what XLA's CPU
 * backend computes where LLVM contracts a multiplication into the addition that uses it (inside a
 * jit-compiled computation; eager op-by-op execution never fuses). JavaScript has no FMA, so it is
 * emulated exactly: the product is split without error (Dekker), the sum is formed exactly with
 * TwoSum, and the last step rounds to odd first so that the final rounding to nearest is correct
 * (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums", 2008).
 */

const view = new DataView(new ArrayBuffer(8));

/** `a + b` rounded to odd: the truncated sum, with its last bit set when inexact. */
function addRoundToOdd(a: number, b: number): number {
  const [s, e] = twoSum(a, b);
  if (e === 0 || !Number.isFinite(s)) return s;
  view.setFloat64(0, s);
  const bits = view.getBigUint64(0);
  if ((bits & 1n) === 1n) return s; // already odd
  // s is even and inexact: step one ulp towards the exact value (e's side); the result is odd.
  const towardsLarger = (e > 0) === (s > 0);
  view.setBigUint64(0, towardsLarger ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

/** `a * b + c` correctly rounded to double. */
export function fma64(a: number, b: number, c: number): number {
  const p = a * b;
  // Specials, zeros and products at the edges of the range (where Dekker's split would overflow or
  // its error term underflow): one rounding of the plain expression is then exact or what FMA gives.
  if (!Number.isFinite(p) || !Number.isFinite(c) || p === 0 || c === 0 || Math.abs(p) > 2 ** 995 || Math.abs(p) < 2 ** -960) return p + c;
  const [uh, ul] = twoProduct(a, b); // uh + ul === a * b
  const [th, tl] = twoSum(c, uh); // th + tl === c + uh
  return th + addRoundToOdd(tl, ul); // RN(th + RO(tl + ul)) === RN(a * b + c)
}

/** `a * b + c` for float32 values, correctly rounded to float32. */
export function fma32(a: number, b: number, c: number): number {
  // The product of two floats is exact in double; the sum rounded to odd in double (53 >= 24 + 2
  // bits) then rounded to float32 is the correctly rounded float32 result.
  return Math.fround(addRoundToOdd(a * b, c));
}

/** `a * b + c` with one rounding to `dtype`. */
export function fusedMultiplyAdd(dtype: Dtype, a: number, b: number, c: number): number {
  return dtype === 'float32' ? fma32(a, b, c) : fma64(a, b, c);
}

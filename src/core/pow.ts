/**
 * `x ** n` for an integer `n`, correctly rounded to double.
 *
 * `Math.pow` is not correctly rounded on every runtime (V8 11.x, Node 20: `Math.pow(0.9, 4)` is
 * `0.6561000000000001`, one ulp above `0.6561`; V8 13.x, Node 24, returns `0.6561`), and one ulp in
 * a bias correction is one ulp in every float64 update: where a correctly rounded power is meant, it
 * is computed here, the same on every runtime. So the power is computed here by squaring in
 * double-double arithmetic (about 106 significant bits), with the binary exponent kept apart so that
 * nothing overflows or underflows on the way, and rounded once at the end.
 */

import { productError } from './exact.js';
import { OptaxError } from './errors.js';

const view = new DataView(new ArrayBuffer(8));

/** The exponent e with 2^e <= |x| < 2^(e+1), for finite non-zero x. */
function exponentOf(x: number): number {
  view.setFloat64(0, x);
  const bits = (view.getUint16(0) >> 4) & 0x7ff;
  if (bits !== 0) return bits - 1023;
  return exponentOf(x * 2 ** 64) - 64; // subnormal
}

/** x * 2^k without intermediate overflow or underflow of the power of two. */
export function scaleByPowerOfTwo(x: number, k: number): number {
  while (k > 1000) { x *= 2 ** 1000; k -= 1000; }
  while (k < -1000) { x *= 2 ** -1000; k += 1000; }
  return x * 2 ** k;
}

/**
 * The product of two double-doubles `hi + lo` times `2^exp` (|hi| in [1, 2)), renormalized, as
 * [hi, lo, exp] in this scratch array: powInt runs every optimizer step, so it allocates nothing (a
 * module-level `let` holding a double would allocate a heap number at every assignment in V8).
 */
const product = new Float64Array(3);

function multiply(aHi: number, aLo: number, aExp: number, bHi: number, bLo: number, bExp: number): void {
  const p = aHi * bHi;
  const err = productError(aHi, bHi, p) + (aHi * bLo + aLo * bHi);
  const hi = p + err;
  const lo = err - (hi - p);
  // Renormalize hi into [1, 2): multiplying by a power of two is exact.
  const k = exponentOf(hi);
  product[0] = hi * 2 ** -k;
  product[1] = lo * 2 ** -k;
  product[2] = aExp + bExp + k;
}

/**
 * `x ** n` for a non-negative integer `n`, correctly rounded (to the nearest double).
 *
 * @example
 * ```ts
 * import { powInt } from 'optax-ts';
 * console.log(powInt(0.9, 4), powInt(0.9, 2)); // 0.6561 0.81
 * ```
 */
export function powInt(x: number, n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new OptaxError(`powInt: n must be a non-negative integer, got ${String(n)}`);
  if (n === 0) return 1;
  if (x === 0 || !Number.isFinite(x)) return Math.pow(x, n);
  const negative = x < 0 && n % 2 === 1;
  const ex = exponentOf(Math.abs(x));
  let baseHi = Math.abs(x) * 2 ** -ex, baseLo = 0, baseExp = ex;
  let accHi = 1, accLo = 0, accExp = 0;
  for (let m = n; m > 0; m = Math.floor(m / 2)) {
    if (m % 2 === 1) {
      multiply(accHi, accLo, accExp, baseHi, baseLo, baseExp);
      accHi = product[0]; accLo = product[1]; accExp = product[2];
    }
    if (m > 1) {
      multiply(baseHi, baseLo, baseExp, baseHi, baseLo, baseExp);
      baseHi = product[0]; baseLo = product[1]; baseExp = product[2];
    }
  }
  // Far outside the double range the answer is 0 or Infinity whatever the rounding.
  if (accExp > 1100) return negative ? -Infinity : Infinity;
  if (accExp < -1200) return negative ? -0 : 0;
  const r = accExp >= -1021 ? scaleByPowerOfTwo(accHi + accLo, accExp) : scaleByPowerOfTwo(accHi, accExp) + scaleByPowerOfTwo(accLo, accExp);
  return negative ? -r : r;
}

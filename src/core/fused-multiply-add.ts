import type { Dtype } from './dtype.js';
import { productError } from './exact.js';

/**
 * Fused multiply-add `a * b + c` with a single rounding, in float32 or float64: what XLA's CPU
 * backend computes where LLVM contracts a multiplication into the addition that uses it (inside a
 * jit-compiled computation; eager op-by-op execution never fuses). JavaScript has no FMA, so it is
 * emulated exactly: the product is split without error (Dekker), the sum is formed exactly with
 * TwoSum, and the last step rounds to odd first so that the final rounding to nearest is correct
 * (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums", 2008).
 *
 * The functions below allocate nothing and read nothing but their arguments, `Math` and `Number`
 * (the scratch `DataView` is an argument), so that the plain-JS kernels can embed these very
 * functions in their generated source ({@link FMA_FUNCTIONS}): one implementation for every path.
 */

/**
 * `a + b` rounded to odd: the truncated sum, with its last bit set when inexact (`view`: an 8-byte
 * scratch DataView).
 */
export function fmaAddRoundToOdd(a: number, b: number, view: DataView): number {
  const s = a + b;
  const bb = s - a;
  const e = (a - (s - bb)) + (b - bb); // s + e === a + b exactly (TwoSum)
  if (e === 0 || s - s !== 0) return s; // exact, or not finite
  view.setFloat64(0, s, true);
  const low = view.getUint32(0, true);
  if ((low & 1) === 1) return s; // already odd
  // s is even and inexact: one ulp towards the exact value (the bit pattern counts magnitudes).
  if ((e > 0) === (s > 0)) view.setUint32(0, low + 1, true); // low is even: no carry
  else if (low !== 0) view.setUint32(0, low - 1, true);
  else {
    view.setUint32(0, 0xffffffff, true);
    view.setUint32(4, view.getUint32(4, true) - 1, true);
  }
  return view.getFloat64(0, true);
}

/**
 * `a * b + c` for float32 values, correctly rounded to float32.
 *
 * The product of two floats is exact in double (24 + 24 bits), so `s = a * b + c` in double is the
 * exact value rounded once, and `fround(s)` rounds it a second time. The float32 rounding boundaries
 * (the midpoints between neighbouring float32 values, the overflow threshold 2^128 - 2^103 among
 * them) are doubles, and rounding to double is monotonic: the exact value and `s` lie on the same
 * side of every boundary that `s` is not equal to. So `fround(s)` is the correctly rounded result
 * unless `s` is exactly a boundary, where the double rounding may have moved an exact value that
 * was not one onto it. Such an `s` is detected without bit access: with `f = fround(s)` (which
 * differs from a boundary `s` by half the gap to the float32 on its other side, exactly), `t = s +
 * (s - f)` is that other float32, exactly, so `fround(t) === t`; only then (and for a few other `s`
 * where the test errs on the safe side) does the sum go through the rounding to odd (53 >= 24 + 2
 * bits, Boldo-Melquiond), which is correct on every input. `s === f` needs no check: `s` is then a
 * float32 within half a double ulp of the exact value, which rounds to it.
 */
export function fmaFloat32(a: number, b: number, c: number, view: DataView): number {
  const s = a * b + c;
  const f = Math.fround(s);
  const t = s + (s - f);
  // NaN: `s !== f` and `t` is NaN, so `f` (a NaN) is returned; infinite `s` equals `f`.
  if (s === f || Math.fround(t) !== t) return f;
  return Math.fround(fmaAddRoundToOdd(a * b, c, view));
}

/**
 * `a * b + c` correctly rounded to double.
 *
 * Two cases inside Dekker's product range make the emulation meet `inf - inf` (a NaN): a factor
 * beyond 2^995, whose Veltkamp split overflows although the product does not, and a sum `c + p`
 * that overflows (`|c| > 2^1023`). Both are redone at other scales, every scaling exact: the larger
 * factor times 2^-30 and the other times 2^30 (the product unchanged; the other factor is then
 * below 1), and where `c + p` overflowed, `c` and the product at a quarter, the result times 4.
 * Rounding commutes with a power of two in the normal range, so the result is still the one rounding
 * of the exact value (±infinity, or the largest double when the exact sum lies just below the
 * overflow threshold while `fl(c + p)` alone would have overflowed).
 */
export function fmaFloat64(a: number, b: number, c: number, view: DataView): number {
  const p = a * b;
  // Specials, zeros and products at the edges of the range (where Dekker's split would overflow or
  // its error term underflow): one rounding of the plain expression is then exact or what FMA gives.
  if (p - p !== 0 || c - c !== 0 || p === 0 || c === 0 || Math.abs(p) > 2 ** 995 || Math.abs(p) < 2 ** -960) return p + c;
  const r = fmaNormal(a, b, c, p, view);
  if (r === r) return r;
  const aLarger = Math.abs(a) >= Math.abs(b);
  let x = aLarger ? a : b, y = aLarger ? b : a;
  if (Math.abs(x) > 2 ** 995) { x *= 2 ** -30; y *= 2 ** 30; }
  const sum = c + p;
  const cover = sum - sum !== 0 ? 0.25 : 1;
  x *= cover;
  return fmaNormal(x, y, c * cover, x * y, view) / cover;
}

/** `a * b + c` by Dekker's product and TwoSum, `p = fl(a * b)`: correct where no step overflows, else NaN. */
function fmaNormal(a: number, b: number, c: number, p: number, view: DataView): number {
  const ul = productError(a, b, p); // p + ul === a * b
  const th = c + p;
  const bb = th - c;
  const tl = (c - (th - bb)) + (p - bb); // th + tl === c + p
  return th + fmaAddRoundToOdd(tl, ul, view); // RN(th + RO(tl + ul)) === RN(a * b + c)
}

/**
 * The functions above, for kernels that embed them in generated source: each is declared there as
 * `const <name> = <its source>;` (names as the running code has them, whatever a bundler did).
 */
export const FMA_FUNCTIONS: readonly ((...args: never[]) => number)[] = [productError, fmaAddRoundToOdd, fmaFloat32, fmaNormal, fmaFloat64];

const scratch = new DataView(new ArrayBuffer(8));

/** `a * b + c` correctly rounded to double. */
export function fma64(a: number, b: number, c: number): number {
  return fmaFloat64(a, b, c, scratch);
}

/** `a * b + c` for float32 values, correctly rounded to float32. */
export function fma32(a: number, b: number, c: number): number {
  return fmaFloat32(a, b, c, scratch);
}

/** `a * b + c` with one rounding to `dtype`. */
export function fusedMultiplyAdd(dtype: Dtype, a: number, b: number, c: number): number {
  return dtype === 'float32' ? fmaFloat32(a, b, c, scratch) : fmaFloat64(a, b, c, scratch);
}

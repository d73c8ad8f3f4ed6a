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
 * `a * b + c` correctly rounded to double, for every input (subnormal and overflowing products and
 * results, signed zeros, infinities and NaN included).
 *
 * The fast path is Dekker's product with TwoSum and a rounding to odd ({@link fmaNormal}). It is exact
 * when `2^-960 <= |fl(a * b)| <= 2^995` and no step overflows: then the product's error `a * b - p` is
 * a double (its last bit, at least 2^-1066, is above 2^-1074) and so is every partial product of the
 * split factors; an overflow (a factor beyond about 2^996, whose Veltkamp split meets `inf - inf`, a
 * sum `c + p` beyond the largest double, a non-finite `c`) always surfaces as a NaN. A subnormal
 * result is right too: it needs `|c + p|` below 2^-1021 (then `c + p` is exact, on the grid of
 * 2^-1074) or massive cancellation (then `c + p` is exact by Sterbenz's lemma), so the rounding to odd
 * sees an exact sum and the last addition is the one rounding of the exact value.
 *
 * Off the fast path:
 * - a zero or non-finite factor: the product is exactly `p` (±0, ±infinity or NaN, as IEEE 754
 *   defines the product), and `p + c` is its one rounding, with IEEE's sign of a zero sum (inline:
 *   zero factors are common, e.g. a first moment of zero);
 * - finite nonzero factors and a non-finite `c`: the exact product is finite, so the result is `c`
 *   (even where `fl(a * b)` overflowed: `fma(2^600, 2^600, -inf)` is `-inf`, not NaN);
 * - otherwise, rare (a product below 2^-960, whose error Dekker's product cannot hold, or one that
 *   overflows or whose factor is too large to split, or `c + p` overflowing), by integer arithmetic
 *   ({@link fmaFloat64Exact}).
 */
export function fmaFloat64(a: number, b: number, c: number, view: DataView): number {
  const p = a * b, size = Math.abs(p);
  if (size >= 2 ** -960 && size <= 2 ** 995) {
    const r = fmaNormal(a, b, c, p, view);
    if (r === r) return r;
  }
  if (a === 0 || b === 0 || a - a !== 0 || b - b !== 0) return p + c;
  if (c - c !== 0) return c;
  return fmaFloat64Exact(a, b, c, view);
}

/**
 * `a * b + c` for finite `a`, `b`, `c` (`a`, `b` nonzero), rounded to nearest even by BigInt
 * arithmetic: the exact sum as an integer times a power of two, rounded at the double's quantum for
 * its magnitude (2^(e - 52), never below the subnormal quantum 2^-1074), then assembled from its bits:
 * `q + (quantum + 1074) * 2^52` is the bit pattern of `q * 2^quantum` for `q` in [2^52, 2^53] (a carry
 * to 2^53 steps the exponent, up to infinity's pattern) and for a subnormal `q < 2^52`. An exact zero
 * sum is +0 (round to nearest); a nonzero sum that rounds to zero keeps its sign. Allocates (BigInts):
 * only {@link fmaFloat64}'s rare inputs come here.
 */
function fmaFloat64Exact(a: number, b: number, c: number, view: DataView): number {
  const ea = fmaExponent(a, view), eb = fmaExponent(b, view), ec = fmaExponent(c, view);
  const ep = ea + eb, e0 = Math.min(ep, ec);
  const product = fmaSignificand(a, view) * fmaSignificand(b, view) << BigInt(ep - e0);
  const addend = fmaSignificand(c, view) << BigInt(ec - e0);
  const sum = ((a < 0) !== (b < 0) ? -product : product) + (c < 0 ? -addend : addend);
  if (sum === 0n) return 0;
  const magnitude = sum < 0n ? -sum : sum;
  const top = magnitude.toString(2).length - 1 + e0; // the exact value lies in [2^top, 2^(top + 1))
  const quantum = Math.max(top - 52, -1074);
  let q: bigint;
  if (quantum <= e0) q = magnitude << BigInt(e0 - quantum);
  else {
    const shift = BigInt(quantum - e0), rest = magnitude & ((1n << shift) - 1n), half = 1n << (shift - 1n);
    q = magnitude >> shift;
    if (rest > half || (rest === half && (q & 1n) === 1n)) q += 1n;
  }
  let bits = q + (BigInt(quantum + 1074) << 52n);
  if (bits > 0x7ff0000000000000n) bits = 0x7ff0000000000000n; // beyond the largest double: infinity
  view.setBigUint64(0, sum < 0n ? bits | 0x8000000000000000n : bits, true);
  return view.getFloat64(0, true);
}

/** `a * b + c` by Dekker's product and TwoSum, `p = fl(a * b)`: correct where no step overflows, else NaN. */
function fmaNormal(a: number, b: number, c: number, p: number, view: DataView): number {
  const ul = productError(a, b, p); // p + ul === a * b
  const th = c + p;
  const bb = th - c;
  const tl = (c - (th - bb)) + (p - bb); // th + tl === c + p
  return th + fmaAddRoundToOdd(tl, ul, view); // RN(th + RO(tl + ul)) === RN(a * b + c)
}

/** The integer significand of a finite double `x` (below 2^53): `|x| = significand * 2^fmaExponent(x)`. */
function fmaSignificand(x: number, view: DataView): bigint {
  view.setFloat64(0, x, true);
  const bits = view.getBigUint64(0, true) & 0x7fffffffffffffffn;
  return bits >> 52n === 0n ? bits : (bits & 0xfffffffffffffn) | 0x10000000000000n;
}

/** The exponent of the last bit of a finite double's significand (see {@link fmaSignificand}). */
function fmaExponent(x: number, view: DataView): number {
  view.setFloat64(0, x, true);
  const biased = (view.getUint32(4, true) >>> 20) & 0x7ff;
  return (biased === 0 ? 1 : biased) - 1075;
}

/**
 * The functions above, for kernels that embed them in generated source: each is declared there as
 * `const <name> = <its source>;` (names as the running code has them, whatever a bundler did).
 */
export const FMA_FUNCTIONS: readonly ((...args: never[]) => number | bigint)[] = [productError, fmaAddRoundToOdd, fmaFloat32, fmaNormal, fmaSignificand, fmaExponent, fmaFloat64Exact, fmaFloat64];

/**
 * Source lines declaring `FMA_VIEW` (the scratch DataView) and {@link FMA_FUNCTIONS}, for kernels and
 * worker scripts that embed them: `fmaFloat64(a, b, c, FMA_VIEW)` (by `fmaFloat64.name`) is then in scope.
 */
export function fmaFunctionsSource(): string[] {
  return ['const FMA_VIEW = new DataView(new ArrayBuffer(8));', ...FMA_FUNCTIONS.map((fn) => `const ${fn.name} = (${fn.toString()});`)];
}

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

/**
 * Correctly rounded float64 `cos` and `pow`, for the schedules computed in float64 (x64 mode).
 *
 * Why: XLA on CPU evaluates float64 `cos`/`pow` with the C library (glibc), whose results are the
 * correctly rounded ones in all but very rare cases. The JS engine's `Math.cos`/`Math.pow` are only
 * faithful (within 1 ulp): on optax's recorded x64 cosine schedules they are off by an ulp at about
 * one step in twenty. These versions compute in double-double arithmetic (about 104 bits) and round
 * once, so they agree with glibc except where glibc itself is not correctly rounded (measured: one
 * `cos` input in 800, off by 0.503 ulp).
 *
 * float32 does not need this: a float32 result rounded from `Math.cos`'s double is the correctly
 * rounded float32 except with probability ~2^-29.
 *
 * @internal
 */

import { type DoubleDouble as DD, fastTwoSum, twoProduct as twoProd, twoSum } from '../core/exact.js';

function ddAdd(a: DD, b: DD): DD {
  const [s, e1] = twoSum(a[0], b[0]);
  const [t, f] = twoSum(a[1], b[1]);
  let [hi, lo] = fastTwoSum(s, e1 + t);
  [hi, lo] = fastTwoSum(hi, lo + f);
  return [hi, lo];
}

function ddMul(a: DD, b: DD): DD {
  const [p, e] = twoProd(a[0], b[0]);
  return fastTwoSum(p, e + (a[0] * b[1] + a[1] * b[0]));
}

function ddMulNum(a: DD, b: number): DD {
  const [p, e] = twoProd(a[0], b);
  return fastTwoSum(p, e + a[1] * b);
}

function ddDiv(a: DD, b: DD): DD {
  const q1 = a[0] / b[0];
  let r = ddAdd(a, ddMulNum(b, -q1));
  const q2 = r[0] / b[0];
  r = ddAdd(r, ddMulNum(b, -q2));
  const q3 = r[0] / b[0];
  return ddAdd(fastTwoSum(q1, q2), [q3, 0]);
}

/** Multiplies by 2^n exactly (for results in the normal range), in steps that cannot overflow. */
function ldexp(x: number, n: number): number {
  let y = x;
  let k = n;
  while (k > 1000) { y *= 2 ** 1000; k -= 1000; }
  while (k < -1000) { y *= 2 ** -1000; k += 1000; }
  return y * 2 ** k;
}

// 1/n! and 1/(2k+1) as double-doubles.
const INV_FACT: DD[] = [[1, 0]];
for (let n = 1; n <= 30; n++) INV_FACT.push(ddDiv(INV_FACT[n - 1], [n, 0]));
const INV_ODD: DD[] = [];
for (let k = 0; k <= 24; k++) INV_ODD.push(ddDiv([1, 0], [2 * k + 1, 0]));

const LN2: DD = [0.6931471805599453, 2.3190468138462996e-17];

/** floor(pi/2 * 2^1280). */
const PIO2_BITS = 1280;
const PIO2 = BigInt(
  '0x1921fb54442d18469898cc51701b839a252049c1114cf98e804177d4c76273644a29410f31c6809bbdf2a33679a74863' +
    '6605614dbe4be286e9fc26adadaa3848bc90b6aecc4bcfd8de89885d34c6fdad617feb96de80d6fdbdc70d7f6b5133f4' +
    'b5d3e4822f8963fcc9250cca3d9c8b67b8400f97142c77e0b31b4906c38aba734d22c7f51fa499ebf06caba47b9475b2' +
    'c38c5e6ac410aa5773daa520ee12d2cda',
);

const view = new DataView(new ArrayBuffer(8));

/** x = mantissa * 2^exponent with an integer mantissa (x finite, nonzero). */
function decompose(x: number): { mantissa: bigint; exponent: number } {
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & 0xfffffffffffffn;
  let exponent: number;
  if (biased === 0) exponent = -1074;
  else { mantissa |= 1n << 52n; exponent = biased - 1075; }
  return { mantissa: x < 0 ? -mantissa : mantissa, exponent };
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/**
 * x - k*pi/2 as a double-double and k mod 4, with k = round(x / (pi/2)): exact fixed-point arithmetic
 * on BigInts with pi/2 to 200 bits more than x needs (x has at most 1024 integer bits).
 */
function reduce(x: number): { r: DD; quadrant: number } {
  const { mantissa, exponent } = decompose(x);
  const bits = Math.min(PIO2_BITS, Math.max(0, exponent + 53) + 200);
  const pio2 = PIO2 >> BigInt(PIO2_BITS - bits);
  const X = mantissa << BigInt(exponent + bits); // x in units of 2^-bits (|x| > pi/4, so the shift is >= 0)
  let k = X / pio2;
  let R = X - k * pio2;
  if (2n * (R < 0n ? -R : R) > pio2) { // round k to nearest
    const step = R < 0n ? -1n : 1n;
    k += step;
    R -= step * pio2;
  }
  const negative = R < 0n;
  let A = negative ? -R : R;
  const shift = Math.max(0, bitLength(A) - 110);
  A >>= BigInt(shift);
  const hi = Number(A);
  const lo = Number(A - BigInt(hi));
  const scale = shift - bits;
  const sign = negative ? -1 : 1;
  const r = fastTwoSum(sign * ldexp(hi, scale), sign * ldexp(lo, scale));
  return { r, quadrant: Number(((k % 4n) + 4n) % 4n) };
}

/** cos(r) and sin(r) for |r| <= pi/4, by their Taylor series in double-double. */
function cosKernel(r: DD): DD {
  const t = ddMul(r, r);
  let p: DD = INV_FACT[28]; // the t^14 / 28! term is +; the signs then alternate
  for (let n = 13; n >= 0; n--) p = ddAdd(ddMul(p, t), n % 2 === 0 ? INV_FACT[2 * n] : [-INV_FACT[2 * n][0], -INV_FACT[2 * n][1]]);
  return p;
}

function sinKernel(r: DD): DD {
  const t = ddMul(r, r);
  let p: DD = INV_FACT[29]; // the t^14 / 29! term is +
  for (let n = 13; n >= 0; n--) p = ddAdd(ddMul(p, t), n % 2 === 0 ? INV_FACT[2 * n + 1] : [-INV_FACT[2 * n + 1][0], -INV_FACT[2 * n + 1][1]]);
  return ddMul(p, r);
}

function round(a: DD): number {
  return a[0] + a[1];
}

/** Correctly rounded cos(x) for a double x (IEEE special cases as `Math.cos`). */
export function cosF64(x: number): number {
  if (!Number.isFinite(x)) return NaN;
  if (Math.abs(x) <= Math.PI / 4) return round(cosKernel([x, 0]));
  const { r, quadrant } = reduce(x);
  switch (quadrant) {
    case 0: return round(cosKernel(r));
    case 1: { const s = sinKernel(r); return -round(s); }
    case 2: { const c = cosKernel(r); return -round(c); }
    default: return round(sinKernel(r));
  }
}

/** ln(x) for a finite x > 0, as a double-double: e*ln2 + 2*atanh((m-1)/(m+1)), m in [sqrt(1/2), sqrt(2)). */
function lnDD(x: number): DD {
  const { mantissa, exponent } = decompose(x);
  const len = bitLength(mantissa);
  let e = exponent + len - 1; // x = f * 2^e with f in [1, 2)
  let m = ldexp(Number(mantissa), -(len - 1)); // exact: at most 53 bits
  if (m > Math.SQRT2) { m /= 2; e += 1; }
  const s = ddDiv([m - 1, 0], twoSum(m, 1)); // m - 1 is exact (Sterbenz)
  const t = ddMul(s, s);
  let p: DD = INV_ODD[24];
  for (let k = 23; k >= 0; k--) p = ddAdd(ddMul(p, t), INV_ODD[k]);
  return ddAdd(ddMulNum(LN2, e), ddMulNum(ddMul(s, p), 2));
}

/** exp(z) for a double-double z, rounded once (overflow gives Infinity, underflow 0 or a subnormal). */
function expDD(z: DD): number {
  if (z[0] > 710) return Infinity;
  if (z[0] < -746) return 0;
  const k = Math.round(z[0] / LN2[0]);
  const r = ddAdd(z, ddMulNum(LN2, -k)); // |r| <= ln2/2
  let p: DD = INV_FACT[27];
  for (let n = 26; n >= 0; n--) p = ddAdd(ddMul(p, r), INV_FACT[n]);
  return ldexp(round(p), k);
}

/** Correctly rounded x ** y for doubles (C99 `pow` special cases: pow(1, y) = pow(x, 0) = 1). */
export function powF64(x: number, y: number): number {
  if (y === 0 || x === 1) return 1;
  if (Number.isNaN(x) || Number.isNaN(y)) return NaN;
  if (x === -1 && !Number.isFinite(y)) return 1;
  if (!Number.isFinite(x) || !Number.isFinite(y) || x === 0) return Math.pow(x, y);
  if (x < 0) {
    if (!Number.isInteger(y)) return NaN;
    const magnitude = expDD(ddMulNum(lnDD(-x), y));
    return Math.abs(y % 2) === 1 ? -magnitude : magnitude;
  }
  return expDD(ddMulNum(lnDD(x), y));
}

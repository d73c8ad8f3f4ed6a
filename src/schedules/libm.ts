/**
 * A correctly rounded float64 `cos`, for the schedules computed in float64 (x64 mode).
 *
 * Why: XLA on CPU evaluates a float64 `cos` with the C library (glibc's `cos`, IBM's routine), whose
 * results are the correctly rounded ones in all but rare cases since glibc 2.28 dropped its slow
 * paths. The JS engine's `Math.cos` is only faithful (within 1 ulp): on optax's recorded x64 cosine
 * schedules it is off by an ulp at about one step in twenty. This version computes in double-double
 * arithmetic (about 104 bits) and rounds once, so it agrees with glibc except where glibc itself is
 * not correctly rounded (measured: one input in 800, off by 0.503 ulp). Reproducing glibc's `cos`
 * bit for bit, as core/libm does for `cosf`, `powf` and `pow`, is still to do (docs/numerics.md).
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

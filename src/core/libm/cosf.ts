import { fma64 } from '../fused-multiply-add.js';
import { hexFloat as h } from './hex-float.js';
import { asfloat, asuint } from './bits.js';

/**
 * `cosf` as XLA:CPU computes a float32 `cos` on x86-64 Linux: glibc's routine, in the variant its
 * ifunc selects on CPUs with FMA (`__cosf_fma`).
 *
 * Why this routine: JAX lowers `jnp.cos` to `stablehlo.cosine`; XLA:CPU's emitters map it to
 * `math.cos`, lowered to the LLVM intrinsic `llvm.cos.f32` (openxla/xla,
 * xla/backends/cpu/codegen/fusion_compiler.cc: `ConvertMathToLLVM`, then `ConvertMathToLibm`), which
 * becomes a call to `cosf`; XLA's JIT resolves that symbol to the process's C library
 * (xla/backends/cpu/codegen/builtin_definition_generator.cc, `REGISTER_LIBM_SYMBOL(cos, ...)`). XLA
 * replaces only exp, log, log1p, tanh, erf and rsqrt with its own approximations, not cos.
 *
 * The algorithm is glibc's sysdeps/ieee754/flt-32/s_cosf.c with s_sincosf.h and sincosf_poly.h
 * (Szabolcs Nagy, glibc 2.28 and later; worst error 0.56 ulp, so not always the correctly rounded
 * float32): a reduction by pi/2 in double, then a polynomial in double, rounded once to float32.
 * glibc builds it for x86-64 a second time with `-mfma -mavx2`
 * (sysdeps/x86_64/fpu/multiarch/Makefile, `CFLAGS-s_cosf-fma.c`), and GCC contracts each `a + b * c`
 * into one fused multiply-add: the disassembly of `__cosf_fma` in glibc 2.36's libm.so.6 shows exactly
 * which (`vfmadd`/`vfnmadd` below, emulated exactly by {@link fma64}). Checked against that libm on
 * every float32 in [2^-12, 4) and on random inputs of every magnitude (test/core/libm/cosf.test.ts).
 */

/** Polynomial coefficients (sincosf data, s_sincosf_data.c): cos(x) ~ c0 + c1 x^2 + ... + c4 x^8. */
const C0 = 1;
const C1 = h('-0x1.ffffffd0c621cp-2');
const C2 = h('0x1.55553e1068f19p-5');
const C3 = h('-0x1.6c087e89a359dp-10');
const C4 = h('0x1.99343027bf8c3p-16');
/** sin(x) ~ x + s1 x^3 + s2 x^5 + s3 x^7. */
const S1 = h('-0x1.555545995a603p-3');
const S2 = h('0x1.1107605230bc4p-7');
const S3 = h('-0x1.994eb3774cf24p-13');
/** 2/pi * 2^24 (the quadrant ends up in bits 24..31 of the truncated product), and pi/2. */
const HPI_INV_2_24 = h('0x1.45f306dc9c883p+23');
const HPI = h('0x1.921fb54442d18p+0');
/** 2 pi * 2^-64. */
const PI63 = h('0x1.921fb54442d18p-62');
/** The sign of sine in each quadrant. */
const SIGN = [1, -1, -1, 1] as const;
/** 4/pi to 192 bits, 8 new bits per entry (s_sincosf_data.c, `__inv_pio4`). */
const INV_PIO4 = [
  0xa2, 0xa2f9, 0xa2f983, 0xa2f9836e, 0xf9836e4e, 0x836e4e44, 0x6e4e4415, 0x4e441529,
  0x441529fc, 0x1529fc27, 0x29fc2757, 0xfc2757d1, 0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0,
  0x34ddc0db, 0xddc0db62, 0xc0db6295, 0xdb629599, 0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041,
].map(BigInt);


/** glibc's `abstop12`: the top 12 bits of the float32 without the sign. */
function abstop12(bits: number): number {
  return (bits >>> 20) & 0x7ff;
}

const TOP_PIO4 = abstop12(asuint(h('0x1.921fb6p-1')));
const TOP_TINY = abstop12(asuint(2 ** -12));
const TOP_120 = abstop12(asuint(120));
const TOP_INF = abstop12(asuint(Infinity));

/** The cosine polynomial (sinf_poly with an odd quadrant), `negate` for the table's second entry. */
function cosPoly(x2: number, negate: boolean): number {
  const s = negate ? -1 : 1;
  const x4 = x2 * x2;
  const c1 = fma64(x2, s * C1, s * C0);
  const c2 = fma64(x2, s * C4, s * C3);
  const x6 = x2 * x4;
  const c = fma64(x4, s * C2, c1);
  return Math.fround(fma64(x6, c2, c));
}

/** The sine polynomial (sinf_poly with an even quadrant), for `x` already signed. */
function sinPoly(x: number, x2: number): number {
  const s1 = fma64(x2, S3, S2);
  const x3 = x2 * x;
  const x5 = x2 * x3;
  const s = fma64(x3, S1, x);
  return Math.fround(fma64(x5, s1, s));
}

/** glibc's `reduce_large` for |y| >= 120: the exact 2.62 fixed-point product with 4/pi. */
function reduceLarge(bits: number): { x: number; n: number } {
  const i = (bits >>> 26) & 15;
  const shift = (bits >>> 23) & 7;
  const m = BigInt((((bits & 0xffffff) | 0x800000) << shift) >>> 0);
  const mask64 = (1n << 64n) - 1n;
  const res0 = (m * INV_PIO4[i]) & 0xffffffffn; // a 32-bit product
  const res1 = m * INV_PIO4[i + 4];
  const res2 = m * INV_PIO4[i + 8];
  let r = (((res2 >> 32n) | (res0 << 32n)) + res1) & mask64;
  const n = ((r + (1n << 61n)) & mask64) >> 62n;
  r = (r - (n << 62n)) & mask64;
  return { x: Number(BigInt.asIntN(64, r)) * PI63, n: Number(n) };
}

/**
 * `cosf(y)` for a float32 `y`, bit for bit as glibc's `__cosf_fma` (see the module comment).
 *
 * @example
 * ```ts
 * import { cosf } from 'optax-ts';
 * // glibc's cosf is within 0.56 ulp, not always the correctly rounded float32:
 * const x = 0.8105820417404175; // a float32
 * console.log(cosf(x), Math.fround(Math.cos(x))); // 0.6890767812728882 0.6890767216682434
 * ```
 */
export function cosf(y: number): number {
  const bits = asuint(y);
  const top = abstop12(bits);
  const x = Math.fround(y);
  if (top < TOP_PIO4) {
    if (top < TOP_TINY) return 1;
    return cosPoly(x * x, false);
  }
  if (top < TOP_120) {
    const n = ((Math.trunc(x * HPI_INV_2_24) | 0) + 0x800000) >> 24;
    const r = fma64(-n, HPI, x); // x - n * hpi, fused
    if (n & 1) return sinPoly(r * SIGN[n & 3], r * r);
    return cosPoly(r * r, (n & 2) !== 0);
  }
  if (top < TOP_INF) {
    const sign = bits >>> 31;
    const { x: r, n } = reduceLarge(bits);
    const q = n + sign;
    if (n & 1) return sinPoly(r * SIGN[q & 3], r * r);
    return cosPoly(r * r, (q & 2) !== 0);
  }
  return NaN;
}

/**
 * The constants of {@link cosf} for |x| < 120, for reimplementations of the same algorithm on other
 * arithmetic (the jax-js adapter's in-graph cosine). The `top12` thresholds are given as the float32
 * magnitudes they amount to: `abstop12(bits) < T` is `|x| < asfloat(T << 20)`. @internal
 */
export const COSF_PARTS = {
  C0, C1, C2, C3, C4, S1, S2, S3, HPI_INV_2_24, HPI,
  pio4: asfloat(TOP_PIO4 << 20),
  tiny: asfloat(TOP_TINY << 20),
  large: asfloat(TOP_120 << 20),
};

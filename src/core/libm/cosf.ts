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

/**
 * The routine's doubles live in registers (this array) between its parts, never in arguments or
 * return values: V8 boxes a double passed to or returned from a function it did not inline (a heap
 * number each time), and a cosine schedule evaluates `cosf` at every step of the fused engine, which
 * must allocate nothing. Registers by index:
 */
const R = new Float64Array(24);
// Constants: the cosine coefficients (written signed at each call: the quadrant may negate them),
// the sine's, pi/2.
const RC0 = 0, RC1 = 1, RC2 = 2, RC3 = 3, RC4 = 4, RS1 = 5, RS2 = 6, RS3 = 7, RHPI = 8;
R.set([C0, C1, C2, C3, C4, S1, S2, S3, HPI]);
// The input, the output, and the working values.
const RIN = 9, ROUT = 10, RX = 11, RX2 = 12, RX3 = 13, RX4 = 14, RX5 = 15, RX6 = 16, RNEG_N = 17, RA = 18, RB = 19, RC = 20;

/**
 * The multiply-adds, as programs of register indices `[out, a, b, c]`: `R[out] = fma(R[a], R[b],
 * R[c])` in order (each line's comment is glibc's C). One loop runs them all ({@link runFmas}): the
 * emulated FMA then has a single call site, which V8 inlines, where nine would exceed its inlining
 * budget and box their operands.
 */
const FMAS = Uint8Array.from([
  // The reduction: r = x - n * hpi
  RX, RNEG_N, RHPI, RIN,
  // sinf_poly, odd quadrant (the cosine): c1 = c0 + x2 * c1, c2 = c3 + x2 * c4, c = c1 + x4 * c2,
  // then c + x6 * c2
  RA, RX2, RC1, RC0,
  RB, RX2, RC4, RC3,
  RC, RX4, RC2, RA,
  ROUT, RX6, RB, RC,
  // sinf_poly, even quadrant (the sine): s1 = s2 + x2 * s3, s = x + x3 * s1, then s + x5 * s1
  RA, RX2, RS3, RS2,
  RC, RX3, RS1, RX,
  ROUT, RX5, RA, RC,
]);
const F_REDUCE = 0, F_COS = 1, F_SIN = 5, F_END = 8;

/** Runs multiply-adds `from` to `to` of {@link FMAS}. */
function runFmas(from: number, to: number): void {
  for (let k = from; k < to; k++) R[FMAS[4 * k]] = fma64(R[FMAS[4 * k + 1]], R[FMAS[4 * k + 2]], R[FMAS[4 * k + 3]]);
}

/**
 * The cosine polynomial (sinf_poly with an odd quadrant) of R[RX2] into R[ROUT], rounded to float32;
 * `negate` for the table's second entry (the coefficients negated: exact).
 */
function cosPoly(negate: boolean): void {
  const s = negate ? -1 : 1;
  R[RC0] = s * C0; R[RC1] = s * C1; R[RC2] = s * C2; R[RC3] = s * C3; R[RC4] = s * C4;
  R[RX4] = R[RX2] * R[RX2];
  R[RX6] = R[RX2] * R[RX4];
  runFmas(F_COS, F_SIN);
  R[ROUT] = Math.fround(R[ROUT]);
}

/** The sine polynomial (sinf_poly with an even quadrant) of R[RX] (already signed), R[RX2] its square, into R[ROUT] rounded to float32. */
function sinPoly(): void {
  R[RX3] = R[RX2] * R[RX];
  R[RX5] = R[RX2] * R[RX3];
  runFmas(F_SIN, F_END);
  R[ROUT] = Math.fround(R[ROUT]);
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
  R[RIN] = y;
  cosfRegisters();
  return R[ROUT];
}

/**
 * `r[o] = cosf(r[x])`: read from and written to registers, so that no double crosses the call (the
 * schedule programs of schedules/program.ts evaluate `cos` this way at every step). @internal
 */
export function cosfAt(r: Float64Array, x: number, o: number): void {
  R[RIN] = r[x];
  cosfRegisters();
  r[o] = R[ROUT];
}

/** The float32 bits of the input (read through this alias, not a DataView call that might not inline). */
const F32 = new Float32Array(1), U32 = new Uint32Array(F32.buffer);

/** cosf of R[RIN] into R[ROUT]. Arguments of 120 and more (never a schedule's) take a BigInt reduction, which allocates. */
function cosfRegisters(): void {
  F32[0] = R[RIN];
  const bits = U32[0];
  const top = abstop12(bits);
  const x = F32[0];
  if (top < TOP_PIO4) {
    if (top < TOP_TINY) {
      R[ROUT] = 1;
      return;
    }
    R[RX2] = x * x;
    cosPoly(false);
    return;
  }
  if (top < TOP_120) {
    const n = ((Math.trunc(x * HPI_INV_2_24) | 0) + 0x800000) >> 24;
    R[RIN] = x;
    R[RNEG_N] = -n;
    runFmas(F_REDUCE, F_COS); // x - n * hpi, fused
    fromQuadrant(n, n);
    return;
  }
  if (top < TOP_INF) {
    const sign = bits >>> 31;
    const { x: r, n } = reduceLarge(bits);
    R[RX] = r;
    fromQuadrant(n, n + sign);
    return;
  }
  R[ROUT] = NaN;
}

/** The sine or cosine polynomial of the reduced argument R[RX] in quadrant `n` (`q`: n with the input's sign bit added) into R[ROUT]. */
function fromQuadrant(n: number, q: number): void {
  const r = R[RX];
  R[RX2] = r * r;
  if (n & 1) {
    R[RX] = r * SIGN[q & 3];
    sinPoly();
  } else cosPoly((q & 2) !== 0);
}

/**
 * Every branch of {@link cosfRegisters} but the large reduction, run at load: V8 optimizes a function
 * for the branches it has seen, and a step that first takes another one (a cosine decay's argument
 * crossing pi/4, then the quadrant boundaries) throws that code away; until it is optimized again,
 * every call allocates (unoptimized code boxes its doubles). Seen here first, no branch is new later.
 */
function seedBranches(): void {
  const cases = [0, 1e-5, 0.5, -0.7, 1, 2, 2.5, 3.14159, 4, 5, 6, -100, NaN, Infinity];
  for (let rep = 0; rep < 64; rep++) for (const x of cases) { R[RIN] = x; cosfRegisters(); }
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

seedBranches();

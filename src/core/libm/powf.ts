import { fma64 } from '../fused-multiply-add.js';
import { hexFloat as h } from './hex-float.js';
import { asdouble, asfloat, asuint } from './bits.js';
import { exp2fTable } from './exp-table.js';

/**
 * `powf` as XLA:CPU computes a float32 power on x86-64 Linux: glibc's routine, in the variant its
 * ifunc selects on CPUs with FMA (`__powf_fma`).
 *
 * Why this routine: optax's bias correction `decay**count` (a float base, an int32 count) goes through
 * `jnp.power`, whose integer-exponent case is `lax.pow(x, y)` (jax-ml/jax, jax/_src/numpy/ufuncs.py,
 * `_power`, "Case 3"); its lowering converts the exponent to the float type and emits
 * `stablehlo.power` (jax/_src/lax/lax.py, `_pow_lower`). XLA maps that to `math.powf`
 * (xla/mlir_hlo/mhlo/transforms/map_mhlo_to_scalar_op.h, `PowOp`), lowered to `llvm.pow.f32` and a
 * call to `powf`, resolved to the C library (xla/backends/cpu/codegen/builtin_definition_generator.cc).
 * LLVM would turn `pow(x, sitofp(n))` into `powi` (and XLA registers compiler-rt's `__powisf2` for
 * it) only with the `afn` fast-math flag, which XLA:CPU does not set by default
 * (`xla_cpu_enable_fast_math` is false: xla/debug_options_flags.cc). Schedules' `x ** p` with a
 * Python float exponent is the same `powf`.
 *
 * The algorithm is glibc's sysdeps/ieee754/flt-32/e_powf.c (Szabolcs Nagy, glibc 2.28 and later;
 * worst error 0.82 ulp, so not always correctly rounded): log2(x) from a 16-entry table and a
 * polynomial, times y, then exp2 from a 32-entry table and a polynomial, all in double, rounded once
 * to float32. glibc builds it again with `-mfma -mavx2` for CPUs with FMA
 * (sysdeps/x86_64/fpu/multiarch/Makefile, `CFLAGS-e_powf-fma.c`): the disassembly of `__powf_fma` in
 * glibc 2.36's libm.so.6 shows which multiply-adds GCC fused (the `fma64` calls below). Constants:
 * e_powf_log2_data.c and e_exp2f_data.c, identical to the tables in that binary. Checked against
 * that libm on millions of inputs (test/core/libm/powf.test.ts).
 */

/** log2 table: [1/c, log2(c)] for 16 subintervals of [OFF, 2 OFF] (e_powf_log2_data.c). */
const LOG2_TABLE = [
  ['0x1.661ec79f8f3bep+0', '-0x1.efec65b963019p-2'],
  ['0x1.571ed4aaf883dp+0', '-0x1.b0b6832d4fca4p-2'],
  ['0x1.49539f0f010bp+0', '-0x1.7418b0a1fb77bp-2'],
  ['0x1.3c995b0b80385p+0', '-0x1.39de91a6dcf7bp-2'],
  ['0x1.30d190c8864a5p+0', '-0x1.01d9bf3f2b631p-2'],
  ['0x1.25e227b0b8eap+0', '-0x1.97c1d1b3b7afp-3'],
  ['0x1.1bb4a4a1a343fp+0', '-0x1.2f9e393af3c9fp-3'],
  ['0x1.12358f08ae5bap+0', '-0x1.960cbbf788d5cp-4'],
  ['0x1.0953f419900a7p+0', '-0x1.a6f9db6475fcep-5'],
  ['0x1p+0', '0x0p+0'],
  ['0x1.e608cfd9a47acp-1', '0x1.338ca9f24f53dp-4'],
  ['0x1.ca4b31f026aap-1', '0x1.476a9543891bap-3'],
  ['0x1.b2036576afce6p-1', '0x1.e840b4ac4e4d2p-3'],
  ['0x1.9c2d163a1aa2dp-1', '0x1.40645f0c6651cp-2'],
  ['0x1.886e6037841edp-1', '0x1.88e9c2c1b9ff8p-2'],
  ['0x1.767dcf5534862p-1', '0x1.ce0a44eb17bccp-2'],
].flatMap(([invc, logc]) => [h(invc), h(logc)]);
/** The table as doubles, [invc, logc] per entry: a step reads it without boxing anything. */
const LOG2 = Float64Array.from(LOG2_TABLE);
/** log1p(r)/ln2 ~ A0 r^5 + A1 r^4 + A2 r^3 + A3 r^2 + A4 r. */
const [A0, A1, A2, A3, A4] = ['0x1.27616c9496e0bp-2', '-0x1.71969a075c67ap-2', '0x1.ec70a6ca7baddp-2', '-0x1.7154748bef6c8p-1', '0x1.71547652ab82bp+0'].map(h);
const OFF = 0x3f330000;

/**
 * exp2 table: the bits of 2^(i/32) minus i << 47 (e_exp2f_data.c; shared with pow's table), as the
 * high and low 32-bit words of each entry. The routine works on 32-bit words, never on BigInts, so a
 * call allocates nothing (the fused engine computes bias corrections at every step).
 */
const EXP2_HI = Uint32Array.from(exp2fTable(), (t) => Number(t >> 32n));
const EXP2_LO = Uint32Array.from(exp2fTable(), (t) => Number(t & 0xffffffffn));
/** 2^r ~ C0 r^3 + C1 r^2 + C2 r + 1, and the shift that rounds to multiples of 1/32. */
const [C0, C1, C2] = ['0x1.c6af84b912394p-5', '0x1.ebfce50fac4f3p-3', '0x1.62e42ff0c52d6p-1'].map(h);
const SHIFT = h('0x1.8p+47');
const SIGN_BIAS = 1 << 16;
/** Thresholds of the overflow and underflow checks (hoisted: parsing them allocates). */
const OFLOW = h('0x1.fffffffd1d571p+6');
const NEAR_OFLOW = h('0x1.fffffffa3aae2p+6');
const FLT_MAX = h('0x1.fffffep127');

/** A scratch double and its two 32-bit words (the high word first, as `words[0]` reads it big-endian). */
const scratch = new DataView(new ArrayBuffer(8));
/** The high 32 bits of a double's bits. */
function highWord(x: number): number { scratch.setFloat64(0, x); return scratch.getUint32(0); }
/** The low 32 bits of a double's bits. */
function lowWord(x: number): number { scratch.setFloat64(0, x); return scratch.getUint32(4); }
/** The double with these two words of bits. */
function fromWords(hi: number, lo: number): number { scratch.setUint32(0, hi >>> 0); scratch.setUint32(4, lo >>> 0); return scratch.getFloat64(0); }
/** Bits 47 to 62 of 126's bits: the exponent range check below compares with it. */
const TOP_126 = (highWord(126) >>> 15) & 0xffff;

/**
 * The routine's doubles live in registers (this array) between its parts, never in arguments or
 * return values: V8 boxes a double passed to or returned from a function it did not inline (a
 * 12-byte heap object each time), and the fused engine computes a bias correction at every step, so
 * `powf` must allocate nothing. The parts below read and write registers by index; each line's
 * comment is glibc's C.
 */
const R = new Float64Array(22);
// Constants.
const RA0 = 0, RA1 = 1, RA2 = 2, RA3 = 3, RA4 = 4, RC0 = 5, RC1 = 6, RC2 = 7, RONE = 8, RMINUS_ONE = 9;
R.set([A0, A1, A2, A3, A4, C0, C1, C2, 1, -1]);
// The input, the output, and the working values.
const RX = 10, RY = 11, ROUT = 12, RZ = 13, RINVC = 14, RR = 15, RY0 = 16, RR2 = 17, RP = 18, RR4 = 19, RQ = 20, RT = 21;
/** The float32 bits of x (which may exceed a small integer: kept in a typed array too). */
const BITS = new Uint32Array(2);
const IX = 0, SIGN = 1;

/**
 * The multiply-adds of log2 and exp2, as programs of register indices `[out, a, b, c]`:
 * `R[out] = fma(R[a], R[b], R[c])` in order. One loop runs both ({@link runFmas}): the emulated FMA
 * then has a single call site, which V8 inlines, where six call sites would exceed its inlining
 * budget and box their operands.
 */
const FMAS = Uint8Array.from([
  // log2: each line's comment is glibc's C.
  RR, RZ, RINVC, RMINUS_ONE, // r = z * invc - 1
  RY, RA0, RR, RA1, // y = A[0] * r + A[1]
  RP, RA2, RR, RA3, // p = A[2] * r + A[3]
  RQ, RA4, RR, RY0, // q = A[4] * r + y0
  RQ, RP, RR2, RQ, // q = p * r2 + q
  ROUT, RY, RR4, RQ, // y = y * r4 + q
  // exp2
  RZ, RC0, RR, RC1, // z = C[0] * r + C[1]
  RY, RC2, RR, RONE, // y = C[2] * r + 1
  RY, RZ, RR2, RY, // y = z * r2 + y
]);
const LOG2_FMAS = 1, EXP2_FMAS = 6, END_FMAS = 9;

/** Runs multiply-adds `from` to `to` of {@link FMAS}. */
function runFmas(from: number, to: number): void {
  for (let k = from; k < to; k++) R[FMAS[4 * k]] = fma64(R[FMAS[4 * k + 1]], R[FMAS[4 * k + 2]], R[FMAS[4 * k + 3]]);
}

/** R[ROUT] = log2(x) for the float32 bits BITS[IX] (normal, or a subnormal already normalized), in double. */
function log2Inline(): void {
  const ix = BITS[IX];
  const tmp = (ix - OFF) >>> 0;
  const i = (tmp >>> 19) & 15;
  const top = tmp & 0xff800000;
  const iz = (ix - top) >>> 0;
  const k = (top | 0) >> 23; // arithmetic shift
  R[RZ] = asfloat(iz);
  R[RINVC] = LOG2[2 * i];
  runFmas(0, LOG2_FMAS); // r = z * invc - 1
  R[RY0] = LOG2[2 * i + 1] + k; // y0 = logc + k
  R[RR2] = R[RR] * R[RR]; // r2 = r * r
  R[RR4] = R[RR2] * R[RR2]; // r4 = r2 * r2
  runFmas(LOG2_FMAS, EXP2_FMAS);
}

/** R[ROUT] = 2^R[ROUT] (|xd| < 150) times the sign in BITS[SIGN], in double. */
function exp2Inline(): void {
  const xd = R[ROUT];
  let kd = xd + SHIFT;
  // Only the low 17 bits of ki matter: ki & 31 indexes the table, and (ki + signBias) << 47 keeps
  // bits 0-16 of the sum, moved to the high word's bits 15-31 (adding it to an entry never carries
  // out of the low word, whose bits it leaves zero).
  const ki = lowWord(kd);
  kd -= SHIFT;
  R[RR] = xd - kd; // r = xd - kd
  const i = ki & 31;
  R[RT] = fromWords(EXP2_HI[i] + ((((ki & 0x1ffff) + BITS[SIGN]) & 0x1ffff) << 15 >>> 0), EXP2_LO[i]); // s = asdouble(t)
  R[RR2] = R[RR] * R[RR]; // r2 = r * r
  runFmas(EXP2_FMAS, END_FMAS);
  R[ROUT] = R[RY] * R[RT]; // y = y * s
}

/** 0 if `iy` (the bits of a finite non-zero float32) is not an integer, 1 if odd, 2 if even. */
function checkint(iy: number): number {
  const e = (iy >>> 23) & 0xff;
  if (e < 0x7f) return 0;
  if (e > 0x7f + 23) return 2;
  if (iy & ((1 << (0x7f + 23 - e)) - 1)) return 0;
  if (iy & (1 << (0x7f + 23 - e))) return 1;
  return 2;
}

/** 0, infinity or NaN (as float32 bits). */
function zeroinfnan(i: number): boolean {
  return ((2 * i - 1) >>> 0) >= ((2 * 0x7f800000 - 1) >>> 0);
}

/**
 * `powf(x, y)` for float32 `x` and `y`, bit for bit as glibc's `__powf_fma` in round-to-nearest
 * (see the module comment; C99 special cases: `powf(1, y) = powf(x, 0) = 1`, NaN for a negative base
 * and a non-integer exponent, signed zeros and infinities as C99 says).
 *
 * @example
 * ```ts
 * import { powf } from 'optax-ts';
 * // optax's float32 bias correction 1 - b1^t: b1 = float32(0.9), t = 7
 * console.log(powf(Math.fround(0.9), 7)); // 0.47829681634902954
 * ```
 */
export function powf(x: number, y: number): number {
  R[RX] = x;
  R[RY] = y;
  powfRegisters();
  return R[ROUT];
}

/**
 * powf's result where an operand is zero, infinite or NaN, or a negative base has a non-integer
 * exponent (C99's special cases); undefined for the other operands.
 */
function specialCase(x: number, y: number, ix: number, iy: number): number | undefined {
  if (zeroinfnan(iy)) {
    if (((2 * iy) >>> 0) === 0) return 1;
    if (ix === 0x3f800000) return 1;
    if (((2 * ix) >>> 0) > 2 * 0x7f800000 || ((2 * iy) >>> 0) > 2 * 0x7f800000) return NaN;
    if (((2 * ix) >>> 0) === 2 * 0x3f800000) return 1;
    if ((((2 * ix) >>> 0) < 2 * 0x3f800000) === !(iy & 0x80000000)) return 0;
    return Math.fround(y * y);
  }
  if (zeroinfnan(ix)) {
    let x2 = Math.fround(x * x);
    if (ix & 0x80000000 && checkint(iy) === 1) x2 = -x2;
    return iy & 0x80000000 ? Math.fround(1 / x2) : x2;
  }
  if (ix & 0x80000000 && checkint(iy) === 0) return NaN;
  return undefined;
}

/**
 * `out[at] = powf(fround(out[at]), fround(y))`, for the per-step path of the fused engine: the base
 * is read from `out[at]` and the result written there (`y` is an integer count), so that no double
 * crosses the call and nothing is boxed even where V8 does not inline it.
 * @internal
 */
export function powfInto(out: Float64Array, at: number, y: number): void {
  R[RX] = Math.fround(out[at]);
  R[RY] = Math.fround(y);
  powfRegisters();
  out[at] = R[ROUT];
}

/**
 * `r[o] = powf(r[x], r[y])` (operands float32 values): read from and written to registers, so that no
 * double crosses the call (the schedule programs of schedules/program.ts evaluate `lax.pow` this way
 * at every step). @internal
 */
export function powfAt(r: Float64Array, x: number, y: number, o: number): void {
  R[RX] = r[x];
  R[RY] = r[y];
  powfRegisters();
  r[o] = R[ROUT];
}

/** {@link powf} of R[RX] and R[RY], into R[ROUT]. */
function powfRegisters(): void {
  const x = R[RX], y = R[RY];
  let signBias = 0;
  let ix = asuint(x);
  const iy = asuint(y);
  if (((ix - 0x00800000) >>> 0) >= 0x7f800000 - 0x00800000 || zeroinfnan(iy)) {
    const special = specialCase(x, y, ix, iy);
    if (special !== undefined) { R[ROUT] = special; return; }
    // x and y are non-zero finite.
    if (ix & 0x80000000) {
      if (checkint(iy) === 1) signBias = SIGN_BIAS;
      ix &= 0x7fffffff;
    }
    if (ix < 0x00800000) {
      // Normalize a subnormal x so its exponent becomes negative.
      ix = asuint(Math.fround(asfloat(ix) * 2 ** 23)) & 0x7fffffff;
      ix = (ix - (23 << 23)) >>> 0;
    }
  }
  BITS[IX] = ix;
  BITS[SIGN] = signBias;
  log2Inline();
  const ylogx = Math.fround(y) * R[ROUT];
  R[ROUT] = ylogx;
  if (((highWord(ylogx) >>> 15) & 0xffff) >= TOP_126) {
    const negative = signBias !== 0;
    if (ylogx <= -150) { R[ROUT] = negative ? -0 : 0; return; }
    // glibc's __math_may_uflowf (WANT_ERRNO_UFLOW): 0x1.4p-75f squared, the smallest subnormal.
    if (ylogx < -149) { R[ROUT] = negative ? -(2 ** -149) : 2 ** -149; return; }
    if (ylogx > OFLOW) { R[ROUT] = negative ? -Infinity : Infinity; return; }
    // Just below the overflow threshold round-to-nearest gives the largest float32.
    if (ylogx > NEAR_OFLOW) { R[ROUT] = negative ? -FLT_MAX : FLT_MAX; return; }
  }
  exp2Inline();
  R[ROUT] = Math.fround(R[ROUT]);
}

/**
 * The constants of {@link powf}'s exp2 step and its log2 of a positive base, for reimplementations
 * of the same algorithm on other arithmetic (the jax-js adapter evaluates `b ** y` for a constant base
 * in the graph with them). @internal
 */
export const POWF_PARTS = {
  /** log2(x) as powf computes it (in double), for a positive finite float32 `x`. */
  log2(x: number): number {
    let ix = asuint(x);
    if (ix < 0x00800000) ix = ((asuint(Math.fround(asfloat(ix) * 2 ** 23)) & 0x7fffffff) - (23 << 23)) >>> 0;
    BITS[IX] = ix;
    log2Inline();
    return R[ROUT];
  },
  /** log2's table: 1/c and log2(c) for each of its 16 subintervals, and its polynomial A0..A4 and offset. */
  invc: Array.from({ length: 16 }, (_, i) => LOG2[2 * i]),
  logc: Array.from({ length: 16 }, (_, i) => LOG2[2 * i + 1]),
  A: [A0, A1, A2, A3, A4] as const,
  OFF,
  /** 2^(i/32), i = 0..31, as doubles. */
  exp2Table: exp2fTable().map((t, i) => asdouble(t + (BigInt(i) << 47n))),
  C0, C1, C2, SHIFT,
  /** Above these, powf returns infinity, then the largest float32. */
  overflow: OFLOW,
  nearOverflow: NEAR_OFLOW,
};

/**
 * Every branch of {@link powfRegisters}, run at load: V8 optimizes a function for the branches it
 * has seen, and a step that first takes another one (a bias correction `b1^t` that starts to
 * underflow after some hundreds of steps) throws that code away; until it is optimized again, every
 * call allocates (unoptimized code boxes its doubles). Seen here first, no branch is new later. The
 * loop is long enough for V8 to start recording (it does so only after a function has run a while).
 */
function seedBranches(): void {
  const out = new Float64Array(1);
  // A plain power, underflow to a subnormal, to the smallest subnormal, to 0, overflow, the largest
  // float32, a negative base with odd and even exponents, a subnormal base, C99's special cases.
  const cases = [0.9, 3, 0.9, 830, 0.9, 982.5, 0.9, 1000, 2, 200, 2, 127.99999, -0.9, 3, -0.9, 4, 1e-40, 2, 0, 3, 0.9, 0, 1, NaN, -0.9, 0.5, Infinity, 2, 2 ** 31 - 1, 1];
  for (let rep = 0; rep < 64; rep++) for (let i = 0; i < cases.length; i += 2) { out[0] = cases[i]; powfInto(out, 0, cases[i + 1]); }
}
seedBranches();

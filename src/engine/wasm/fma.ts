import type { FunctionBuilder } from './function-builder.js';
import { type FloatOps, Op, SimdOp, ValType } from './opcodes.js';
import type { LaneFailures } from './lane-failures.js';

/**
 * Fused multiply-add `a * b + c`, rounded once, in WebAssembly, which has none (relaxed SIMD's
 * `madd` may or may not fuse): the algorithm of core/fused-multiply-add.ts, generated as instructions.
 * The kernel tests hold it bit-identical to that one on random programs and hard operands.
 *
 * - float32: the product of two floats is exact in float64; their sum with `c` is rounded to odd in
 *   float64 (TwoSum gives its error `e`; an inexact even result steps one ulp towards the exact sum,
 *   by integer arithmetic on its bits), then rounded to float32: correctly rounded (Boldo-Melquiond).
 *   Vectors (two f64x2 halves) first try the plain float64 sum rounded to float32, which is already
 *   correct unless the sum is a float32 rounding boundary; a test of its bits (when a per-call
 *   multiplicand allows it) or two probes around it detect that (see {@link FmaEmitter.vectorFloat32}),
 *   and only such a vector runs the rounding to odd.
 * - float64: Dekker's exact product `p + ul`, TwoSum of `c + p` into `th + tl`, then `th + RO(tl + ul)`,
 *   exact where `2^-960 <= |p| <= 2^995` and no step overflowed (the reference's fast path, see
 *   fmaFloat64). Elsewhere, rare, a zero or non-finite factor gives `p + c` and a non-finite `c` gives
 *   `c` (as in the reference), and the other inputs (tiny or huge products, a factor too large to
 *   split, `c + p` overflowing) call the imported {@link FMA64_IMPORT}: the reference itself, run in
 *   JavaScript (integer arithmetic), so that such edge inputs are one implementation everywhere.
 *
 * The float64 arithmetic is written once for both forms, scalar `f64` and vector `f64x2`
 * ({@link Arith}); only the rounding to odd and the final choice differ (a `select` on an i32
 * condition, or masks).
 */

/** The function a float64 kernel imports for its rare fma inputs: `fma64(a, b, c)`, core's fmaFloat64. */
export const FMA64_IMPORT = { module: 'env', name: 'fma64', params: [ValType.f64, ValType.f64, ValType.f64], results: [ValType.f64] } as const;

/**
 * The smallest multiplicand magnitude for which {@link FmaEmitter.powerOfTwo}'s test is exact: `|r|`
 * times one ulp of 1 must be a normal number (2^-126 / 2^-23 and 2^-1022 / 2^-52).
 */
const POWER_OF_TWO_TEST_MIN = { float32: 2 ** -103, float64: 2 ** -970 } as const;

/** v128 locals holding float32 operands of a vector fma that are per-call scalars, as f64x2 splats. */
export interface WideOperands {
  readonly a?: number;
  readonly b?: number;
  readonly c?: number;
  /** A multiplicand that is a per-call scalar, which may be a power of two (see {@link FmaEmitter.powerOfTwo}). */
  readonly powerOfTwo?: PowerOfTwoOperand;
  /**
   * i32 local: 1 when a per-call multiplicand makes every float32 sum below 2^-126 exact in float64
   * (see {@link FmaEmitter.fineGrid}); the float32 vector code then tests float64 sums for a float32
   * midpoint by their bits alone.
   */
  readonly fineGrid?: number;
  /**
   * Operands that are a float32 vector loaded from memory, unchanged (no flush of subnormals), at
   * these addresses: the float64 halves are then loaded and widened in one step each
   * (`v128.load64_zero` + `f64x2.promote_low_f32x4`, which V8 emits as one `cvtps2pd` from memory),
   * instead of moving lanes 2-3 down from a register first.
   */
  readonly loaded?: { readonly a?: LoadAddress; readonly b?: LoadAddress; readonly c?: LoadAddress };
}

/** Where a float32 vector operand lies in memory: an i32 local (the address) and a constant offset. */
export interface LoadAddress {
  readonly pointer: number;
  readonly offset: number;
}

/** A per-call multiplicand of an fma, tested once per call (see {@link FmaEmitter.powerOfTwo}). */
export interface PowerOfTwoOperand {
  /** Which multiplicand it is. */
  readonly operand: 'a' | 'b';
  /** i32 local: 1 when it is a normal power of two (of either sign), else 0. */
  readonly flag: number;
  /** v128 local: its reciprocal (exact, a power of two too, when `flag` is 1), splatted. */
  readonly inverse: number;
}

/** Float64 arithmetic in one form (scalar or f64x2), on locals of that form. */
interface Arith {
  readonly add: () => void;
  readonly sub: () => void;
  readonly mul: () => void;
  /** Comparisons, giving an i32 (scalar) or a lane mask (vector), and the `and` of two such. */
  readonly eq: () => void;
  readonly ge: () => void;
  readonly and: () => void;
  readonly abs: () => void;
  /** Pushes the constant x (splatted for vectors). */
  readonly constant: (x: number) => void;
  /** Scratch local k of the form. */
  readonly temp: (k: number) => number;
}

/** Lanes 2..3 of an f32x4 moved to lanes 0..1 (for `f64x2.promote_low_f32x4`). */
const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
/** The low halves of two vectors, joined (two float32 pairs demoted from f64x2 halves). */
const LOW_HALVES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
/** The relative distance of the float32 fast path's two probes from the float64 sum (see vectorFloat32). */
const NEAR_MIDPOINT = 2 ** -40;
/** The low 32-bit words of two f64x2 vectors, side by side (an i32x4 of lanes 0-1 of the first, 0-1 of the second). */
const LOW_WORDS = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
/**
 * The bits of a float64 below a float32's last one are bits 0..28; at a float32 midpoint they are a 1
 * and 28 zeros. The low word shifted left by 3 keeps exactly those bits, so the test is its equality
 * with this (a shift by a constant needs no register; a mask would hold one through the loop).
 */
const BELOW_FLOAT32_SHIFT = 3;
const FLOAT32_MIDPOINT_SHIFTED = 0x80000000 | 0;

export class FmaEmitter {
  private readonly temps = new Map<ValType, number[]>();
  private one64 = -1;
  private zero = -1;
  private float32Midpoint = -1;
  private readonly scalarF64: Arith;
  private readonly vectorF64: Arith;

  /**
   * @param relaxedMadd - vectors by `f32x4.relaxed_madd` / `f64x2.relaxed_madd`, which the caller
   *   knows to be fused in this runtime (relaxed-madd.ts): the same bits as the emulation, in one instruction.
   * @param fma64Function - float64: the function index of the imported {@link FMA64_IMPORT}.
   */
  constructor(private readonly f: FunctionBuilder, private readonly ops: FloatOps, private readonly relaxedMadd = false, private readonly fma64Function = -1) {
    this.scalarF64 = {
      add: () => { f.op(Op.f64Add); },
      sub: () => { f.op(Op.f64Sub); },
      mul: () => { f.op(Op.f64Mul); },
      eq: () => { f.op(Op.f64Eq); },
      ge: () => { f.op(Op.f64Ge); },
      and: () => { f.op(Op.i32And); },
      abs: () => { f.op(Op.f64Abs); },
      constant: (x) => { f.f64Const(x); },
      temp: (k) => this.temp(ValType.f64, k),
    };
    this.vectorF64 = {
      add: () => { f.simd(SimdOp.f64x2Add); },
      sub: () => { f.simd(SimdOp.f64x2Sub); },
      mul: () => { f.simd(SimdOp.f64x2Mul); },
      eq: () => { f.simd(SimdOp.f64x2Eq); },
      ge: () => { f.simd(SimdOp.f64x2Ge); },
      and: () => { f.simd(SimdOp.v128And); },
      abs: () => { f.simd(SimdOp.f64x2Abs); },
      constant: (x) => { f.f64Const(x).simd(SimdOp.f64x2Splat); },
      temp: (k) => this.temp(ValType.v128, k),
    };
  }

  /** Makes the constants the vector code reads (call before the loops). */
  prepare(): void {
    const f = this.f;
    this.one64 = f.local(ValType.v128);
    f.v128Const([1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]).localSet(this.one64);
    this.zero = f.local(ValType.v128);
    f.v128Const(new Array<number>(16).fill(0)).localSet(this.zero);
    if (this.ops.lanes === 4) {
      this.float32Midpoint = f.local(ValType.v128);
      f.i32Const(FLOAT32_MIDPOINT_SHIFTED).simd(SimdOp.i32x4Splat).localSet(this.float32Midpoint);
    }
  }

  private temp(type: ValType, k: number): number {
    let list = this.temps.get(type);
    if (!list) this.temps.set(type, (list = []));
    while (list.length <= k) list.push(this.f.local(type));
    return list[k];
  }

  /** `a * b + c` of the scalar locals a, b, c (of the dtype), left on the stack. */
  scalar(a: number, b: number, c: number): void {
    const f = this.f, A = this.scalarF64;
    if (this.ops.lanes === 4) {
      const p = A.temp(0), cc = A.temp(1);
      f.localGet(a).op(Op.f64PromoteF32).localGet(b).op(Op.f64PromoteF32).op(Op.f64Mul).localSet(p); // exact
      f.localGet(c).op(Op.f64PromoteF32).localSet(cc);
      this.scalarAddRoundToOdd(p, cc);
      f.op(Op.f32DemoteF64);
      return;
    }
    const r = A.temp(16);
    const p = this.float64(A, a, b, c);
    f.localSet(r);
    this.fastPathHolds(A, r, p);
    f.if(ValType.f64).localGet(r);
    f.else().localGet(a).localGet(b).localGet(c).call(this.fma64Index()).end();
  }

  private fma64Index(): number {
    if (this.fma64Function < 0) throw new Error('FmaEmitter: a float64 fma needs the imported fma64 function');
    return this.fma64Function;
  }

  /**
   * Pushes where the fast path's result (local r) is exact: `r` is not NaN and `2^-960 <= |p| <= 2^995`
   * (an i32 for scalars, a mask for vectors).
   */
  private fastPathHolds(A: Arith, r: number, p: number): void {
    const f = this.f;
    f.localGet(r).localGet(r);
    A.eq();
    f.localGet(p);
    A.abs();
    A.constant(2 ** -960);
    A.ge();
    A.and();
    A.constant(2 ** 995);
    f.localGet(p);
    A.abs();
    A.ge();
    A.and();
  }

  /**
   * Tests, once per call, whether the scalar local `r` (a per-call multiplicand of an fma, of the
   * dtype) is a normal power of two, and makes its splatted reciprocal: see {@link FmaEmitter.vector}.
   * A normal `|r| = 2^e` is the one value for which `|r| * (1 + u)` (u: one ulp of 1) is exactly
   * `|r| + |r| u`; for any other normal `|r|`, `|r| u` lies strictly between one and two ulps of `|r|`
   * and the product rounds to `|r|` plus one or two ulps, never to `|r| + |r| u` (NaN and infinities
   * fail the test too). That argument needs `fl(|r| u)` to be `|r| u` exactly, i.e. `|r| u` normal:
   * `|r| >= 2^-103` (float32), `2^-970` (float64). Below, `|r| u` is rounded to the subnormal grid, on
   * which every `|r|` of the lowest binade passes (`fl(|r| (1 + u)) - |r|` and `fl(|r| u)` are the
   * same rounding of `|r| u` to multiples of 2^-149), so such multiplicands, powers of two included,
   * take the general emulation.
   */
  powerOfTwo(r: number, operand: 'a' | 'b'): PowerOfTwoOperand {
    const f = this.f, ops = this.ops, f32 = ops.lanes === 4;
    const constant = (x: number): FunctionBuilder => (f32 ? f.f32Const(x) : f.f64Const(x));
    const ulp = f32 ? 2 ** -23 : 2 ** -52;
    const magnitude = f.local(ops.valType), flag = f.local(ValType.i32), inverse = f.local(ValType.v128);
    f.localGet(r).op(ops.scalar.abs).localSet(magnitude);
    f.localGet(magnitude);
    constant(f32 ? POWER_OF_TWO_TEST_MIN.float32 : POWER_OF_TWO_TEST_MIN.float64);
    f.op(f32 ? Op.f32Ge : Op.f64Ge);
    f.localGet(magnitude);
    constant(1 + ulp);
    f.op(ops.scalar.mul).localGet(magnitude).op(ops.scalar.sub).localGet(magnitude);
    constant(ulp);
    f.op(ops.scalar.mul).op(f32 ? Op.f32Eq : Op.f64Eq).op(Op.i32And).localSet(flag);
    constant(1);
    f.localGet(r).op(ops.scalar.div).simd(ops.splat).localSet(inverse);
    return { operand, flag, inverse };
  }

  /**
   * Tests, once per call, whether the float32 scalar local `r` (a per-call multiplicand of an fma)
   * is a multiple of 2^-30 (or infinite), and returns an i32 local holding 1 if so: see
   * {@link FmaEmitter.vectorFloat32}. Then every product `r * y` of a float32 `y` (a multiple of
   * 2^-149) is a multiple of 2^-179, and so is its sum with a float32 `c`; a sum below 2^-126 is then
   * an integer below 2^53 times 2^-179, which float64 holds exactly. Every normal float32 of
   * magnitude at least 2^-7 passes (its last bit is at least 2^-30): adamax's `1 - b1` and `b1` for
   * the usual b1 in [0.5, 0.99], MultiSteps' `1 / (n + 1)` for n < 128. NaN fails (`trunc(NaN) != NaN`).
   */
  fineGrid(r: number): number {
    const f = this.f, flag = f.local(ValType.i32), scaled = this.temp(ValType.f64, 30);
    f.localGet(r).op(Op.f64PromoteF32).f64Const(2 ** 30).op(Op.f64Mul).localTee(scaled); // exact
    f.op(Op.f64Trunc).localGet(scaled).op(Op.f64Eq).localSet(flag);
    return flag;
  }

  /**
   * `a * b + c` of the vector locals a, b, c (f32x4 or f64x2), left on the stack. For float32, `wide`
   * may give, for an operand that is the same in every lane (a per-call scalar), a v128 local holding
   * it as an f64x2 splat: the loop then does not widen it again for every vector.
   *
   * With `wide.powerOfTwo`, a call whose per-call multiplicand `r` is a power of two (MultiSteps'
   * running mean at mini-steps 0, 1, 3, 7, ...: `r = 1 / (n + 1)`) first tries the plain `fl(x * r) +
   * c`: when `q = fl(x * r)` is exact, the fma's one rounding is that of the addition. `q` is exact
   * exactly when `q * (1 / r) == x` (1 / r is exact; a product that underflowed or overflowed, and a
   * NaN `x`, fail the test; an infinite `x` passes, and `inf + c` is what the fma gives). A vector
   * with a lane that fails takes the general emulation.
   */
  vector(a: number, b: number, c: number, wide: WideOperands = {}): void {
    if (this.relaxedMadd) {
      this.f.localGet(a).localGet(b).localGet(c).simd(this.ops.lanes === 4 ? SimdOp.f32x4RelaxedMadd : SimdOp.f64x2RelaxedMadd);
      return;
    }
    const p2 = wide.powerOfTwo;
    if (!p2) {
      this.general(a, b, c, wide);
      return;
    }
    this.f.localGet(p2.flag).if(ValType.v128);
    this.powerOfTwoOr(a, b, c, p2, () => this.general(a, b, c, wide));
    this.f.else();
    this.general(a, b, c, wide);
    this.f.end();
  }

  /**
   * The shortcut by a power of two (`p2.flag` known to hold), with `otherwise` for a vector where it
   * fails, or its lanes added to the `otherwise` failures (see {@link FmaEmitter.vectorOnFineGrid}).
   */
  private powerOfTwoOr(a: number, b: number, c: number, p2: PowerOfTwoOperand, otherwise: (() => void) | LaneFailures): void {
    const f = this.f, ops = this.ops, q = this.temp(ValType.v128, 15);
    f.localGet(a).localGet(b).simd(ops.vector.mul).localTee(q);
    f.localGet(p2.inverse).simd(ops.vector.mul).localGet(p2.operand === 'a' ? b : a).simd(ops.vectorNe);
    if (typeof otherwise !== 'function') {
      otherwise.add();
      f.localGet(q).localGet(c).simd(ops.vector.add);
      return;
    }
    f.simd(SimdOp.i32x4Bitmask).if(ValType.v128);
    otherwise();
    f.else().localGet(q).localGet(c).simd(ops.vector.add).end();
  }

  /**
   * {@link FmaEmitter.vector} of float32 lanes where the caller has checked, once per call, that
   * `wide.fineGrid` holds, and whether `wide.powerOfTwo`'s flag does (`powerOfTwo`): the shortcut by
   * a power of two (then) or the bits check, without the per-call branches and the probed path.
   *
   * The lanes that do not settle so (rare: a product by the power of two that is inexact, a float64
   * sum on a float32 rounding boundary) are added to `failures`: the result left on the stack is then
   * wrong there, and the caller must compute such a vector again by {@link FmaEmitter.vector},
   * exactly. So the exact emulation is not in the caller's loop: its code and constants held vector
   * registers that the common path then spilled and reloaded (x64 has 16); measured on
   * MultiSteps(adamax)'s passes (float32, 1e6 elements, one thread), a mini-step by a power of two
   * went from about 1.3x a plain adamax pass to about 1.0x. (Calling a function for it instead is
   * slower still: V8 spills every vector live across a call, on the common path too.)
   */
  vectorOnFineGrid(a: number, b: number, c: number, wide: WideOperands, powerOfTwo: boolean, failures: LaneFailures): void {
    if (this.ops.lanes !== 4 || wide.fineGrid === undefined || (powerOfTwo && !wide.powerOfTwo)) throw new Error('vectorOnFineGrid: float32 with a fine-grid multiplicand only');
    if (powerOfTwo) this.powerOfTwoOr(a, b, c, wide.powerOfTwo!, failures);
    else this.vectorFloat32ByBits(a, b, c, wide, failures);
  }

  /** {@link FmaEmitter.vector} without the power-of-two shortcut. */
  private general(a: number, b: number, c: number, wide: WideOperands): void {
    const f = this.f, A = this.vectorF64;
    if (this.ops.lanes === 4) {
      this.vectorFloat32(a, b, c, wide);
      return;
    }
    const r = A.temp(16), fast = A.temp(17), plain = A.temp(18), Z = this.zero;
    const p = this.float64(A, a, b, c);
    f.localSet(r);
    this.fastPathHolds(A, r, p);
    f.localTee(fast).simd(SimdOp.i32x4Bitmask).i32Const(15).op(Op.i32Ne);
    f.if(ValType.v128);
    // Some lane is off the fast path (rare): a zero or non-finite factor gives p + c, a non-finite c
    // gives c (as in fmaFloat64); any other lane calls the reference, for both lanes.
    const nonFinite = (x: number): void => { f.localGet(x).localGet(x).simd(SimdOp.f64x2Sub).localGet(Z).simd(SimdOp.f64x2Ne); };
    f.localGet(a).localGet(Z).simd(SimdOp.f64x2Eq).localGet(b).localGet(Z).simd(SimdOp.f64x2Eq).simd(SimdOp.v128Or);
    nonFinite(a);
    f.simd(SimdOp.v128Or);
    nonFinite(b);
    f.simd(SimdOp.v128Or).localTee(plain).localGet(fast).simd(SimdOp.v128Or);
    nonFinite(c);
    f.simd(SimdOp.v128Or).simd(SimdOp.i32x4Bitmask).i32Const(15).op(Op.i32Ne);
    f.if(ValType.v128);
    for (const lane of [0, 1]) {
      if (lane === 1) f.localGet(r); // r: lane 0's result below, replaced next
      for (const x of [a, b, c]) f.localGet(x).simdLane(SimdOp.f64x2ExtractLane, lane);
      f.call(this.fma64Index());
      if (lane === 0) f.simd(SimdOp.f64x2Splat).localSet(r);
      else f.simdLane(SimdOp.f64x2ReplaceLane, 1);
    }
    f.else();
    f.localGet(r).localGet(p).localGet(c).simd(SimdOp.f64x2Add).localGet(c).localGet(plain).simd(SimdOp.v128Bitselect).localGet(fast).simd(SimdOp.v128Bitselect);
    f.end();
    f.else().localGet(r).end();
  }

  /**
   * float32 lanes: the float64 sum `s = fl64(a * b + c)` rounded to float32, which is the correctly
   * rounded fma but where `s` is a float32 rounding boundary; a vector where that may be the case
   * takes the exact path ({@link FmaEmitter.vectorFloat32Exact}), whose result is the same bits.
   *
   * Why only there: the product `p = a * b` is exact in float64 (24 + 24 bits), so `s` is the exact
   * `x = p + c` rounded once. The float32 rounding boundaries (midpoints between neighbouring
   * float32 values, the overflow threshold 2^128 - 2^103 among them) are float64 values, and
   * rounding to float64 is monotonic, so `x` and `s` lie on the same side of every boundary other
   * than `s` itself (an `x` on a boundary would be a float64, hence `s`); rounding to float32
   * (`demote`, round to nearest even, also monotonic) then gives `x` and `s` the same float32.
   *
   * How a vector is tested, by one of two checks:
   * - with `wide.fineGrid` (a per-call multiplicand that makes every sum below 2^-126 exact, see
   *   {@link FmaEmitter.fineGrid}), by bits: a boundary `s` of magnitude at least 2^-126, in the
   *   binade [2^e, 2^(e+1)), is an odd multiple of 2^(e-24), i.e. its float64 significand ends in a
   *   1 followed by 28 zeros (bits 0..28 are 0x10000000: the low words of both halves, one
   *   shuffle, a shift left by 3, `eq` with 0x80000000). Below 2^-126, where the float32 grid is no longer relative, `s = x` is
   *   exact and rounds correctly wherever it lies. Infinite sums have zero low bits and round to
   *   the infinity the fma gives; NaN lanes may match, and take the exact path.
   * - otherwise, by two probes: `up = fl64(s (1 + d))` and `dn = fl64(s (1 - d))` with d = 2^-40
   *   bracket `x` (each is `s` moved away from it by at least 2^-40 |s| - 2^-53 |s|, far more than
   *   |x - s| <= 2^-53 |s|), so when demote(up) === demote(dn), RN32(x), which lies between them,
   *   equals both. They differ only when a boundary lies within about 2^-40 |s| of `s`. (Zeros:
   *   `x = 0` exactly iff `s = 0`, with the sign IEEE gives the exact sum, and up = dn = s.
   *   Infinite or NaN operands: up and dn are the same infinity or NaN, as an fma gives.) The test
   *   compares the bits (i32x4.ne), so NaN lanes with equal bits stay on the fast path.
   * Either check flags about one lane in 2^16 (probes) to 2^29 (bits) of random data.
   */
  private vectorFloat32(a: number, b: number, c: number, wide: WideOperands): void {
    const f = this.f;
    if (wide.fineGrid === undefined) {
      this.vectorFloat32Probed(a, b, c, wide);
      return;
    }
    f.localGet(wide.fineGrid).if(ValType.v128);
    this.vectorFloat32ByBits(a, b, c, wide);
    f.else();
    this.vectorFloat32Probed(a, b, c, wide);
    f.end();
  }

  /** The float64 sums `a * b + c` of lanes 0-1 and 2-3 into the f64x2 locals lo and hi. */
  private float64Sums(a: number, b: number, c: number, wide: WideOperands, lo: number, hi: number): void {
    const f = this.f;
    for (const half of [lo, hi]) {
      this.widen(a, half === hi, wide.a, wide.loaded?.a);
      this.widen(b, half === hi, wide.b, wide.loaded?.b);
      f.simd(SimdOp.f64x2Mul); // exact
      this.widen(c, half === hi, wide.c, wide.loaded?.c);
      f.simd(SimdOp.f64x2Add).localSet(half);
    }
  }

  /**
   * {@link FmaEmitter.vectorFloat32} checked by the bits of the float64 sums; with `failures`, the
   * lanes that need the exact path are added there instead (see {@link FmaEmitter.vectorOnFineGrid}).
   */
  private vectorFloat32ByBits(a: number, b: number, c: number, wide: WideOperands, failures?: LaneFailures): void {
    const f = this.f, A = this.vectorF64;
    const lo = A.temp(12), hi = A.temp(13), rounded = A.temp(14);
    this.float64Sums(a, b, c, wide, lo, hi);
    f.localGet(lo).simd(SimdOp.f32x4DemoteF64x2Zero).localGet(hi).simd(SimdOp.f32x4DemoteF64x2Zero).shuffle(LOW_HALVES).localSet(rounded);
    f.localGet(lo).localGet(hi).shuffle(LOW_WORDS).i32Const(BELOW_FLOAT32_SHIFT).simd(SimdOp.i32x4Shl);
    f.localGet(this.float32Midpoint).simd(SimdOp.i32x4Eq);
    if (failures) {
      failures.add();
      f.localGet(rounded);
      return;
    }
    f.simd(SimdOp.i32x4Bitmask).if(ValType.v128);
    this.vectorFloat32Exact(a, b, c);
    f.else().localGet(rounded).end();
  }

  /** {@link FmaEmitter.vectorFloat32} checked by two probes around the float64 sums. */
  private vectorFloat32Probed(a: number, b: number, c: number, wide: WideOperands): void {
    const f = this.f, A = this.vectorF64;
    const lo = A.temp(12), hi = A.temp(13), up = A.temp(14);
    this.float64Sums(a, b, c, wide, lo, hi);
    const demoteScaled = (factor: number): void => {
      for (const half of [lo, hi]) {
        f.localGet(half);
        A.constant(factor);
        f.simd(SimdOp.f64x2Mul).simd(SimdOp.f32x4DemoteF64x2Zero);
      }
      f.shuffle(LOW_HALVES);
    };
    demoteScaled(1 + NEAR_MIDPOINT);
    f.localTee(up);
    demoteScaled(1 - NEAR_MIDPOINT);
    f.simd(SimdOp.i32x4Ne).simd(SimdOp.i32x4Bitmask);
    f.if(ValType.v128);
    this.vectorFloat32Exact(a, b, c);
    f.else().localGet(up).end();
  }

  /**
   * Pushes lanes 0-1 (or 2-3: `high`) of the f32x4 local x as an f64x2, or the f64x2 local `splat`,
   * or those lanes of x loaded again from `memory` (where x was loaded from, see {@link WideOperands.loaded}).
   */
  private widen(x: number, high: boolean, splat?: number, memory?: LoadAddress): void {
    const f = this.f;
    if (splat !== undefined) {
      f.localGet(splat);
      return;
    }
    if (memory) {
      f.localGet(memory.pointer).simdMemory(SimdOp.v128Load64Zero, 3, memory.offset + (high ? 8 : 0)).simd(SimdOp.f64x2PromoteLowF32x4);
      return;
    }
    f.localGet(x);
    if (high) f.localGet(x).shuffle(HIGH_HALF);
    f.simd(SimdOp.f64x2PromoteLowF32x4);
  }

  /**
   * float32 lanes, exactly on every input: the sum rounded to odd in float64, then to float32
   * (in two f64x2 halves).
   */
  private vectorFloat32Exact(a: number, b: number, c: number): void {
    const f = this.f, A = this.vectorF64;
    const p = A.temp(0), cc = A.temp(1), lo = A.temp(2), hi = A.temp(3);
    for (const half of [lo, hi]) {
      this.widen(a, half === hi);
      this.widen(b, half === hi);
      f.simd(SimdOp.f64x2Mul).localSet(p); // exact
      this.widen(c, half === hi);
      f.localSet(cc);
      this.vectorAddRoundToOdd(p, cc);
      f.simd(SimdOp.f32x4DemoteF64x2Zero).localSet(half);
    }
    f.localGet(lo).localGet(hi).shuffle(LOW_HALVES);
  }

  /**
   * The float64 emulation's fast path: pushes `th + RO(tl + ul)` (exact where {@link
   * FmaEmitter.fastPathHolds}) and returns the local holding `p = a * b`.
   */
  private float64(A: Arith, a: number, b: number, c: number): number {
    const f = this.f, p = A.temp(0), ul = A.temp(1), th = A.temp(2), tl = A.temp(3);
    f.localGet(a).localGet(b);
    A.mul();
    f.localSet(p);
    this.productError(A, a, b, p, ul);
    this.twoSum(A, c, p, th, tl);
    f.localGet(th);
    if (A === this.scalarF64) this.scalarAddRoundToOdd(tl, ul);
    else this.vectorAddRoundToOdd(tl, ul);
    A.add();
    return p;
  }

  /** `ul = a * b - p` exactly, `p = fl(a * b)` (Dekker's product with Veltkamp's splitting). */
  private productError(A: Arith, a: number, b: number, p: number, ul: number): void {
    const f = this.f, t = A.temp(4), ah = A.temp(5), al = A.temp(6), bh = A.temp(7), bl = A.temp(8);
    const split = (x: number, hi: number, lo: number): void => {
      A.constant(134217729); // 2^27 + 1
      f.localGet(x);
      A.mul();
      f.localSet(t).localGet(t).localGet(t).localGet(x);
      A.sub();
      A.sub();
      f.localSet(hi).localGet(x).localGet(hi);
      A.sub();
      f.localSet(lo);
    };
    split(a, ah, al);
    split(b, bh, bl);
    const product = (x: number, y: number): void => { f.localGet(x).localGet(y); A.mul(); };
    product(ah, bh);
    f.localGet(p);
    A.sub();
    product(ah, bl);
    A.add();
    product(al, bh);
    A.add();
    product(al, bl);
    A.add();
    f.localSet(ul);
  }

  /** TwoSum: `s = fl(x + y)` and `e` with `s + e === x + y` exactly, into locals s and e. */
  private twoSum(A: Arith, x: number, y: number, s: number, e: number): void {
    const f = this.f, bb = A.temp(9);
    f.localGet(x).localGet(y);
    A.add();
    f.localSet(s).localGet(s).localGet(x);
    A.sub();
    f.localSet(bb).localGet(x).localGet(s).localGet(bb);
    A.sub();
    A.sub();
    f.localGet(y).localGet(bb);
    A.sub();
    A.add();
    f.localSet(e);
  }

  /** Leaves `x + y` (f64 locals) rounded to odd on the stack. */
  private scalarAddRoundToOdd(x: number, y: number): void {
    const f = this.f, s = this.scalarF64.temp(10), e = this.scalarF64.temp(11), bits = this.temp(ValType.i64, 0);
    this.twoSum(this.scalarF64, x, y, s, e);
    f.localGet(s).op(Op.i64ReinterpretF64).localSet(bits);
    f.localGet(bits);
    // One ulp towards the exact sum: +1 on the bits when e and s have the same sign, else -1 ...
    f.localGet(e).op(Op.i64ReinterpretF64).localGet(bits).op(Op.i64Xor).i64Const(63).op(Op.i64ShrS).i64Const(1).op(Op.i64Or);
    f.i64Const(0);
    // ... when the sum is inexact (e != 0), finite, and even.
    f.localGet(e).f64Const(0).op(Op.f64Ne);
    f.localGet(s).localGet(s).op(Op.f64Sub).f64Const(0).op(Op.f64Eq).op(Op.i32And);
    f.localGet(bits).i64Const(1).op(Op.i64And).op(Op.i64Eqz).op(Op.i32And);
    f.op(Op.select).op(Op.i64Add).op(Op.f64ReinterpretI64);
  }

  /** Leaves `x + y` (f64x2 locals) rounded to odd on the stack. */
  private vectorAddRoundToOdd(x: number, y: number): void {
    const f = this.f, s = this.vectorF64.temp(10), e = this.vectorF64.temp(11), Z = this.zero, ONE = this.one64;
    this.twoSum(this.vectorF64, x, y, s, e);
    f.localGet(s);
    // delta: all-ones (-1) where e and s differ in sign, else 1 ...
    f.localGet(e).localGet(Z).simd(SimdOp.f64x2Lt).localGet(s).localGet(Z).simd(SimdOp.f64x2Lt).simd(SimdOp.v128Xor).localGet(ONE).simd(SimdOp.v128Or);
    // ... where the sum is inexact, finite and even.
    f.localGet(e).localGet(Z).simd(SimdOp.f64x2Ne);
    f.localGet(s).localGet(s).simd(SimdOp.f64x2Sub).localGet(Z).simd(SimdOp.f64x2Eq).simd(SimdOp.v128And);
    f.localGet(s).localGet(ONE).simd(SimdOp.v128And).localGet(Z).simd(SimdOp.i64x2Eq).simd(SimdOp.v128And);
    f.simd(SimdOp.v128And).simd(SimdOp.i64x2Add);
  }
}

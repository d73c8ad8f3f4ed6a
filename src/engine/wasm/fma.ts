import type { FunctionBuilder } from './function-builder.js';
import { type FloatOps, Op, SimdOp, ValType } from './opcodes.js';

/**
 * Fused multiply-add `a * b + c`, rounded once, in WebAssembly, which has none (relaxed SIMD's
 * `madd` may or may not fuse): the algorithm of core/fused-multiply-add.ts, generated as instructions.
 * The kernel tests hold it bit-identical to that one on random programs and special values.
 *
 * - float32: the product of two floats is exact in float64; their sum with `c` is rounded to odd in
 *   float64 (TwoSum gives its error `e`; an inexact even result steps one ulp towards the exact sum,
 *   by integer arithmetic on its bits), then rounded to float32: correctly rounded (Boldo-Melquiond).
 *   Vectors do this in two f64x2 halves.
 * - float64: Dekker's exact product `p + ul`, TwoSum of `c + p` into `th + tl`, then `th + RO(tl + ul)`;
 *   specials, zeros and products beyond `2^995` or below `2^-960` take the plain `p + c`, as the
 *   reference does.
 */
export class FmaEmitter {
  private readonly f64Scalars: number[] = [];
  private readonly i64Scalars: number[] = [];
  private readonly vectors: number[] = [];
  private one64 = -1;
  private zero = -1;

  constructor(private readonly f: FunctionBuilder, private readonly ops: FloatOps) {}

  /** Makes the constants the vector code reads (call before the loops). */
  prepare(): void {
    const f = this.f;
    this.one64 = f.local(ValType.v128);
    f.v128Const([1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]).localSet(this.one64);
    this.zero = f.local(ValType.v128);
    f.v128Const(new Array<number>(16).fill(0)).localSet(this.zero);
  }

  private f64(k: number): number {
    while (this.f64Scalars.length <= k) this.f64Scalars.push(this.f.local(ValType.f64));
    return this.f64Scalars[k];
  }

  private v(k: number): number {
    while (this.vectors.length <= k) this.vectors.push(this.f.local(ValType.v128));
    return this.vectors[k];
  }

  private i64(k: number): number {
    while (this.i64Scalars.length <= k) this.i64Scalars.push(this.f.local(ValType.i64));
    return this.i64Scalars[k];
  }

  // ---------------------------------------------------------------- scalar

  /** `a * b + c` of the scalar locals a, b, c (of the dtype), left on the stack. */
  scalar(a: number, b: number, c: number): void {
    if (this.ops.lanes === 4) this.scalarFloat32(a, b, c);
    else this.scalarFloat64(a, b, c);
  }

  /** TwoSum of f64 locals x + y: s into local `s`, its error into local `e`. */
  private scalarTwoSum(x: number, y: number, s: number, e: number): void {
    const f = this.f, bb = this.f64(9);
    f.localGet(x).localGet(y).op(Op.f64Add).localSet(s);
    f.localGet(s).localGet(x).op(Op.f64Sub).localSet(bb);
    f.localGet(x).localGet(s).localGet(bb).op(Op.f64Sub).op(Op.f64Sub);
    f.localGet(y).localGet(bb).op(Op.f64Sub).op(Op.f64Add).localSet(e);
  }

  /** Leaves `x + y` (f64 locals) rounded to odd on the stack. */
  private scalarAddRoundToOdd(x: number, y: number): void {
    const f = this.f, s = this.f64(10), e = this.f64(11), bits = this.i64(0);
    this.scalarTwoSum(x, y, s, e);
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

  private scalarFloat32(a: number, b: number, c: number): void {
    const f = this.f, p = this.f64(0), cc = this.f64(1);
    f.localGet(a).op(Op.f64PromoteF32).localGet(b).op(Op.f64PromoteF32).op(Op.f64Mul).localSet(p);
    f.localGet(c).op(Op.f64PromoteF32).localSet(cc);
    this.scalarAddRoundToOdd(p, cc);
    f.op(Op.f32DemoteF64);
  }

  private scalarFloat64(a: number, b: number, c: number): void {
    const f = this.f, p = this.f64(0), ul = this.f64(1), th = this.f64(2), tl = this.f64(3), t = this.f64(4), ah = this.f64(5), al = this.f64(6), bh = this.f64(7), bl = this.f64(8);
    f.localGet(a).localGet(b).op(Op.f64Mul).localSet(p);
    // Dekker's split and exact product error.
    const split = (x: number, hi: number, lo: number): void => {
      f.f64Const(134217729).localGet(x).op(Op.f64Mul).localSet(t);
      f.localGet(t).localGet(t).localGet(x).op(Op.f64Sub).op(Op.f64Sub).localSet(hi);
      f.localGet(x).localGet(hi).op(Op.f64Sub).localSet(lo);
    };
    split(a, ah, al);
    split(b, bh, bl);
    f.localGet(ah).localGet(bh).op(Op.f64Mul).localGet(p).op(Op.f64Sub);
    f.localGet(ah).localGet(bl).op(Op.f64Mul).op(Op.f64Add);
    f.localGet(al).localGet(bh).op(Op.f64Mul).op(Op.f64Add);
    f.localGet(al).localGet(bl).op(Op.f64Mul).op(Op.f64Add).localSet(ul);
    this.scalarTwoSum(c, p, th, tl);
    // result = th + RO(tl + ul), or p + c where the emulation does not apply.
    f.localGet(th);
    this.scalarAddRoundToOdd(tl, ul);
    f.op(Op.f64Add);
    f.localGet(p).localGet(c).op(Op.f64Add);
    this.scalarPlainCase(p, c);
    // select(exact, plain, notPlain): the stack is [exact, plain, isPlain]; select picks the first when
    // the condition is non-zero, so swap the sense: condition = !isPlain.
    f.op(Op.i32Eqz).op(Op.select);
  }

  // ---------------------------------------------------------------- vector

  /** `a * b + c` of the vector locals a, b, c (f32x4 or f64x2), left on the stack. */
  vector(a: number, b: number, c: number): void {
    if (this.ops.lanes === 4) this.vectorFloat32(a, b, c);
    else this.vectorFloat64(a, b, c);
  }

  /** TwoSum of f64x2 locals x + y into locals s, e. */
  private vectorTwoSum(x: number, y: number, s: number, e: number): void {
    const f = this.f, bb = this.v(9);
    f.localGet(x).localGet(y).simd(SimdOp.f64x2Add).localSet(s);
    f.localGet(s).localGet(x).simd(SimdOp.f64x2Sub).localSet(bb);
    f.localGet(x).localGet(s).localGet(bb).simd(SimdOp.f64x2Sub).simd(SimdOp.f64x2Sub);
    f.localGet(y).localGet(bb).simd(SimdOp.f64x2Sub).simd(SimdOp.f64x2Add).localSet(e);
  }

  /** Leaves `x + y` (f64x2 locals) rounded to odd on the stack. */
  private vectorAddRoundToOdd(x: number, y: number): void {
    const f = this.f, s = this.v(10), e = this.v(11), Z = this.zero, ONE = this.one64;
    this.vectorTwoSum(x, y, s, e);
    f.localGet(s);
    // delta: all-ones (-1) where e and s differ in sign, else 1 ...
    f.localGet(e).localGet(Z).simd(SimdOp.f64x2Lt).localGet(s).localGet(Z).simd(SimdOp.f64x2Lt).simd(SimdOp.v128Xor).localGet(ONE).simd(SimdOp.v128Or);
    // ... where the sum is inexact, finite and even.
    f.localGet(e).localGet(Z).simd(SimdOp.f64x2Ne);
    f.localGet(s).localGet(s).simd(SimdOp.f64x2Sub).localGet(Z).simd(SimdOp.f64x2Eq).simd(SimdOp.v128And);
    f.localGet(s).localGet(ONE).simd(SimdOp.v128And).localGet(Z).simd(SimdOp.i64x2Eq).simd(SimdOp.v128And);
    f.simd(SimdOp.v128And).simd(SimdOp.i64x2Add);
  }

  private vectorFloat32(a: number, b: number, c: number): void {
    const f = this.f, p = this.v(0), cc = this.v(1), lo = this.v(2);
    const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
    const LOW_HALVES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
    for (const high of [false, true]) {
      const widen = (x: number): void => {
        f.localGet(x);
        if (high) f.localGet(x).shuffle(HIGH_HALF);
        f.simd(SimdOp.f64x2PromoteLowF32x4);
      };
      widen(a);
      widen(b);
      f.simd(SimdOp.f64x2Mul).localSet(p); // exact
      widen(c);
      f.localSet(cc);
      this.vectorAddRoundToOdd(p, cc);
      f.simd(SimdOp.f32x4DemoteF64x2Zero);
      if (!high) f.localSet(lo);
    }
    // [high half] on the stack: put the low half first.
    const hi = this.v(3);
    f.localSet(hi).localGet(lo).localGet(hi).shuffle(LOW_HALVES);
  }

  private vectorFloat64(a: number, b: number, c: number): void {
    const f = this.f, p = this.v(0), ul = this.v(1), th = this.v(2), tl = this.v(3), t = this.v(4), ah = this.v(5), al = this.v(6), bh = this.v(7), bl = this.v(8);
    const Z = this.zero;
    const splat = (x: number): void => { f.f64Const(x).simd(SimdOp.f64x2Splat); };
    f.localGet(a).localGet(b).simd(SimdOp.f64x2Mul).localSet(p);
    const split = (x: number, hi: number, lo: number): void => {
      splat(134217729);
      f.localGet(x).simd(SimdOp.f64x2Mul).localSet(t);
      f.localGet(t).localGet(t).localGet(x).simd(SimdOp.f64x2Sub).simd(SimdOp.f64x2Sub).localSet(hi);
      f.localGet(x).localGet(hi).simd(SimdOp.f64x2Sub).localSet(lo);
    };
    split(a, ah, al);
    split(b, bh, bl);
    f.localGet(ah).localGet(bh).simd(SimdOp.f64x2Mul).localGet(p).simd(SimdOp.f64x2Sub);
    f.localGet(ah).localGet(bl).simd(SimdOp.f64x2Mul).simd(SimdOp.f64x2Add);
    f.localGet(al).localGet(bh).simd(SimdOp.f64x2Mul).simd(SimdOp.f64x2Add);
    f.localGet(al).localGet(bl).simd(SimdOp.f64x2Mul).simd(SimdOp.f64x2Add).localSet(ul);
    this.vectorTwoSum(c, p, th, tl);
    // bitselect(plain, exact, isPlain)
    f.localGet(p).localGet(c).simd(SimdOp.f64x2Add);
    f.localGet(th);
    this.vectorAddRoundToOdd(tl, ul);
    f.simd(SimdOp.f64x2Add);
    f.localGet(p).localGet(p).simd(SimdOp.f64x2Sub).localGet(Z).simd(SimdOp.f64x2Ne);
    f.localGet(c).localGet(c).simd(SimdOp.f64x2Sub).localGet(Z).simd(SimdOp.f64x2Ne).simd(SimdOp.v128Or);
    f.localGet(p).localGet(Z).simd(SimdOp.f64x2Eq).simd(SimdOp.v128Or);
    f.localGet(c).localGet(Z).simd(SimdOp.f64x2Eq).simd(SimdOp.v128Or);
    f.localGet(p).simd(SimdOp.f64x2Abs);
    splat(2 ** 995);
    f.simd(SimdOp.f64x2Gt).simd(SimdOp.v128Or);
    f.localGet(p).simd(SimdOp.f64x2Abs);
    splat(2 ** -960);
    f.simd(SimdOp.f64x2Lt).simd(SimdOp.v128Or);
    f.simd(SimdOp.v128Bitselect);
  }

  /** Pushes 1 where the plain `p + c` is what the reference computes (see the class comment). */
  private scalarPlainCase(p: number, c: number): void {
    const f = this.f;
    f.localGet(p).localGet(p).op(Op.f64Sub).f64Const(0).op(Op.f64Ne);
    f.localGet(c).localGet(c).op(Op.f64Sub).f64Const(0).op(Op.f64Ne).op(Op.i32Or);
    f.localGet(p).f64Const(0).op(Op.f64Eq).op(Op.i32Or);
    f.localGet(c).f64Const(0).op(Op.f64Eq).op(Op.i32Or);
    f.localGet(p).op(Op.f64Abs).f64Const(2 ** 995).op(Op.f64Gt).op(Op.i32Or);
    f.localGet(p).op(Op.f64Abs).f64Const(2 ** -960).op(Op.f64Lt).op(Op.i32Or);
  }
}

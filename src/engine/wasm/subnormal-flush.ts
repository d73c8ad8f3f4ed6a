import { MIN_NORMAL } from '../subnormals.js';
import type { FunctionBuilder } from './function-builder.js';
import { type FloatOps, Op, SimdOp, ValType } from './opcodes.js';

/**
 * XLA's flush of subnormals (engine/subnormals.ts) in WebAssembly, which has no flush mode of its own:
 * a value whose magnitude is below the smallest normal becomes a zero of its sign; zeros, normal
 * values, infinities and NaN (whose comparisons are false) pass unchanged.
 *
 * - vector (f32x4 / f64x2): `m = x & magnitudeMask`, `x ^ (m & (m < MIN_NORMAL))`: where a lane is
 *   subnormal, its magnitude bits are cleared and its sign bit stays. Four instructions, no branch.
 * - scalar: `select(x * 0, x, |x| < MIN_NORMAL)` (`x * 0` is the zero of x's sign for finite x).
 */
export class SubnormalFlush {
  private readonly vectorValue: number;
  private readonly magnitude: number;
  private readonly scalarValue: number;
  private minNormal = -1;
  private magnitudeMask = -1;

  constructor(
    private readonly f: FunctionBuilder,
    private readonly ops: FloatOps,
  ) {
    this.vectorValue = f.local(ValType.v128);
    this.magnitude = f.local(ValType.v128);
    this.scalarValue = f.local(ops.valType);
  }

  /** Makes the splatted constants the vector code reads (call before the loops). */
  prepare(): void {
    const f = this.f;
    const lane = this.ops.signBit;
    this.magnitudeMask = f.local(ValType.v128);
    f.v128Const(Array.from({ length: 16 / lane.length }, () => lane).flat().map((b) => b ^ 0xff)).localSet(this.magnitudeMask);
    this.minNormal = f.local(ValType.v128);
    this.constant().simd(this.ops.splat).localSet(this.minNormal);
  }

  /** Flushes the vector on top of the stack (f32x4 or f64x2, lane by lane). */
  vector(): void {
    if (this.minNormal < 0) throw new Error('SubnormalFlush.vector used without prepare()');
    const f = this.f, x = this.vectorValue, m = this.magnitude;
    f.localTee(x).localGet(this.magnitudeMask).simd(SimdOp.v128And).localTee(m);
    f.localGet(m).localGet(this.minNormal).simd(this.ops.vectorLt).simd(SimdOp.v128And);
    f.localGet(x).simd(SimdOp.v128Xor);
  }

  /** Flushes the scalar on top of the stack (f32 or f64). */
  scalar(): void {
    const f = this.f, ops = this.ops, x = this.scalarValue;
    f.localTee(x);
    (ops.lanes === 4 ? f.f32Const(0) : f.f64Const(0)).op(ops.scalar.mul);
    f.localGet(x);
    f.localGet(x).op(ops.scalar.abs);
    this.constant().op(ops.lt);
    f.op(Op.select);
  }

  /** Pushes the smallest normal value of the dtype. */
  private constant(): FunctionBuilder {
    return this.ops.lanes === 4 ? this.f.f32Const(MIN_NORMAL.float32) : this.f.f64Const(MIN_NORMAL.float64);
  }
}

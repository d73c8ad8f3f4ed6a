import { MIN_NORMAL } from '../subnormals.js';
import type { FunctionBuilder } from './function-builder.js';
import { type FloatOps, Op, SimdOp, ValType } from './opcodes.js';
import { laneMasks, splatLane } from './vector-ops.js';

/**
 * XLA's flush of subnormals (engine/subnormals.ts) in WebAssembly, which has no flush mode of its own:
 * a value whose magnitude is below the smallest normal becomes a zero of its sign; zeros, normal
 * values, infinities and NaN (whose comparisons are false) pass unchanged.
 *
 * - vector (f32x4 / f64x2): `x & ((bits(|x|) > bits(largest subnormal)) | signMask)`, the comparison
 *   on the magnitude's bits as signed integers (`i32x4.gt_s` / `i64x2.gt_s`): a lane that is zero or
 *   subnormal keeps only its sign bit; a NaN's or infinity's bits are larger, they pass. Four
 *   instructions, no branch. The integer comparison is used for its latency (one cycle for x64
 *   `pcmpgtd`, against four for `cmpltps`): a flush follows nearly every op of a kernel, on the
 *   dependency chain of each element, and the chains of an adamax step were what the loop waited for
 *   with the float comparison (measured with bench/subnormals.ts).
 * - scalar: `select(x * 0, x, |x| < MIN_NORMAL)` (`x * 0` is the zero of x's sign for finite x).
 */
export class SubnormalFlush {
  private readonly vectorValue: number;
  private readonly scalarValue: number;
  private largestSubnormal = -1;
  private magnitudeMask = -1;
  private signMask = -1;

  constructor(
    private readonly f: FunctionBuilder,
    private readonly ops: FloatOps,
  ) {
    this.vectorValue = f.local(ValType.v128);
    this.scalarValue = f.local(ops.valType);
  }

  /** Makes the splatted constants the vector code reads (call before the loops). */
  prepare(): void {
    const f = this.f;
    const masks = laneMasks(this.ops);
    this.signMask = f.local(ValType.v128);
    f.v128Const(masks.sign).localSet(this.signMask);
    this.magnitudeMask = f.local(ValType.v128);
    f.v128Const(masks.magnitude).localSet(this.magnitudeMask);
    // The largest subnormal's bits: all fraction bits set, exponent 0 (0x007fffff, 0x000fffffffffffff).
    this.largestSubnormal = f.local(ValType.v128);
    const fractionBits = this.ops.lanes === 4 ? [0xff, 0xff, 0x7f, 0x00] : [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
    f.v128Const(splatLane(fractionBits)).localSet(this.largestSubnormal);
  }

  /** Flushes the vector on top of the stack (f32x4 or f64x2, lane by lane). */
  vector(): void {
    if (this.largestSubnormal < 0) throw new Error('SubnormalFlush.vector used without prepare()');
    const f = this.f, x = this.vectorValue;
    f.localTee(x).localGet(this.magnitudeMask).simd(SimdOp.v128And);
    f.localGet(this.largestSubnormal).simd(this.ops.lanes === 4 ? SimdOp.i32x4GtS : SimdOp.i64x2GtS);
    f.localGet(this.signMask).simd(SimdOp.v128Or);
    f.localGet(x).simd(SimdOp.v128And);
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

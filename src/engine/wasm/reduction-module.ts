import type { Dtype } from '../../core/dtype.js';
import { FunctionBuilder, countedLoop } from './function-builder.js';
import { MAX_FUNCTION_PARAMS, type MemoryImportOptions, assembleModule } from './module.js';
import { type FloatOps, Op, SimdOp, V128_ALIGN_LOG2, ValType, floatOps } from './opcodes.js';

/**
 * WebAssembly reductions the engine runs before a fused pass: the all-finite check of
 * `applyIfFinite`, and a sum of squares for a global norm.
 *
 * Module exports (memory imported as `env.memory`, pointers are byte offsets, multiples of 16):
 * - `allFinite(n: i32, ptr_0: i32, ..., ptr_{k-1}: i32): i32` — 1 when elements `[0, n)` of every
 *   stream are finite, 0 when any is NaN or ±Inf. Exact by nature (no rounding involved).
 * - `sumOfSquares(n: i32, ptr: i32): f32 | f64` — `sum x_i^2` over `[0, n)` of one stream, in the dtype,
 *   in this order (each square and each addition rounded to the dtype):
 *   1. lane `j` of a vector accumulator (f32x4: j < 4; f64x2: j < 2) starts at +0 and adds, in
 *      increasing `i`, `x_i * x_i` for every `i ≡ j (mod lanes)` below `n - n mod lanes`;
 *   2. the lanes are summed left to right: `((lane0 + lane1) + lane2) + lane3`;
 *   3. the last `n mod lanes` squares are added one by one, in increasing `i`.
 *   optax's global norm is XLA's reduction, whose order this need not match: the engine computes the
 *   norm in XLA's order instead (src/engine/global-norm.ts).
 */

/** Options of {@link emitFusedReduction}. */
export interface ReductionModuleOptions extends MemoryImportOptions {
  /** Element type of the streams. */
  readonly dtype: Dtype;
  /** Streams `allFinite` checks in one call (its pointer arguments). Default 1. */
  readonly streams?: number;
}

/** Names of the exported reduction functions. */
export const REDUCTION_EXPORTS = { allFinite: 'allFinite', sumOfSquares: 'sumOfSquares' } as const;

/**
 * Emits the reduction module (see the exports above).
 *
 * @param options - `dtype`; `streams` (default 1): pointer arguments of `allFinite`; memory import
 *   options as for `emitFusedModule` (`shared`, `initialPages` default 0, `maximumPages`).
 *
 * @internal
 */
export function emitFusedReduction(options: ReductionModuleOptions): Uint8Array<ArrayBuffer> {
  const streams = options.streams ?? 1;
  if (!Number.isInteger(streams) || streams < 1 || streams + 1 > MAX_FUNCTION_PARAMS) {
    throw new RangeError(`streams must be an integer in [1, ${MAX_FUNCTION_PARAMS - 1}], got ${streams}`);
  }
  const ops = floatOps(options.dtype);
  return assembleModule(options, [allFiniteFunction(ops, streams), sumOfSquaresFunction(ops)]);
}

/** Pushes `|x| < inf` for the element at a pointer, as a scalar i32 (NaN compares false). */
function scalarIsFinite(f: FunctionBuilder, ops: FloatOps, pointer: number): void {
  f.localGet(pointer).memory(ops.load, ops.alignLog2, 0).op(ops.scalar.abs);
  if (ops.bytes === 4) f.f32Const(Infinity);
  else f.f64Const(Infinity);
  f.op(ops.lt);
}

/**
 * `allFinite`: a value is NaN or infinite exactly when its exponent bits are all ones, i.e. when its
 * magnitude bits (sign cleared), read as an unsigned integer, reach those of +Infinity. The loop keeps
 * the running unsigned maximum of the magnitude bits in i32 lanes (one-cycle integer operations, two
 * vectors per iteration), and compares once at the end: float32 lanes with +Infinity's bits, float64
 * lanes by their high words (a float64's magnitude is at least +Infinity's exactly when its high word
 * is at least 0x7ff00000; the low words' lanes are ignored).
 */
function allFiniteFunction(ops: FloatOps, streams: number): FunctionBuilder {
  const f = new FunctionBuilder(REDUCTION_EXPORTS.allFinite, [ValType.i32, ...Array.from({ length: streams }, () => ValType.i32)], [ValType.i32]);
  const N = 0;
  const pointer = (k: number): number => 1 + k;
  const count = f.local(ValType.i32);
  const result = f.local(ValType.i32);
  const magnitude = f.local(ValType.v128);
  const largest = [f.local(ValType.v128), f.local(ValType.v128)];
  const f32 = ops.bytes === 4;
  // Little-endian i32 lanes: the magnitude mask, and the largest magnitude bits of a finite value.
  const words = (lo: number, hi: number): number[] => [lo, hi, lo, hi].flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]);
  f.v128Const(f32 ? words(0x7fffffff, 0x7fffffff) : words(0xffffffff, 0x7fffffff)).localSet(magnitude);
  for (const l of largest) f.i32Const(0).simd(SimdOp.i32x4Splat).localSet(l);
  const vector = (k: number, l: number, offset: number): void => {
    f.localGet(largest[l]).localGet(pointer(k)).simdMemory(SimdOp.v128Load, V128_ALIGN_LOG2, offset).localGet(magnitude).simd(SimdOp.v128And);
    f.simd(SimdOp.i32x4MaxU).localSet(largest[l]);
  };
  // Pairs of vectors, then the last odd vector.
  f.localGet(N).i32Const(Math.log2(ops.lanes) + 1).op(Op.i32ShrU).localSet(count);
  countedLoop(f, count, () => {
    for (let k = 0; k < streams; k++) {
      vector(k, 0, 0);
      vector(k, 1, 16);
      f.addToLocal(pointer(k), 32);
    }
  });
  f.localGet(N).i32Const(Math.log2(ops.lanes)).op(Op.i32ShrU).i32Const(1).op(Op.i32And).localSet(count);
  countedLoop(f, count, () => {
    for (let k = 0; k < streams; k++) {
      vector(k, 0, 0);
      f.addToLocal(pointer(k), 16);
    }
  });
  f.localGet(largest[0]).localGet(largest[1]).simd(SimdOp.i32x4MaxU);
  f.v128Const(f32 ? words(0x7f7fffff, 0x7f7fffff) : words(0xffffffff, 0x7fefffff)).simd(SimdOp.i32x4LeU).simd(SimdOp.i32x4AllTrue).localSet(result);
  f.localGet(N).i32Const(ops.lanes - 1).op(Op.i32And).localSet(count);
  countedLoop(f, count, () => {
    for (let k = 0; k < streams; k++) {
      f.localGet(result);
      scalarIsFinite(f, ops, pointer(k));
      f.op(Op.i32And).localSet(result);
      f.addToLocal(pointer(k), ops.bytes);
    }
  });
  f.localGet(result);
  return f;
}

function sumOfSquaresFunction(ops: FloatOps): FunctionBuilder {
  const f = new FunctionBuilder(REDUCTION_EXPORTS.sumOfSquares, [ValType.i32, ValType.i32], [ops.valType]);
  const N = 0, P = 1;
  const count = f.local(ValType.i32);
  const x = f.local(ValType.v128);
  const lanes = f.local(ValType.v128);
  const sum = f.local(ops.valType);
  const element = f.local(ops.valType);
  (ops.bytes === 4 ? f.f32Const(0) : f.f64Const(0)).simd(ops.splat).localSet(lanes);
  f.localGet(N).i32Const(Math.log2(ops.lanes)).op(Op.i32ShrU).localSet(count);
  countedLoop(f, count, () => {
    f.localGet(lanes);
    f.localGet(P).simdMemory(SimdOp.v128Load, V128_ALIGN_LOG2, 0).localTee(x).localGet(x).simd(ops.vector.mul);
    f.simd(ops.vector.add).localSet(lanes);
    f.addToLocal(P, 16);
  });
  f.localGet(lanes).simdLane(ops.extractLane, 0);
  for (let j = 1; j < ops.lanes; j++) f.localGet(lanes).simdLane(ops.extractLane, j).op(ops.scalar.add);
  f.localSet(sum);
  f.localGet(N).i32Const(ops.lanes - 1).op(Op.i32And).localSet(count);
  emitSequentialSquares(f, ops, count, P, sum, element);
  f.localGet(sum);
  return f;
}

/**
 * Emits `repeat count times: q = x*x (x = *pointer); sum = sum + q; pointer += element size`: a sum of
 * squares in element order, each op rounded to the dtype (this module's tail loop). With `min` (a
 * local holding the dtype's smallest normal, or 0), `q < min` counts as 0: XLA's subnormal flush.
 */
function emitSequentialSquares(f: FunctionBuilder, ops: FloatOps, count: number, pointer: number, sum: number, scratch: number, min?: number): void {
  countedLoop(f, count, () => emitSquareAdd(f, ops, pointer, sum, scratch, min));
}

/** One step of {@link emitSequentialSquares}: `q = x*x (x = *pointer); sum = sum + q; pointer += element size`. */
function emitSquareAdd(f: FunctionBuilder, ops: FloatOps, pointer: number, sum: number, scratch: number, min?: number): void {
  f.localGet(sum);
  f.localGet(pointer).memory(ops.load, ops.alignLog2, 0).localTee(scratch).localGet(scratch).op(ops.scalar.mul);
  if (min !== undefined) {
    // select(0, q, q < min)
    f.localSet(scratch);
    if (ops.bytes === 4) f.f32Const(0);
    else f.f64Const(0);
    f.localGet(scratch).localGet(scratch).localGet(min).op(ops.lt).op(Op.select);
  }
  f.op(ops.scalar.add).localSet(sum);
  f.addToLocal(pointer, ops.bytes);
}

import type { Dtype } from '../../core/dtype.js';
import { FunctionBuilder, countedLoop } from './function-builder.js';
import { type FloatOps, Op, SimdOp, V128_ALIGN_LOG2, ValType, floatOps } from './opcodes.js';
import { emitSequentialSquares } from './reduction-module.js';

/**
 * The sequential sum of squares of `sumOfSquares` (`s = s + x_i * x_i` in order, each op rounded to
 * the dtype: optax's per-leaf order, transforms/clip-by-global-norm.ts), computed block by block in
 * SIMD lanes instead of as one chain of dependent additions: the same bits, a few times faster.
 *
 * Why it is exact. The squares are never negative, so the running sum only grows. While it stays in
 * one binade [2^e, B = 2^(e+1)), its representable values are the multiples of its ulp u (2^(e-23) in
 * float32, 2^(e-52) in float64; the binade of the smallest normal also holds zero and the
 * subnormals, with the same u). With s = m*u and a square y = q*u (q = y * (1/u): exact, a
 * power-of-two scaling), round(s + y) = u * (m + nearest(q)) unless q is exactly halfway between two
 * integers (a tie: then the even one of m + floor(q) and m + floor(q) + 1 is taken, which depends on
 * m). So over a block that starts at s0, has no tie and keeps the sum below B, the sequential result
 * is s0 + u * R, R the sum of the nearest(q): integers, added exactly in any order, so in SIMD lanes
 * (each lane's partial sum is below R < 2^23, resp. 2^52). A block is taken when every
 * |q - nearest(q)| is below 1/2 (no tie, no NaN) and s0 + u * R < B (computed exactly in float64:
 * u * (m + R) with m + R < 2^24, resp. 2^53). Infinite squares, squares that overflow, and lanes whose
 * partial sums exceed 2^24, resp. 2^53 (no longer exact, but they only grow) all fail that check, as
 * do blocks where the sum crosses into the next binade (about once per doubling of the sum) or holds a
 * tie: such a block, and a sum too small for 1/u to be a float of the dtype (below 2^-104 in float32),
 * is added sequentially, instruction for instruction as `sumOfSquares` adds it.
 *
 * Only valid for the sequential order: if the per-leaf order changes, this must change with it
 * (test/engine/wasm/blocked-squares.test.ts compares it with `sumOfSquares` on ties, binade crossings,
 * subnormals, overflow and NaN).
 */

/** Elements per block (a multiple of two vectors of either dtype). */
export const SQUARES_BLOCK = 512;

/** The exported function's name for a dtype: `blocked_<dtype>(n: i32, pointer: i32) -> f32 | f64`. */
export function blockedSquaresName(dtype: Dtype): string {
  return `blocked_${dtype}`;
}

/**
 * `blocked_<dtype>(n, pointer)`: the sum of squares of the `n` elements at `pointer` (16-byte aligned),
 * bit-identical to `sumOfSquares`.
 */
export function blockedSquares(dtype: Dtype): FunctionBuilder {
  const ops = floatOps(dtype);
  const f = new FunctionBuilder(blockedSquaresName(dtype), [ValType.i32, ValType.i32], [ops.valType]);
  const N = 0, P = 1;
  const f32 = ops.lanes === 4;
  const precision = f32 ? 23 : 52;
  // The biased float64 exponents of s where the fast path applies: 1/u a float of the dtype, and
  // for float64 u normal and B finite.
  const [lowest, highest] = f32 ? [1023 - 104, 1023 + 127] : [1023 - 970, 2045];
  const sum = f.local(ops.valType), element = f.local(ops.valType);
  const s64 = f.local(ValType.f64), next = f.local(ValType.f64), R = f.local(ValType.f64);
  const e = f.local(ValType.i32), blocks = f.local(ValType.i32), count = f.local(ValType.i32);
  const inv = f.local(ValType.v128), half = f.local(ValType.v128);
  const acc = [f.local(ValType.v128), f.local(ValType.v128)];
  // All-ones in the lanes where every |q - nearest(q)| so far was below 1/2 (no tie, no NaN).
  const exact = [f.local(ValType.v128), f.local(ValType.v128)];
  const q = f.local(ValType.v128), r = f.local(ValType.v128), zero = f.local(ValType.v128);
  const nearest = f32 ? SimdOp.f32x4Nearest : SimdOp.f64x2Nearest;
  const splat = (x: number): void => { (f32 ? f.f32Const(x) : f.f64Const(x)).simd(ops.splat); };
  /** Pushes 2^(biased exponent - 1023) as an f64, the biased exponent an i32 on the stack. */
  const power = (): void => { f.op(Op.i64ExtendI32U).i64Const(52).op(Op.i64Shl).op(Op.f64ReinterpretI64); };

  splat(0.5);
  f.localSet(half);
  splat(0);
  f.localSet(zero);
  (f32 ? f.f32Const(0) : f.f64Const(0)).localSet(sum);
  f.localGet(N).i32Const(Math.log2(SQUARES_BLOCK)).op(Op.i32ShrU).localSet(blocks);
  countedLoop(f, blocks, () => {
    f.localGet(sum);
    if (f32) f.op(Op.f64PromoteF32);
    f.localTee(s64).op(Op.i64ReinterpretF64).i64Const(52).op(Op.i64ShrU).op(Op.i32WrapI64).localTee(e);
    // Also rules out a NaN or infinite sum (exponent 2047, or more with the sign bit of a NaN).
    f.i32Const(lowest).op(Op.i32GeU).localGet(e).i32Const(highest).op(Op.i32LeU).op(Op.i32And);
    f.if();
    {
      // 1/u = 2^(precision - (e - 1023)).
      f.i32Const(2046 + precision).localGet(e).op(Op.i32Sub);
      power();
      if (f32) f.op(Op.f32DemoteF64);
      f.simd(ops.splat).localSet(inv);
      for (const k of [0, 1]) {
        f.localGet(zero).localSet(acc[k]);
        f.i32Const(-1).simd(SimdOp.i32x4Splat).localSet(exact[k]);
      }
      f.i32Const(SQUARES_BLOCK / (2 * ops.lanes)).localSet(count);
      countedLoop(f, count, () => {
        for (const k of [0, 1]) {
          f.localGet(P).simdMemory(SimdOp.v128Load, V128_ALIGN_LOG2, 16 * k).localTee(q).localGet(q).simd(ops.vector.mul);
          f.localGet(inv).simd(ops.vector.mul).localTee(q).simd(nearest).localTee(r);
          f.localGet(acc[k]).simd(ops.vector.add).localSet(acc[k]);
          f.localGet(exact[k]).localGet(q).localGet(r).simd(ops.vector.sub).simd(ops.vector.abs).localGet(half).simd(ops.vectorLt).simd(SimdOp.v128And).localSet(exact[k]);
        }
        f.addToLocal(P, 32);
      });
      // R: the lanes' partial sums, added in float64 (exact while the check can pass).
      f.localGet(acc[0]).localGet(acc[1]).simd(ops.vector.add).localSet(r);
      for (let lane = 0; lane < ops.lanes; lane++) {
        f.localGet(r).simdLane(ops.extractLane, lane);
        if (f32) f.op(Op.f64PromoteF32);
        if (lane > 0) f.op(Op.f64Add);
      }
      f.localSet(R);
      // next = s0 + u * R, u = 2^(e - 1023 - precision).
      f.localGet(s64).localGet(e).i32Const(precision).op(Op.i32Sub);
      power();
      f.localGet(R).op(Op.f64Mul).op(Op.f64Add).localSet(next);
      // Taken when no lane tied (or was NaN) and the sum stayed below B = 2^(e + 1 - 1023).
      f.localGet(exact[0]).localGet(exact[1]).simd(SimdOp.v128And).simd(SimdOp.i32x4AllTrue);
      f.localGet(next).localGet(e).i32Const(1).op(Op.i32Add);
      power();
      f.op(Op.f64Lt).op(Op.i32And);
      f.if();
      f.localGet(next);
      if (f32) f.op(Op.f32DemoteF64); // exact: a float32 of the binade
      f.localSet(sum);
      f.else();
      f.localGet(P).i32Const(SQUARES_BLOCK * ops.bytes).op(Op.i32Sub).localSet(P);
      sequential(f, ops, SQUARES_BLOCK, P, sum, element, count);
      f.end();
    }
    f.else();
    sequential(f, ops, SQUARES_BLOCK, P, sum, element, count);
    f.end();
  });
  f.localGet(N).i32Const(SQUARES_BLOCK - 1).op(Op.i32And).localSet(count);
  emitSequentialSquares(f, ops, count, P, sum, element);
  f.localGet(sum);
  return f;
}

/** `n` elements added one by one (`count` is a scratch i32 local). */
function sequential(f: FunctionBuilder, ops: FloatOps, n: number, pointer: number, sum: number, element: number, count: number): void {
  f.i32Const(n).localSet(count);
  emitSequentialSquares(f, ops, count, pointer, sum, element);
}

/** Leaves one interleaved call sums: two vectors of lanes (8 float32 leaves, 4 float64 leaves). */
export function interleavedLeaves(dtype: Dtype): number {
  return 2 * floatOps(dtype).lanes;
}

/** The exported name of {@link interleavedSquares} for a dtype and stride. */
export function interleavedSquaresName(dtype: Dtype, stride: number): string {
  return `interleaved_${dtype}_${stride}`;
}

/** `i8x16.shuffle` byte indices picking lanes of `width` bytes (0.. from the first operand, 16/width.. from the second). */
function laneBytes(lanes: readonly number[], width: number): number[] {
  return lanes.flatMap((l) => Array.from({ length: width }, (_, b) => l * width + b));
}

/**
 * `interleaved_<dtype>_<stride>(n, pointer, out)`: the sequential sums of squares of
 * {@link interleavedLeaves} leaves of `n` elements each, leaf k at `pointer + k * stride` (bytes),
 * stored as float64 at `out + 8k`. Each leaf's sum is its own chain of additions in a SIMD lane (the
 * same IEEE operations as `sumOfSquares`, in the same order), so the chains of several leaves overlap
 * instead of waiting for each other: small leaves (a tree of thousands of them) are summed several
 * times faster than one after the other, where the blocked sum (above) has too few blocks to help.
 * The loop loads a vector of consecutive elements from each of a lane-count of leaves and transposes
 * them (a column then holds element i of each leaf, the next column element i + 1), then adds the
 * columns' squares in element order; the last `n mod lanes` elements are gathered lane by lane.
 */
export function interleavedSquares(dtype: Dtype, stride: number): FunctionBuilder {
  const ops = floatOps(dtype);
  const f = new FunctionBuilder(interleavedSquaresName(dtype, stride), [ValType.i32, ValType.i32, ValType.i32], []);
  const N = 0, P = 1, OUT = 2;
  const f32 = ops.lanes === 4;
  const L = ops.lanes;
  const [zeroLoad, laneLoad] = f32 ? [SimdOp.v128Load32Zero, SimdOp.v128Load32Lane] : [SimdOp.v128Load64Zero, SimdOp.v128Load64Lane];
  const sums = [f.local(ValType.v128), f.local(ValType.v128)];
  const x = f.local(ValType.v128), count = f.local(ValType.i32);
  const rows = Array.from({ length: L }, () => f.local(ValType.v128));
  const pairs = Array.from({ length: 4 }, () => f.local(ValType.v128));
  /** s = s + c * c, c the column `column` pushes (the sequential sum's own operation, lane by lane). */
  const square = (s: number, column: () => void): void => {
    f.localGet(s);
    column();
    f.localTee(x).localGet(x).simd(ops.vector.mul).simd(ops.vector.add).localSet(s);
  };
  for (const s of sums) (f32 ? f.f32Const(0) : f.f64Const(0)).simd(ops.splat).localSet(s);
  f.localGet(N).i32Const(Math.log2(L)).op(Op.i32ShrU).localSet(count);
  countedLoop(f, count, () => {
    sums.forEach((s, v) => {
      rows.forEach((row, k) => { f.localGet(P).simdMemory(SimdOp.v128Load, 0, (v * L + k) * stride).localSet(row); });
      if (f32) {
        // pairs: (r0[0], r1[0], r0[1], r1[1]), (r2[0], r3[0], r2[1], r3[1]), then the same of lanes 2, 3.
        const interleave = (a: number, b: number, lanes: number[], out: number): void => { f.localGet(a).localGet(b).shuffle(laneBytes(lanes, 4)).localSet(out); };
        interleave(rows[0], rows[1], [0, 4, 1, 5], pairs[0]);
        interleave(rows[2], rows[3], [0, 4, 1, 5], pairs[1]);
        interleave(rows[0], rows[1], [2, 6, 3, 7], pairs[2]);
        interleave(rows[2], rows[3], [2, 6, 3, 7], pairs[3]);
        for (const [a, b, lanes] of [[0, 1, [0, 1, 4, 5]], [0, 1, [2, 3, 6, 7]], [2, 3, [0, 1, 4, 5]], [2, 3, [2, 3, 6, 7]]] as const) {
          square(s, () => { f.localGet(pairs[a]).localGet(pairs[b]).shuffle(laneBytes(lanes, 4)); });
        }
      } else {
        square(s, () => { f.localGet(rows[0]).localGet(rows[1]).shuffle(laneBytes([0, 2], 8)); });
        square(s, () => { f.localGet(rows[0]).localGet(rows[1]).shuffle(laneBytes([1, 3], 8)); });
      }
    });
    f.addToLocal(P, 16);
  });
  f.localGet(N).i32Const(L - 1).op(Op.i32And).localSet(count);
  countedLoop(f, count, () => {
    sums.forEach((s, v) => {
      for (let lane = 0; lane < L; lane++) {
        const offset = (v * L + lane) * stride;
        f.localGet(P);
        if (lane === 0) f.simdMemory(zeroLoad, ops.alignLog2, offset);
        else f.localGet(x).simdMemoryLane(laneLoad, ops.alignLog2, offset, lane);
        f.localSet(x);
      }
      square(s, () => { f.localGet(x); });
    });
    f.addToLocal(P, ops.bytes);
  });
  sums.forEach((s, v) => {
    for (let lane = 0; lane < L; lane++) {
      f.localGet(OUT).localGet(s).simdLane(ops.extractLane, lane);
      if (f32) f.op(Op.f64PromoteF32);
      f.memory(Op.f64Store, 3, 8 * (v * L + lane));
    }
  });
  return f;
}

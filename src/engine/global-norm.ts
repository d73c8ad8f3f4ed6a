import type { Dtype, FloatArray } from '../core/dtype.js';
import { type SumPlan, xlaReduceSumPlan } from '../core/xla-reduce-sum.js';
import { type LeafSum, squareTerms } from '../transforms/clip-by-global-norm.js';
import type { EngineMemory } from './memory.js';
import { MIN_NORMAL } from './subnormals.js';
import { FunctionBuilder, countedLoop } from './wasm/function-builder.js';
import { emitSequentialSquares, emitSquareAdd } from './wasm/reduction-module.js';
import { assembleModule } from './wasm/module.js';
import { Op, ValType, floatOps } from './wasm/opcodes.js';

/**
 * The leaf sums of the global norm of `clipByGlobalNorm` at the start of a chain, bit-exact to
 * `leafSumOfSquares` (src/transforms/clip-by-global-norm.ts): the same `xlaReduceSum` over the same
 * square terms, so the order is written once. XLA:CPU's order is built from sequential runs of
 * consecutive squares (core/xla-reduce-sum.ts); the WebAssembly backend supplies those runs with scalar
 * `f32.add`/`f64.add` (the same IEEE operations as JS without a `Math.fround` round trip per
 * addition), the rest (the windows of long dimensions) is shared JS.
 */

export type { LeafSum };
export { combineLeafSums } from '../transforms/clip-by-global-norm.js';

/** Leaf sums in JS: the reference terms themselves. */
export function jsLeafSums(grads: readonly FloatArray[], shapes: readonly (readonly number[])[], flush: boolean): LeafSum {
  return planLeafSums(grads.map((g, i) => xlaReduceSumPlan(squareTerms(g, flush), shapes[i])));
}

/** Leaf sums of per-leaf plans, with `into` (nothing boxed at a step). */
function planLeafSums(plans: readonly SumPlan[]): LeafSum {
  return Object.assign((i: number) => plans[i](), { into: (i: number, cells: Float64Array, at: number) => plans[i].into(cells, at) });
}

/** Leaf sums whose sequential runs run in WebAssembly, over the gradient views (which must lie in `memory`). */
export function wasmLeafSums(grads: readonly FloatArray[], shapes: readonly (readonly number[])[], flush: boolean, memory: EngineMemory): LeafSum {
  const wasm = memory.wasm;
  if (!wasm) throw new Error('WebAssembly.Memory is unavailable');
  const bytes = assembleModule({ shared: memory.shared, initialPages: memory.pages, maximumPages: memory.pages }, [sequentialSum('float32'), sequentialSum('float64'), windowFold('float32'), windowFold('float64')]);
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: wasm } }).exports;
  type Run = (n: number, pointer: number, acc: number, min: number) => number;
  type Fold = (pointer: number, count: number, windowStride: number, rows: number, rowStride: number, len: number, acc: number, min: number) => number;
  const runs: Record<Dtype, Run> = { float32: exports.sum_float32 as Run, float64: exports.sum_float64 as Run };
  const folds: Record<Dtype, Fold> = { float32: exports.windows_float32 as Fold, float64: exports.windows_float64 as Fold };
  const terms = grads.map((g) => {
    const dtype: Dtype = g instanceof Float32Array ? 'float32' : 'float64';
    const run = runs[dtype], fold = folds[dtype], min = flush ? MIN_NORMAL[dtype] : 0, size = g.BYTES_PER_ELEMENT;
    const sequential = squareTerms(g, flush, (lo, hi, acc) => (hi > lo ? run(hi - lo, g.byteOffset + lo * size, acc, min) : acc));
    return {
      ...sequential,
      windows: (start: number, count: number, windowStride: number, rows: number, rowStride: number, len: number, acc: number) =>
        fold(g.byteOffset + start * size, count, windowStride * size, rows, rowStride * size, len, acc, min),
      // The same through cells (see SumTerms.runCell): the accumulator goes from a typed array to
      // WebAssembly and back, never boxed.
      runCell: (lo: number, hi: number, cells: Float64Array, at: number) => {
        if (hi > lo) cells[at] = run(hi - lo, g.byteOffset + lo * size, cells[at], min);
      },
      windowsCell: (start: number, count: number, windowStride: number, rows: number, rowStride: number, len: number, cells: Float64Array, at: number) => {
        cells[at] = fold(g.byteOffset + start * size, count, windowStride * size, rows, rowStride * size, len, cells[at], min);
      },
    };
  });
  return planLeafSums(terms.map((t, i) => xlaReduceSumPlan(t, shapes[i])));
}

/**
 * `windows_<dtype>(pointer, count, windowStride, rows, rowStride, len, acc, min)` (strides in bytes):
 * `SumTerms.windows` over squares: each window's runs added in order from 0 (the same square-and-add
 * steps as `sum_<dtype>`), each window sum then added to `acc` in window order. Windows are
 * independent until that last addition, so four run side by side, each its own chain of additions
 * (the latency of one chain no longer bounds the loop); the last `count % 4` run one at a time.
 */
function windowFold(dtype: Dtype): FunctionBuilder {
  const ops = floatOps(dtype);
  const i32 = ValType.i32;
  const f = new FunctionBuilder(`windows_${dtype}`, [i32, i32, i32, i32, i32, i32, ops.valType, ops.valType], [ops.valType]);
  const P = 0, COUNT = 1, WSTRIDE = 2, ROWS = 3, RSTRIDE = 4, LEN = 5, ACC = 6, MIN = 7;
  const groups = f.local(i32), rowsLeft = f.local(i32), rowStart = f.local(i32), n = f.local(i32), scratch = f.local(ops.valType);
  const WIDTH = 4;
  const pointers = Array.from({ length: WIDTH }, () => f.local(i32));
  const sums = Array.from({ length: WIDTH }, () => f.local(ops.valType));
  const zero = (): void => { (ops.bytes === 4 ? f.f32Const(0) : f.f64Const(0)); };
  /** `width` windows from P: their sums into sums[0..width), each added to ACC in order; P moves past them. */
  const windows = (width: number): void => {
    for (let k = 0; k < width; k++) { zero(); f.localSet(sums[k]); }
    f.localGet(ROWS).localSet(rowsLeft);
    f.localGet(P).localSet(rowStart);
    countedLoop(f, rowsLeft, () => {
      f.localGet(LEN).localSet(n);
      f.localGet(rowStart).localSet(pointers[0]);
      for (let k = 1; k < width; k++) f.localGet(pointers[k - 1]).localGet(WSTRIDE).op(Op.i32Add).localSet(pointers[k]);
      countedLoop(f, n, () => {
        for (let k = 0; k < width; k++) emitSquareAdd(f, ops, pointers[k], sums[k], scratch, MIN);
      });
      f.localGet(rowStart).localGet(RSTRIDE).op(Op.i32Add).localSet(rowStart);
    });
    for (let k = 0; k < width; k++) {
      f.localGet(ACC).localGet(sums[k]).op(ops.scalar.add).localSet(ACC);
      f.localGet(P).localGet(WSTRIDE).op(Op.i32Add).localSet(P);
    }
  };
  f.localGet(COUNT).i32Const(2).op(Op.i32ShrU).localSet(groups);
  countedLoop(f, groups, () => windows(WIDTH));
  f.localGet(COUNT).i32Const(WIDTH - 1).op(Op.i32And).localSet(groups);
  countedLoop(f, groups, () => windows(1));
  f.localGet(ACC);
  return f;
}

/**
 * `sum_<dtype>(n, pointer, acc, min)`: `q = x_i * x_i; acc = acc + (q < min ? 0 : q)` for i in [0, n),
 * in order, in the dtype (`min` is the smallest normal in XLA's subnormal mode, else 0).
 */
function sequentialSum(dtype: Dtype): FunctionBuilder {
  const ops = floatOps(dtype);
  const f = new FunctionBuilder(`sum_${dtype}`, [ValType.i32, ValType.i32, ops.valType, ops.valType], [ops.valType]);
  const N = 0, P = 1, ACC = 2, MIN = 3;
  emitSequentialSquares(f, ops, N, P, ACC, f.local(ops.valType), MIN);
  f.localGet(ACC);
  return f;
}

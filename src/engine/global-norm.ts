import type { Dtype, FloatArray } from '../core/dtype.js';
import { xlaReduceSum } from '../core/xla-reduce-sum.js';
import { type LeafSum, squareTerms } from '../transforms/clip-by-global-norm.js';
import type { EngineMemory } from './memory.js';
import { MIN_NORMAL } from './subnormals.js';
import { FunctionBuilder } from './wasm/function-builder.js';
import { emitSequentialSquares } from './wasm/reduction-module.js';
import { assembleModule } from './wasm/module.js';
import { ValType, floatOps } from './wasm/opcodes.js';

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
  return (i) => xlaReduceSum(squareTerms(grads[i], flush), shapes[i]);
}

/** Leaf sums whose sequential runs run in WebAssembly, over the gradient views (which must lie in `memory`). */
export function wasmLeafSums(grads: readonly FloatArray[], shapes: readonly (readonly number[])[], flush: boolean, memory: EngineMemory): LeafSum {
  const wasm = memory.wasm;
  if (!wasm) throw new Error('WebAssembly.Memory is unavailable');
  const bytes = assembleModule({ shared: memory.shared, initialPages: memory.pages, maximumPages: memory.pages }, [sequentialSum('float32'), sequentialSum('float64')]);
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: wasm } }).exports;
  type Run = (n: number, pointer: number, acc: number, min: number) => number;
  const runs: Record<Dtype, Run> = { float32: exports.sum_float32 as Run, float64: exports.sum_float64 as Run };
  return (i) => {
    const g = grads[i];
    const dtype: Dtype = g instanceof Float32Array ? 'float32' : 'float64';
    const run = runs[dtype], min = flush ? MIN_NORMAL[dtype] : 0, size = g.BYTES_PER_ELEMENT;
    return xlaReduceSum(squareTerms(g, flush, (lo, hi, acc) => (hi > lo ? run(hi - lo, g.byteOffset + lo * size, acc, min) : acc)), shapes[i]);
  };
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

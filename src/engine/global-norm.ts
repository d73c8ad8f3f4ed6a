import type { Dtype, FloatArray } from '../core/dtype.js';
import { roundTo } from '../core/dtype.js';
import { type GlobalNorm, sumOfSquares } from '../transforms/clip-by-global-norm.js';
import type { EngineMemory } from './memory.js';
import { FunctionBuilder } from './wasm/function-builder.js';
import { emitSequentialSquares } from './wasm/reduction-module.js';
import { assembleModule } from './wasm/module.js';
import { ValType, floatOps } from './wasm/opcodes.js';

/**
 * The global norm of the gradients for `clipByGlobalNorm` at the start of a chain, bit-exact to
 * `globalNorm` (src/transforms/clip-by-global-norm.ts): each leaf's sum of squares accumulated
 * sequentially in the leaf's dtype (XLA CPU's order, so it cannot be vectorized), the leaf sums added
 * in flattening order with float64 promotion, the square root rounded once.
 *
 * The sequential sum is latency-bound: in JS each addition also waits for a `Math.fround` round trip,
 * so the WebAssembly backend sums with scalar `f32.add`/`f64.add` (the same IEEE operations, a third
 * of the latency).
 */

/** The sum of squares of one gradient leaf (by flattening index). */
export type LeafSum = (leaf: number) => number;

/** A {@link GlobalNorm} the fused engine rewrites at every step (nothing allocated). */
export type NormRecord = { -readonly [K in keyof GlobalNorm]: GlobalNorm[K] };

/** Combines the leaf sums exactly as `globalNorm` does (into `out` when given, else a new record). */
export function combineLeafSums(dtypes: readonly Dtype[], sum: LeafSum, out?: NormRecord): GlobalNorm {
  // optax starts from the Python int 0, which takes the first sum's dtype (float32 when there is none).
  let dtype: Dtype | undefined;
  let total = 0;
  for (let i = 0; i < dtypes.length; i++) {
    dtype = dtype === 'float64' || dtypes[i] === 'float64' ? 'float64' : 'float32';
    total = roundTo(dtype, total + sum(i));
  }
  dtype ??= 'float32';
  const value = roundTo(dtype, Math.sqrt(total));
  if (!out) return { value, dtype };
  out.value = value;
  out.dtype = dtype;
  return out;
}

/** Leaf sums in JS: the reference `sumOfSquares` itself. */
export function jsLeafSums(grads: readonly FloatArray[]): LeafSum {
  return (i) => sumOfSquares(grads[i]);
}

/** Leaf sums in WebAssembly, over the gradient views (which must lie in `memory`). */
export function wasmLeafSums(grads: readonly FloatArray[], memory: EngineMemory): LeafSum {
  const wasm = memory.wasm;
  if (!wasm) throw new Error('WebAssembly.Memory is unavailable');
  const bytes = assembleModule({ shared: memory.shared, initialPages: memory.pages, maximumPages: memory.pages }, [sequentialSum('float32'), sequentialSum('float64')]);
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: wasm } }).exports;
  const f32 = exports.sum_float32 as (n: number, pointer: number) => number;
  const f64 = exports.sum_float64 as (n: number, pointer: number) => number;
  return (i) => {
    const g = grads[i];
    return (g instanceof Float32Array ? f32 : f64)(g.length, g.byteOffset);
  };
}

/** `sum_<dtype>(n, pointer)`: `s = 0; s = s + x_i * x_i` for i in [0, n), in order, in the dtype. */
function sequentialSum(dtype: Dtype): FunctionBuilder {
  const ops = floatOps(dtype);
  const f = new FunctionBuilder(`sum_${dtype}`, [ValType.i32, ValType.i32], [ops.valType]);
  const N = 0, P = 1;
  const sum = f.local(ops.valType);
  const x = f.local(ops.valType);
  emitSequentialSquares(f, ops, N, P, sum, x);
  f.localGet(sum);
  return f;
}

import { type Dtype, roundTo } from './dtype.js';
import { OptaxError } from './errors.js';
import { describe, isDictNode } from '../tree/node.js';

/**
 * The order in which XLA:CPU adds the elements of `jnp.sum(x)`, one HLO `reduce` over every dimension
 * of `x` run eagerly as its own computation. The facts and their sources are in docs/numerics.md §3:
 *
 * 1. **Windows** (`TreeReductionRewriter`, run to a fixed point by the CPU simplification pipeline):
 *    while some dimension is longer than 32, the reduce becomes a `reduce-window` whose window spans
 *    `min(d, 32)` elements of each dimension `d`, strided as wide, padded `Padding::kSame` (the padding,
 *    half of it low, rounded down, is outside the array and adds nothing), followed by a reduce of the
 *    window sums. Dimensions of size 1 change nothing.
 * 2. **Loop nest**: the fusion emitter writes a reduce, and each window of a reduce-window, as a loop
 *    nest over its dimensions, outermost first, carrying one accumulator that starts at 0. LLVM fully
 *    unrolls the innermost loop, so a vector (and, where LLVM does not vectorize the loop around it,
 *    any array) adds in row-major order.
 *
 * Not reproduced (docs/numerics.md §3, open): where LLVM vectorizes the loop around the innermost one,
 * the rows of a matrix are added as vector lanes (`(r0 + r2) + (r1 + r3)` for 4 rows). With XLA's target
 * (`+prefer-no-gather`), LLVM 22 and 19 vectorize exactly the recorded vectorized leaves, but also
 * 2-row loops, which the recordings add in order; the pinned LLVM's choice for 2 rows cannot be derived
 * here, so no rule is applied and every row loop is taken as scalar. Float32 reductions of 32 Ki elements or more are offloaded to YNNPACK, whose order inside a
 * window is not reproduced either.
 */

/**
 * Reduced dimensions longer than this are split into windows this wide (point 1;
 * `TreeReductionRewriter`'s `reduce_window_size` on CPU).
 *
 * @example
 * ```ts
 * import { XLA_REDUCE_WINDOW, valueTerms, xlaReduceSum } from 'optax-ts';
 * const ones = new Array(XLA_REDUCE_WINDOW + 1).fill(1);
 * console.log(XLA_REDUCE_WINDOW, xlaReduceSum(valueTerms('float64', ones), [ones.length])); // 32 33
 * ```
 */
export const XLA_REDUCE_WINDOW = 32;

/**
 * What is summed: terms in row-major order, each already rounded to `dtype` (and, in XLA's subnormal
 * mode, flushed), reached only through `run(lo, hi, acc)`, which adds terms `lo..hi-1` to `acc` one by
 * one, each addition rounded: the one sequential primitive, so a fast path (WebAssembly) can supply
 * its own and still follow the same order.
 */
export interface SumTerms {
  readonly dtype: Dtype;
  run(lo: number, hi: number, acc: number): number;
}

/**
 * The terms of a list of values already rounded to `dtype` (partial sums, per-leaf sums).
 *
 * @example
 * ```ts
 * import { valueTerms, xlaReduceSum } from 'optax-ts';
 * console.log(xlaReduceSum(valueTerms('float32', [0.1, 0.2]), [2])); // 0.30000001192092896
 * ```
 */
export function valueTerms(dtype: Dtype, values: ArrayLike<number>): SumTerms {
  if ((dtype !== 'float32' && dtype !== 'float64') || !(Array.isArray(values) || values instanceof Float32Array || values instanceof Float64Array) || !Array.prototype.every.call(values, (v: unknown) => typeof v === 'number')) {
    throw new OptaxError(`valueTerms: expected 'float32' or 'float64' and a list of numbers, got ${describe(dtype)}, ${describe(values)}`);
  }
  return {
    dtype,
    run: (lo, hi, acc) => {
      for (let i = lo; i < hi; i++) acc = roundTo(dtype, acc + values[i]);
      return acc;
    },
  };
}

/**
 * One `reduce-window` of point 1: the array's `dims` (no dimension of size 1), the `window` along each,
 * the number of windows `out` along each, and the padding before (`padLow`) and after (`padHigh`).
 */
export interface ReduceWindowLevel {
  readonly dims: readonly number[];
  readonly window: readonly number[];
  readonly out: readonly number[];
  readonly padLow: readonly number[];
  readonly padHigh: readonly number[];
}

/**
 * The windows `TreeReductionRewriter` puts in front of a reduce of `shape` (point 1), first to last,
 * and the dimensions left for the final reduce (all at most 32 long, sizes of 1 dropped). Shared by
 * {@link xlaReduceSum} and the jax-js adapter, so the windows are written once.
 *
 * @example
 * ```ts
 * import { xlaReduceWindows } from 'optax-ts';
 * const { levels, last } = xlaReduceWindows([1057]);
 * console.log(levels.map((l) => [l.out, l.padLow]), last); // [ [ [ 34 ], [ 15 ] ], [ [ 2 ], [ 15 ] ] ] [ 2 ]
 * ```
 */
export function xlaReduceWindows(shape: readonly number[]): { levels: ReduceWindowLevel[]; last: number[] } {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new OptaxError(`xlaReduceWindows: shape must be a list of non-negative integers, got ${describe(shape)}`);
  }
  const levels: ReduceWindowLevel[] = [];
  let dims = shape.filter((d) => d !== 1);
  while (dims.some((d) => d > XLA_REDUCE_WINDOW)) {
    const window = dims.map((d) => Math.min(d, XLA_REDUCE_WINDOW));
    const out = dims.map((d, k) => Math.ceil(d / window[k]));
    const padLow = dims.map((d, k) => Math.floor((out[k] * window[k] - d) / 2));
    const padHigh = dims.map((d, k) => out[k] * window[k] - d - padLow[k]);
    levels.push({ dims, window, out, padLow, padHigh });
    dims = out.filter((d) => d !== 1);
  }
  return { levels, last: dims };
}

/**
 * `jnp.sum` of the terms of an array of `shape` in XLA:CPU's order (the module comment), each addition
 * rounded to the dtype. An empty array sums to 0.
 *
 * @example
 * ```ts
 * import { valueTerms, xlaReduceSum } from 'optax-ts';
 * // 40 terms: two 32-wide windows, padded 12 low: elements 0..19, then 20..39, then the two sums.
 * // In order, every 1 after 2^24 would be lost (16777216); the second window keeps its twenty.
 * const x = Array.from({ length: 40 }, (_, i) => (i === 0 ? 2 ** 24 : 1));
 * console.log(xlaReduceSum(valueTerms('float32', x), [40])); // 16777236
 * ```
 */
export function xlaReduceSum(terms: SumTerms, shape: readonly number[]): number {
  if (!isDictNode(terms) || (terms.dtype !== 'float32' && terms.dtype !== 'float64') || typeof terms.run !== 'function') {
    throw new OptaxError(`xlaReduceSum: terms must be {dtype: 'float32' | 'float64', run(lo, hi, acc)}, got ${describe(terms)}`);
  }
  return xlaReduceSumPlan(terms, shape)();
}

/**
 * {@link xlaReduceSum} made once for terms whose values change between calls but whose shape does not
 * (the engine's gradient views): the windows are laid out once, and each call only adds.
 */
export function xlaReduceSumPlan(terms: SumTerms, shape: readonly number[]): () => number {
  const { levels, last } = xlaReduceWindows(shape);
  if (shape.some((d) => d === 0)) return () => 0;
  let sum: SumTerms = terms;
  for (const level of levels) sum = windowTerms(sum, level);
  const top = sum, count = last.reduce((a, b) => a * b, 1);
  return () => top.run(0, count, 0);
}

/**
 * The window sums of one level as terms of the next (row-major over the windows), each window summed
 * when the next level reads it: each is read exactly once, in order, so nothing is materialized. (The
 * engine, whose gradients have fixed shapes, materializes them instead to sum many windows side by
 * side: src/engine/norm-plan.ts.)
 */
function windowTerms(terms: SumTerms, level: ReduceWindowLevel): SumTerms {
  const { dtype } = terms;
  const { dims, window, out, padLow } = level;
  const rank = dims.length, last = rank - 1;
  const strides = dims.map((_, k) => dims.slice(k + 1).reduce((a, b) => a * b, 1));
  const rows = window.slice(0, last).reduce((a, b) => a * b, 1);
  const origin = new Array<number>(rank);
  const one = (w: number): number => {
    for (let k = last, rest = w; k >= 0; k--) {
      origin[k] = (rest % out[k]) * window[k] - padLow[k];
      rest = Math.floor(rest / out[k]);
    }
    const lo = Math.max(0, origin[last]), hi = Math.min(dims[last], origin[last] + window[last]);
    let acc = 0;
    for (let r = 0; r < rows && hi > lo; r++) {
      let offset = 0, inside = true;
      for (let k = last - 1, rest = r; k >= 0; k--) {
        const at = origin[k] + (rest % window[k]);
        rest = Math.floor(rest / window[k]);
        if (at < 0 || at >= dims[k]) inside = false;
        offset += at * strides[k];
      }
      if (inside) acc = terms.run(offset + lo, offset + hi, acc);
    }
    return acc;
  };
  return {
    dtype,
    run: (lo, hi, acc) => {
      for (let w = lo; w < hi; w++) acc = roundTo(dtype, acc + one(w));
      return acc;
    },
  };
}

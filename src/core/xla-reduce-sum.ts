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
 * 3. **Lanes in padded windows**: where a window's last dimension is padded (longer than 32 and not a
 *    multiple of 32), the innermost window loop keeps its bounds check, so LLVM does not unroll it but
 *    vectorizes it with masked loads: each window row is added in {@link XLA_ROW_LANES} lanes by
 *    interleaved parts, then reduced by halving ({@link laneRowSum}).
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
 * `laneRows`: the last dimension is padded, so each window row is added in lanes (point 3,
 * {@link laneRowSum}); else in order.
 */
export interface ReduceWindowLevel {
  readonly dims: readonly number[];
  readonly window: readonly number[];
  readonly out: readonly number[];
  readonly padLow: readonly number[];
  readonly padHigh: readonly number[];
  readonly laneRows: boolean;
}

/**
 * The lanes of point 3, per dtype: LLVM's loop vectorizer, for XLA's target (256-bit vectors:
 * `prefer-vector-width=256`), gives the padded innermost window loop `lanes` elements a vector and
 * `parts` vectors an iteration (its interleave count), float32 8 by 4, float64 4 by 4 (measured with
 * LLVM 22 and 19 alike: docs/numerics.md §3, "Windows, inside").
 *
 * @example
 * ```ts
 * import { XLA_ROW_LANES } from 'optax-ts';
 * console.log(XLA_ROW_LANES.float32, XLA_ROW_LANES.float64); // { lanes: 8, parts: 4 } { lanes: 4, parts: 4 }
 * ```
 */
export const XLA_ROW_LANES: Readonly<Record<Dtype, { readonly lanes: number; readonly parts: number }>> = {
  float32: { lanes: 8, parts: 4 },
  float64: { lanes: 4, parts: 4 },
};

/** The lanes of {@link laneRowWalk}, which calls nothing: one set serves every caller and depth. */
const walkLanes = new Float64Array(Math.max(...Object.values(XLA_ROW_LANES).map((o) => o.lanes)));

/**
 * The lane order of point 3, written once for {@link laneRowSum} and the fused engine's
 * {@link xlaVectorSumPlan}: the row's in-bounds elements `values[base + i]` (rounded to the dtype) at
 * window positions `first .. first + count - 1`, added from `out[at]` (the accumulator carried from
 * the previous row, in lane 0 of part 0), the row's sum written back to `out[at]`. It calls no
 * function and takes or returns no double (V8 boxes a double passed to or returned from a call it
 * does not inline), so the engine's per-step sums allocate nothing.
 */
function laneRowWalk(dtype: Dtype, first: number, count: number, values: Float64Array, base: number, out: Float64Array, at: number): void {
  const f32 = dtype === 'float32', lanes = XLA_ROW_LANES[dtype].lanes, parts = XLA_ROW_LANES[dtype].parts, stride = lanes * parts, end = first + count;
  for (let l = 0; l < lanes; l++) {
    let lane = -0;
    for (let p = 0; p < parts; p++) {
      let part = p === 0 && l === 0 ? out[at] : -0;
      for (let j = p * lanes + l; j < XLA_REDUCE_WINDOW; j += stride) {
        if (j >= first && j < end) part = f32 ? Math.fround(part + values[base + j - first]) : part + values[base + j - first];
      }
      lane = p === 0 ? part : f32 ? Math.fround(part + lane) : part + lane;
    }
    walkLanes[l] = lane;
  }
  for (let half = lanes >> 1; half >= 1; half >>= 1) for (let l = 0; l < half; l++) walkLanes[l] = f32 ? Math.fround(walkLanes[l] + walkLanes[l + half]) : walkLanes[l] + walkLanes[l + half];
  out[at] = walkLanes[0];
}

/**
 * The elements of a row for {@link laneRowSum}, one array per nesting depth (an `add` may itself run
 * `laneRowSum`: the window sums of one level are the next level's terms). Values rounded to the dtype,
 * so a Float64Array holds them exactly.
 */
const rowScratch: Float64Array[] = [];
let rowDepth = 0;
const rowAcc = new Float64Array(1);

/**
 * One row of a padded window added as LLVM's vectorized loop adds it (point 3): window position `j`
 * (0 to 31) goes to part `(j / lanes) mod parts`, lane `j mod lanes`; each part's lane adds its
 * elements in order of `j` from -0 (lane 0 of part 0 from `acc`, the accumulator carried from the
 * previous row), out-of-bounds positions skipped (masked loads); then parts 1, 2, ... are added in
 * turn to part 0, lane by lane, and the lanes reduced by halving (lane `l` plus lane `l + half`, half
 * = lanes / 2 down to 1). The row's in-bounds elements are positions `first .. first + count - 1`;
 * `add(i, a)` returns `a` plus in-bounds element `i` (0-based), rounded to the dtype: the one
 * primitive, so each consumer supplies its own terms (squares, flushed). -0 is the identity of the
 * rounded addition, so an empty lane changes nothing, and `add(i, -0)` is element `i` itself: each
 * element is read so, once, in order of `i`, then the lanes add them (the walk the fused engine runs).
 *
 * @example
 * ```ts
 * import { laneRowSum } from 'optax-ts';
 * // 32 float32 ones after 2^24: in order every 1 is lost; in lanes, lane 0 adds 2^24 + 1 (lost) and
 * // three more ones (lost), the other 7 lanes sum 4 each, and the halving keeps their 28.
 * const row = Array.from({ length: 32 }, (_, i) => (i === 0 ? 2 ** 24 : 1));
 * console.log(laneRowSum('float32', 0, 0, 32, (i, a) => Math.fround(a + row[i]))); // 16777244
 * ```
 */
export function laneRowSum(dtype: Dtype, acc: number, first: number, count: number, add: (i: number, acc: number) => number): number {
  const order = XLA_ROW_LANES[dtype];
  if (order === undefined || !Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 0 || first + count > XLA_REDUCE_WINDOW || typeof add !== 'function') {
    throw new OptaxError(`laneRowSum: expected a dtype, 0 <= first, first + count <= ${XLA_REDUCE_WINDOW} and add(i, acc), got ${describe(dtype)}, ${describe(first)}, ${describe(count)}`);
  }
  const row = (rowScratch[rowDepth] ??= new Float64Array(XLA_REDUCE_WINDOW));
  rowDepth++;
  try {
    for (let i = 0; i < count; i++) row[i] = add(i, -0);
  } finally {
    rowDepth--;
  }
  rowAcc[0] = acc;
  laneRowWalk(dtype, first, count, row, 0, rowAcc, 0);
  return rowAcc[0];
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
    const last = dims.length - 1;
    levels.push({ dims, window, out, padLow, padHigh, laneRows: padLow[last] + padHigh[last] > 0 });
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
 * // In order, every 1 after 2^24 would be lost (16777216). The last dimension is padded, so each
 * // window is added in 8 lanes: the lane holding 2^24 loses its two ones, the other 17 ones are
 * // kept (the halving rounds 2^24 + 7 to 2^24 + 8, so 18); the second window keeps its twenty.
 * const x = Array.from({ length: 40 }, (_, i) => (i === 0 ? 2 ** 24 : 1));
 * console.log(xlaReduceSum(valueTerms('float32', x), [40])); // 16777254
 * ```
 */
export function xlaReduceSum(terms: SumTerms, shape: readonly number[]): number {
  if (!isDictNode(terms) || (terms.dtype !== 'float32' && terms.dtype !== 'float64') || typeof terms.run !== 'function') {
    throw new OptaxError(`xlaReduceSum: terms must be {dtype: 'float32' | 'float64', run(lo, hi, acc)}, got ${describe(terms)}`);
  }
  return xlaReduceSumPlan(terms, shape)();
}

/**
 * {@link xlaReduceSum} of a vector (`valueTerms(dtype, values)`, shape `[values.length]`) made once
 * for values that change between calls: `into(cells, at)` writes the sum to `cells[at]`. Each level's
 * window sums are materialized in arrays of its own and every addition reads and writes arrays, so a
 * call allocates nothing (the fused engine's per-step form; {@link xlaReduceSumPlan} sums through
 * closures returning doubles, each a new heap number where V8 does not inline the call).
 */
export function xlaVectorSumPlan(dtype: Dtype, values: Float64Array): { into(cells: Float64Array, at: number): void } {
  const { levels } = xlaReduceWindows([values.length]);
  const sums = levels.map((l) => new Float64Array(l.out[0]));
  const f32 = dtype === 'float32';
  // `from[lo..hi)` added in order from 0 into `to[at]` (each addition rounded).
  const inOrder = (from: Float64Array, lo: number, hi: number, to: Float64Array, at: number): void => {
    to[at] = 0;
    for (let i = lo; i < hi; i++) to[at] = f32 ? Math.fround(to[at] + from[i]) : to[at] + from[i];
  };
  return {
    into(cells, at) {
      let from = values;
      for (let k = 0; k < levels.length; k++) {
        // One dimension: each window one row, of positions origin .. origin + window - 1 (padding outside).
        const level = levels[k], to = sums[k], n = level.dims[0], width = level.window[0], padLow = level.padLow[0];
        for (let w = 0; w < to.length; w++) {
          const origin = w * width - padLow;
          const lo = Math.max(0, origin), hi = Math.min(n, origin + width);
          if (hi > lo && level.laneRows) {
            to[w] = 0; // from 0, as reduceWindowTerms starts each window
            laneRowWalk(dtype, lo - origin, hi - lo, from, lo, to, w);
          } else inOrder(from, lo, hi, to, w);
        }
        from = to;
      }
      inOrder(from, 0, from.length, cells, at);
    },
  };
}

/**
 * {@link xlaReduceSum} made once for terms whose values change between calls but whose shape does not
 * (the engine's gradient views): the windows are laid out once, and each call only adds.
 */
export function xlaReduceSumPlan(terms: SumTerms, shape: readonly number[]): () => number {
  const { levels, last } = xlaReduceWindows(shape);
  if (shape.some((d) => d === 0)) return () => 0;
  let sum: SumTerms = terms;
  for (const level of levels) sum = reduceWindowTerms(sum, level);
  const top = sum, count = last.reduce((a, b) => a * b, 1);
  return () => top.run(0, count, 0);
}

/**
 * The window sums of one level as terms of the next (row-major over the windows), each window summed
 * when the next level reads it: each is read exactly once, in order, so nothing is materialized. (The
 * engine, whose gradients have fixed shapes, materializes them instead to sum many windows side by
 * side: src/engine/norm-plan.ts.) Exported for the measurement harness (scripts/llvm-reduce-order),
 * which compares each window sum with LLVM's.
 */
export function reduceWindowTerms(terms: SumTerms, level: ReduceWindowLevel): SumTerms {
  const { dtype } = terms;
  const { dims, window, out, padLow, laneRows } = level;
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
      if (!inside) continue;
      if (!laneRows) acc = terms.run(offset + lo, offset + hi, acc);
      else {
        const base = offset + lo;
        acc = laneRowSum(dtype, acc, lo - origin[last], hi - lo, (i, a) => terms.run(base + i, base + i + 1, a));
      }
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

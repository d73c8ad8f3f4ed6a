import { type Dtype, type FloatArray, dtypeOfArray, roundTo } from '../core/dtype.js';
import { acceptsRange, checkHyperparam } from '../core/hyperparams.js';
import { OptaxError } from '../core/errors.js';
import { describe, isDictNode } from '../tree/node.js';
import type { EmptyState, GradientTransformation } from '../core/transformation.js';
import { type Kernel, ex } from '../kernel/expr.js';
import { evaluateKernel, flushingSubnormals, planKernel } from '../kernel/interpret.js';
import { MIN_NORMAL } from '../engine/subnormals.js';
import { type SumTerms, xlaReduceSum } from '../core/xla-reduce-sum.js';
import { dividesByScalar } from '../kernel/scalar-division.js';
import { type ArrayLeaf, isArrayLeaf, leafData, leafDtype, leafLike, leafShape } from '../tree/leaf.js';
import { treeLeaves, mapTrees } from '../tree/map.js';
import type { Params, Updates } from '../tree/tree.js';
import { recordCall } from '../spec/record.js';
import { expectFloatArray, expectList } from '../core/args.js';

/**
 * Bit-exactness notes (optax 0.2.8 eager on XLA:CPU; every fact's source is in docs/numerics.md):
 *
 * - Reduction: optax's `optax.tree.norm` squares each leaf (`jnp.square`, rounded), sums each leaf with
 *   `jnp.sum` (one XLA reduce per leaf, eager), and adds the leaf sums from the Python int 0 in
 *   flattening order (dict keys sorted) with `jax.tree.reduce`; `sqrt` is rounded once. Each leaf's
 *   squares are added in XLA:CPU's order for the leaf's shape (`xlaReduceSum`, core/xla-reduce-sum.ts);
 *   in XLA's subnormal mode (`withFlushedSubnormals`) a square below the smallest normal is 0.
 * - Scaling: optax writes `(t / g_norm) * max_norm`, each op a small jitted computation. XLA's
 *   algebraic simplifier on CPU rewrites `A / broadcast(B)` into `A * broadcast(1 / B)` when `B` has
 *   one use (xla/hlo/transforms/simplifiers/algebraic_simplifier.cc, `HandleDivide`), so a leaf of
 *   two or more elements is computed as `(t * (1 / g_norm)) * max_norm`. A rank-0 leaf has no
 *   broadcast, and a one-element leaf's broadcast is first turned into a reshape (`HandleBroadcast`:
 *   same element count), so those divide: `(t / g_norm) * max_norm`.
 */

/** The global norm of a tree: its value and the dtype it was computed in (float64 if any leaf is). */
export interface GlobalNorm {
  readonly value: number;
  readonly dtype: Dtype;
}

/**
 * Adds the squares of `data[lo..hi)` to `acc` one by one, each operation rounded to the array's
 * dtype: the sequential run XLA:CPU's order is built from ({@link leafSumOfSquares}). Calling it on
 * consecutive ranges with the running `acc` gives the same bits as one call over the whole range.
 * With `flush`, a square below the dtype's smallest normal counts as 0 (XLA's FTZ/DAZ: a subnormal
 * `x` reads as 0, and a product below the normal range is flushed).
 *
 * @example
 * ```ts
 * import { sumOfSquares } from 'optax-ts';
 * console.log(sumOfSquares(new Float32Array([3, 4]))); // 25
 * ```
 */
export function sumOfSquares(data: FloatArray, acc = 0, lo = 0, hi = data?.length, flush = false): number {
  expectFloatArray('sumOfSquares', 'data', data);
  if (typeof acc !== 'number' || !Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > data.length || typeof flush !== 'boolean') {
    throw new OptaxError(`sumOfSquares: expected a number acc, a range 0 <= lo, hi <= ${data.length} and a boolean flush, got ${describe(acc)}, ${describe(lo)}, ${describe(hi)}, ${describe(flush)}`);
  }
  if (data instanceof Float32Array) {
    const min = flush ? MIN_NORMAL.float32 : 0;
    let s = Math.fround(acc);
    for (let i = lo; i < hi; i++) {
      const v = data[i], q = Math.fround(v * v);
      s = Math.fround(s + (q < min ? 0 : q));
    }
    return s;
  }
  const min = flush ? MIN_NORMAL.float64 : 0;
  let s = acc;
  for (let i = lo; i < hi; i++) { const v = data[i], q = v * v; s += q < min ? 0 : q; }
  return s;
}

/**
 * The squares of `data` as {@link SumTerms} for `xlaReduceSum`: each `x * x` rounded to the dtype (and
 * flushed with `flush`), added by {@link sumOfSquares}, or by an equal routine given as `run`.
 *
 * @internal
 */
export function squareTerms(data: FloatArray, flush: boolean, run?: SumTerms['run']): SumTerms {
  return { dtype: dtypeOfArray(data), run: run ?? ((lo, hi, acc) => sumOfSquares(data, acc, lo, hi, flush)) };
}

/**
 * One leaf's `jnp.sum(jnp.square(x))` as optax computes it eagerly on XLA:CPU: the squares rounded to
 * the leaf's dtype, added in XLA:CPU's order for the leaf's shape (`xlaReduceSum`: in order, dimensions
 * longer than 32 in 32-wide windows, the rows of padded windows in vector lanes; docs/numerics.md §3). Inside `withFlushedSubnormals` squares below
 * the smallest normal count as 0, as under XLA's FTZ/DAZ.
 *
 * @example
 * ```ts
 * import { leafSumOfSquares, withFlushedSubnormals } from 'optax-ts';
 * // 40 elements: two windows (elements 0..19 and 20..39), each added in 8 vector lanes (the last
 * // dimension is padded), whose sums are added last.
 * const x = new Float32Array(40).fill(1);
 * x[0] = 2 ** 12;
 * console.log(leafSumOfSquares(x)); // 16777254
 * // 2^-70 squared is a float32 subnormal: XLA:CPU flushes it.
 * const tiny = new Float32Array([2 ** -63, 2 ** -70]);
 * console.log(leafSumOfSquares(tiny) > 2 ** -126, withFlushedSubnormals(() => leafSumOfSquares(tiny)) === 2 ** -126); // true true
 * ```
 */
export function leafSumOfSquares(leaf: ArrayLeaf): number {
  if (!isArrayLeaf(leaf)) throw new OptaxError(`leafSumOfSquares: expected a Float32Array, Float64Array or ShapedArray, got ${describe(leaf)}`);
  return xlaReduceSum(squareTerms(leafData(leaf), flushingSubnormals()), leafShape(leaf));
}

/**
 * The global L2 norm of a list of leaves (optax's `optax.tree.norm`), in the order optax reduces
 * them: each leaf's {@link leafSumOfSquares} (a `ShapedArray` leaf's shape sets XLA's order; a plain
 * typed array is a vector), those sums added from 0 in list order (pass the leaves in flattening
 * order: dict keys sorted), `sqrt` rounded to the resulting dtype.
 *
 * @example
 * ```ts
 * import { globalNorm } from 'optax-ts';
 * console.log(globalNorm([new Float32Array([3]), new Float32Array([4])])); // { value: 5, dtype: 'float32' }
 * ```
 */
export function globalNorm(leaves: readonly ArrayLeaf[]): GlobalNorm {
  expectList('globalNorm', 'leaves', leaves);
  leaves.forEach((l, i) => {
    if (!isArrayLeaf(l)) throw new OptaxError(`globalNorm: leaves[${i}] must be a Float32Array, Float64Array or ShapedArray, got ${describe(l)}`);
  });
  return combineLeafSums(leaves.map(leafDtype), (i) => leafSumOfSquares(leaves[i]));
}

/** The sum of squares of one leaf, by flattening index. */
export interface LeafSum {
  (leaf: number): number;
  /** Optional: `cells[at] = sum(leaf)`, nothing boxed (the fused engine's per-step form). */
  into?(leaf: number, cells: Float64Array, at: number): void;
  /**
   * Optional: computes every leaf's sum at once and says where they are (the fused engine's form:
   * its sums are in its memory, and reading them needs no call per leaf, which cost about 5 ns a leaf,
   * 10 us a step on 2000 leaves). The same object at every call (nothing allocated).
   */
  all?(): LeafSumTable;
}

/** Where {@link LeafSum.all} left the sums: leaf i's is `float32[index[i]]` or `float64[index[i]]`, by its dtype. */
export interface LeafSumTable {
  readonly float32: Float32Array;
  readonly float64: Float64Array;
  readonly index: Int32Array;
}

/**
 * Adds leaf sums as optax's `tree_norm` does: from the Python int 0, which takes the first sum's dtype
 * (float32 when there is none), in order, promoting to float64 once a float64 sum is met; `sqrt`
 * rounded once. Shared by {@link globalNorm} and the engine.
 *
 * @internal
 */
export function combineLeafSums(dtypes: readonly Dtype[], sum: LeafSum): GlobalNorm {
  const cells = new Float64Array(2);
  writeCombinedLeafSums(dtypes, sum, cells);
  return { value: cells[0], dtype: combinedDtype(dtypes) };
}

/** The dtype of {@link combineLeafSums}' norm: float64 once a leaf is, else float32. @internal */
export function combinedDtype(dtypes: readonly Dtype[]): Dtype {
  for (let i = 0; i < dtypes.length; i++) if (dtypes[i] === 'float64') return 'float64';
  return 'float32';
}

/**
 * Each leaf's sum, `out[i] = sum(i)`, by the cheapest form `sum` has (one table for every leaf, a cell
 * per leaf, or a call): nothing allocated (MultiSteps' skipLargeUpdates on the fused engine).
 * @internal
 */
export function writeLeafSums(dtypes: readonly Dtype[], sum: LeafSum, out: Float64Array): void {
  const table = sum.all?.();
  for (let i = 0; i < dtypes.length; i++) {
    if (table) out[i] = dtypes[i] === 'float64' ? table.float64[table.index[i]] : table.float32[table.index[i]];
    else if (sum.into) sum.into(i, out, i);
    else out[i] = sum(i);
  }
}

/**
 * {@link combineLeafSums}' norm written to `cells[0]` (`cells[1]` is scratch), every sum through
 * the cells (`sum.into` when it has one): nothing is allocated. @internal
 */
export function writeCombinedLeafSums(dtypes: readonly Dtype[], sum: LeafSum, cells: Float64Array): void {
  // The running total is a local: its additions are one chain of dependent operations, which a store
  // and a load per addition (through a cell) made about half as long again (2000 leaves: 9.6 us).
  let wide = false, total = 0;
  const table = sum.all?.();
  for (let i = 0; i < dtypes.length; i++) {
    const float64 = dtypes[i] === 'float64';
    if (float64) wide = true;
    let s: number;
    if (table) s = float64 ? table.float64[table.index[i]] : table.float32[table.index[i]];
    else {
      if (sum.into) sum.into(i, cells, 1);
      else cells[1] = sum(i);
      s = cells[1];
    }
    // roundTo written out, as in writeClipScalars: no double crosses a call at a step.
    const t = total + s;
    total = wide ? t : Math.fround(t);
  }
  const norm = Math.sqrt(total);
  cells[0] = wide ? norm : Math.fround(norm);
}

/** `u = (g * inv_norm) * max_norm`: the scaling of a leaf of two or more elements (see the notes above). */
export const clipByGlobalNormKernel: Kernel = {
  updates: ex.mul(ex.mul(ex.updates, ex.scalar('inv_norm')), ex.scalar('max_norm')),
  state: {},
};

/** `u = (g / norm) * max_norm`: the scaling of a rank-0 or one-element leaf, which XLA divides. */
export const clipByGlobalNormDivisionKernel: Kernel = {
  updates: ex.mul(ex.div(ex.updates, ex.scalar('norm')), ex.scalar('max_norm')),
  state: {},
};

/**
 * The scalars of `clipByGlobalNormKernel` and `clipByGlobalNormDivisionKernel` for leaves
 * of `dtype`, given the global norm. When `norm < maxNorm` (optax's `trigger`, compared in the norm's
 * dtype) all are 1, which leaves every value (NaN and -0 included) exactly as it was, the same as
 * optax's `select`.
 *
 * @example
 * ```ts
 * import { clipByGlobalNormScalars } from 'optax-ts';
 * console.log(clipByGlobalNormScalars({ value: 4, dtype: 'float32' }, 1, 'float32')); // { inv_norm: 0.25, norm: 4, max_norm: 1 }
 * ```
 */
export function clipByGlobalNormScalars(norm: GlobalNorm, maxNorm: number, dtype: Dtype): { inv_norm: number; norm: number; max_norm: number } {
  if (!isDictNode(norm) || typeof norm.value !== 'number' || (norm.dtype !== 'float32' && norm.dtype !== 'float64') || typeof maxNorm !== 'number' || (dtype !== 'float32' && dtype !== 'float64')) {
    throw new OptaxError(`clipByGlobalNormScalars: expected a norm {value, dtype}, a number and a dtype, got ${describe(norm)}, ${describe(maxNorm)}, ${describe(dtype)}`);
  }
  const out = new Float64Array(3);
  writeClipScalars(Float64Array.of(norm.value, maxNorm), norm.dtype, dtype, out);
  return { inv_norm: out[0], norm: out[1], max_norm: out[2] };
}

/** The order in which {@link writeClipScalars} writes clip_by_global_norm's scalars. @internal */
export const CLIP_SCALARS = ['inv_norm', 'norm', 'max_norm'] as const;

/**
 * {@link clipByGlobalNormScalars} of the norm `values[0]` (of `normDtype`) and `max_norm` =
 * `values[1]`, written to `out` in {@link CLIP_SCALARS} order: read and written through typed arrays,
 * so that nothing is allocated at a step. @internal
 */
export function writeClipScalars(values: Float64Array, normDtype: Dtype, dtype: Dtype, out: Float64Array): void {
  // roundTo written out: a double returned by a call V8 has not inlined (yet, or after a deopt) is
  // a new heap number, and this runs at every step (seen in CI: 39 KB per 1000 steps).
  const f32 = dtype === 'float32';
  const value = values[0], maxNorm = values[1];
  if (value < (normDtype === 'float32' ? Math.fround(maxNorm) : maxNorm)) {
    out[0] = 1;
    out[1] = 1;
    out[2] = 1;
    return;
  }
  // g_norm.astype(t.dtype), then (for most leaves) its reciprocal in that dtype.
  const n = f32 ? Math.fround(value) : value;
  out[0] = f32 ? Math.fround(1 / n) : 1 / n;
  out[1] = n;
  out[2] = f32 ? Math.fround(maxNorm) : maxNorm;
}

/** What the fused engine needs to run clip_by_global_norm itself: a reduction, then a kernel. */
export interface GlobalNormReduction {
  readonly maxNorm: number;
  /** The scaling of a leaf of two or more elements. */
  readonly kernel: Kernel;
  /** The scaling of a rank-0 or one-element leaf (see {@link dividesByScalar}). */
  readonly divisionKernel: Kernel;
  /** The kernel's scalars for leaves of `dtype` once the norm is known. */
  scalars(norm: GlobalNorm, dtype: Dtype): Readonly<Record<string, number>>;
  /**
   * The same, for the norm `norm[0]` of `normDtype`, written to `out` in `CLIP_SCALARS` order
   * (`inv_norm`, `norm`, `max_norm`): the fused engine's per-step form, which allocates nothing.
   */
  writeScalars(norm: Float64Array, normDtype: Dtype, dtype: Dtype, out: Float64Array): void;
  /**
   * Injected (an `injectHyperparams` of clip_by_global_norm): the hyperparameter's name, its factory
   * check (the same rule as when built), and the scalars from `[norm, max_norm]` of the step
   * (`writeClipScalars`: the rule `writeScalars` applies to the max_norm it was built with), so
   * that the fused engine takes a scheduled max_norm at each step without rebuilding.
   */
  readonly injectable: {
    readonly name: 'max_norm';
    readonly accepts: (values: Float64Array, at: number) => boolean;
    readonly writeScalars: (values: Float64Array, normDtype: Dtype, dtype: Dtype, out: Float64Array) => void;
  };
}

/** The transformation returned by {@link clipByGlobalNorm}: stateless, with its reduction exposed. */
export interface ClipByGlobalNormTransformation extends GradientTransformation<EmptyState> {
  readonly reduction: GlobalNormReduction;
}

/** max_norm's range (Infinity never clips): checked when built, and for a scheduled (injected) value at each fused step. */
const MAX_NORM_RANGE = { min: 0, finite: false };
const INJECTABLE: GlobalNormReduction['injectable'] = { name: 'max_norm', accepts: acceptsRange(MAX_NORM_RANGE), writeScalars: writeClipScalars };

const plan = planKernel(clipByGlobalNormKernel);
const divisionPlan = planKernel(clipByGlobalNormDivisionKernel);

/**
 * Clips updates by their global norm (optax's `clip_by_global_norm`, Pascanu et al. 2012):
 *
 * ```
 * n = sqrt(sum over all leaves and elements of g^2)
 * u = g                    if n < maxNorm
 * u = (g / n) * maxNorm    otherwise
 * ```
 *
 * Rounded exactly as optax 0.2.8 eager on XLA CPU (see the notes above {@link GlobalNorm}: per-leaf
 * sums in XLA:CPU's order for the leaf's shape, and `g * (1/n)` in place of `g / n` on leaves of two or more elements). A non-finite update makes `n` infinite or NaN,
 * and then every update becomes 0 or NaN, as in optax.
 *
 * @param maxNorm - the largest global norm, a number >= 0 (NaN and negative values throw).
 *
 * @example
 * ```ts
 * import { clipByGlobalNorm } from 'optax-ts';
 * const tx = clipByGlobalNorm(1);
 * // Leaves of two or more elements: g * (1 / 5); one-element leaves: g / 5 (as XLA computes them).
 * const [u] = tx.update({ a: new Float64Array([3, 0]), b: new Float64Array([4]) }, tx.init({}));
 * console.log(u); // { a: Float64Array(2) [ 0.6000000000000001, 0 ], b: Float64Array(1) [ 0.8 ] }
 * ```
 */
export function clipByGlobalNorm(maxNorm: number): ClipByGlobalNormTransformation {
  checkHyperparam('clip_by_global_norm', 'max_norm', maxNorm, MAX_NORM_RANGE);
  // [the norm, max_norm]: writeScalars reads both from here (no double passed at a step).
  const values = Float64Array.of(0, maxNorm);
  const reduction: GlobalNormReduction = {
    maxNorm,
    kernel: clipByGlobalNormKernel,
    divisionKernel: clipByGlobalNormDivisionKernel,
    scalars: (norm, dtype) => clipByGlobalNormScalars(norm, maxNorm, dtype),
    writeScalars: (norm, normDtype, dtype, out) => {
      values[0] = norm[0];
      writeClipScalars(values, normDtype, dtype, out);
    },
    injectable: INJECTABLE,
  };
  return recordCall({
    name: 'clip_by_global_norm',
    reduction,
    init: (_params: Params): EmptyState => ({}),
    update<U extends Updates>(updates: U, state: EmptyState): [U, EmptyState] {
      if (!isDictNode(state) || Object.keys(state).length !== 0) {
        throw new OptaxError(`clip_by_global_norm: this state does not belong to clip_by_global_norm: expected {} (it keeps no state), got ${describe(state)}`);
      }
      const { leaves } = treeLeaves<ArrayLeaf>(updates);
      const norm = globalNorm(leaves);
      const clipped = mapTrees(([g]: ArrayLeaf[]) => {
        const dtype = leafDtype(g);
        const data = leafData(g);
        const out = evaluateKernel(dividesByScalar(data.length) ? divisionPlan : plan, { dtype, updates: data, state: {}, scalars: reduction.scalars(norm, dtype) }, []);
        return leafLike(g, out.updates);
      }, [updates], { root: 'grads' });
      return [clipped, state];
    },
  }, 'clip_by_global_norm', [maxNorm]);
}

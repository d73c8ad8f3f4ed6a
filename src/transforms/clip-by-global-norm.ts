import { type Dtype, type FloatArray, dtypeOfArray, roundTo } from '../core/dtype.js';
import { checkHyperparam } from '../core/hyperparams.js';
import type { EmptyState, GradientTransformation } from '../core/transformation.js';
import { type Kernel, ex } from '../kernel/expr.js';
import { evaluateKernel, planKernel } from '../kernel/interpret.js';
import { type ArrayLeaf, leafData, leafDtype, leafLike } from '../tree/leaf.js';
import { treeLeaves, treeMap } from '../tree/map.js';
import type { Params, Updates } from '../tree/tree.js';
import { recordCall } from '../spec/record.js';

/**
 * Bit-exactness notes, measured against optax 0.2.8 eager on XLA CPU (the vectors
 * `chain_clip_by_global_norm_adamax`, float32 and float64, pass bit for bit only this way):
 *
 * - Reduction: each leaf's sum of squares is accumulated *sequentially* in the leaf's dtype, in
 *   row-major order, from 0 (XLA CPU's loop for a full `jnp.sum`; no lanes, no pairwise tree, no wider
 *   accumulator: those variants each fail some step). The leaf sums are then added in flattening
 *   order (dict keys sorted) from 0, as optax's `jax.tree.reduce(operator.add, sums, initializer=0)`,
 *   in the promoted dtype; `sqrt` is rounded once.
 * - Scaling: optax writes `(t / g_norm) * max_norm`, but XLA rewrites the division by a broadcast
 *   scalar into a multiplication by its reciprocal: the values are `(t * (1 / g_norm)) * max_norm`,
 *   with `1 / g_norm` rounded to the leaf dtype (true division fails at the first step in float32).
 */

/** The global norm of a tree: its value and the dtype it was computed in (float64 if any leaf is). */
export interface GlobalNorm {
  readonly value: number;
  readonly dtype: Dtype;
}

/**
 * Adds the squares of `data[lo..hi)` to `acc` one by one, each operation rounded to the array's
 * dtype: XLA CPU's order for `jnp.sum(x ** 2)`. Calling it on consecutive ranges with the running
 * `acc` gives the same bits as one call over the whole leaf (what a blocked engine needs).
 *
 * @example
 * ```ts
 * import { sumOfSquares } from 'optax-ts';
 * console.log(sumOfSquares(new Float32Array([3, 4]))); // 25
 * ```
 */
export function sumOfSquares(data: FloatArray, acc = 0, lo = 0, hi = data.length): number {
  if (data instanceof Float32Array) {
    let s = Math.fround(acc);
    for (let i = lo; i < hi; i++) { const v = data[i]; s = Math.fround(s + Math.fround(v * v)); }
    return s;
  }
  let s = acc;
  for (let i = lo; i < hi; i++) { const v = data[i]; s += v * v; }
  return s;
}

/**
 * The global L2 norm of a list of leaves (optax's `optax.tree.norm`), in the order optax reduces
 * them: each leaf's {@link sumOfSquares}, those sums added from 0 in list order (pass the leaves in
 * flattening order: dict keys sorted), `sqrt` rounded to the resulting dtype.
 *
 * @example
 * ```ts
 * import { globalNorm } from 'optax-ts';
 * console.log(globalNorm([new Float32Array([3]), new Float32Array([4])])); // { value: 5, dtype: 'float32' }
 * ```
 */
export function globalNorm(leaves: readonly FloatArray[]): GlobalNorm {
  // optax starts from the Python int 0, which takes the first sum's dtype (float32 when there is none).
  let dtype: Dtype | undefined;
  let total = 0;
  for (const data of leaves) {
    const d = dtypeOfArray(data);
    dtype = dtype === 'float64' || d === 'float64' ? 'float64' : 'float32';
    total = roundTo(dtype, total + sumOfSquares(data));
  }
  dtype ??= 'float32';
  return { value: roundTo(dtype, Math.sqrt(total)), dtype };
}

/** `u = (g * inv_norm) * max_norm`: the scaling step, one kernel whatever the trigger. */
export const clipByGlobalNormKernel: Kernel = {
  updates: ex.mul(ex.mul(ex.updates, ex.scalar('inv_norm')), ex.scalar('max_norm')),
  state: {},
};

/**
 * The scalars of {@link clipByGlobalNormKernel} for leaves of `dtype`, given the global norm. When
 * `norm < maxNorm` (optax's `trigger`, compared in the norm's dtype) both are 1, which leaves every
 * value (NaN and -0 included) exactly as it was, the same as optax's `select`.
 *
 * @example
 * ```ts
 * import { clipByGlobalNormScalars } from 'optax-ts';
 * console.log(clipByGlobalNormScalars({ value: 4, dtype: 'float32' }, 1, 'float32')); // { inv_norm: 0.25, max_norm: 1 }
 * ```
 */
export function clipByGlobalNormScalars(norm: GlobalNorm, maxNorm: number, dtype: Dtype): { inv_norm: number; max_norm: number } {
  const trigger = norm.value < roundTo(norm.dtype, maxNorm);
  if (trigger) return { inv_norm: 1, max_norm: 1 };
  return { inv_norm: roundTo(dtype, 1 / roundTo(dtype, norm.value)), max_norm: roundTo(dtype, maxNorm) };
}

/** What the fused engine needs to run clip_by_global_norm itself: a reduction, then a kernel. */
export interface GlobalNormReduction {
  readonly maxNorm: number;
  readonly kernel: Kernel;
  /** The kernel's scalars for leaves of `dtype` once the norm is known. */
  scalars(norm: GlobalNorm, dtype: Dtype): Readonly<Record<string, number>>;
}

/** The transformation returned by {@link clipByGlobalNorm}: stateless, with its reduction exposed. */
export interface ClipByGlobalNormTransformation extends GradientTransformation<EmptyState> {
  readonly reduction: GlobalNormReduction;
}

const plan = planKernel(clipByGlobalNormKernel);

/**
 * Clips updates by their global norm (optax's `clip_by_global_norm`, Pascanu et al. 2012):
 *
 * ```
 * n = sqrt(sum over all leaves and elements of g^2)
 * u = g                    if n < maxNorm
 * u = (g / n) * maxNorm    otherwise
 * ```
 *
 * Rounded exactly as optax 0.2.8 eager on XLA CPU (see the notes above {@link GlobalNorm}: sequential
 * per-leaf sums, and `g * (1/n)` in place of `g / n`). A non-finite update makes `n` infinite or NaN,
 * and then every update becomes 0 or NaN, as in optax.
 *
 * @param maxNorm - the largest global norm, a number >= 0 (NaN and negative values throw).
 *
 * @example
 * ```ts
 * import { clipByGlobalNorm } from 'optax-ts';
 * const tx = clipByGlobalNorm(1);
 * const [u] = tx.update({ a: new Float64Array([3]), b: new Float64Array([4]) }, tx.init({}));
 * console.log(u); // { a: Float64Array(1) [ 0.6000000000000001 ], b: Float64Array(1) [ 0.8 ] }
 * ```
 */
export function clipByGlobalNorm(maxNorm: number): ClipByGlobalNormTransformation {
  checkHyperparam('clip_by_global_norm', 'max_norm', maxNorm, { min: 0, finite: false });
  const reduction: GlobalNormReduction = {
    maxNorm,
    kernel: clipByGlobalNormKernel,
    scalars: (norm, dtype) => clipByGlobalNormScalars(norm, maxNorm, dtype),
  };
  return recordCall({
    name: 'clip_by_global_norm',
    reduction,
    init: (_params: Params): EmptyState => ({}),
    update<U extends Updates>(updates: U, state: EmptyState): [U, EmptyState] {
      const { leaves } = treeLeaves<ArrayLeaf>(updates);
      const norm = globalNorm(leaves.map(leafData));
      const clipped = treeMap(([g]: ArrayLeaf[]) => {
        const dtype = leafDtype(g);
        const out = evaluateKernel(plan, { dtype, updates: leafData(g), state: {}, scalars: reduction.scalars(norm, dtype) }, []);
        return leafLike(g, out.updates);
      }, [updates], { root: 'grads' });
      return [clipped, state];
    },
  }, 'clip_by_global_norm', [maxNorm]);
}

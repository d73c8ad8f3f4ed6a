/**
 * How XLA:CPU divides a leaf by a per-step scalar (a bias correction, a global norm).
 *
 * optax writes `t / s` with `s` a scalar; JAX lowers it as `divide(t, broadcast(s))`. On CPU, XLA's
 * algebraic simplifier rewrites `A / broadcast(B)` into `A * broadcast(1 / B)` when `B` has a single
 * use (openxla/xla, xla/hlo/transforms/simplifiers/algebraic_simplifier.cc, `HandleDivide`: "A /
 * broadcast(B) => A * broadcast(1 / B)", guarded by `executing_on_cpu()`). Two cases escape it:
 *
 * - a rank-0 leaf: `t / s` has no broadcast at all;
 * - a one-element leaf (shape `[1]`, `[1, 1]`, ...): the simplifier visits operands first, and
 *   `HandleBroadcast` turns a broadcast that keeps the element count into a reshape, so the divide
 *   no longer matches.
 *
 * And `B` has a single use only when one leaf reads it: `tree_bias_correction` (jitted) divides every
 * leaf of the tree by the same `1 - b1^t`, so on a tree of two or more leaves it is a true division.
 */

/**
 * Whether a leaf of `size` elements is divided by a broadcast scalar as a true division, even when
 * the scalar has a single use (see the module comment): true for rank-0 and one-element leaves.
 *
 * @example
 * ```ts
 * import { dividesByScalar } from 'optax-ts';
 * console.log(dividesByScalar(1), dividesByScalar(12)); // true false
 * ```
 */
export function dividesByScalar(size: number): boolean {
  return size === 1;
}

/**
 * Whether XLA multiplies by the reciprocal of a scalar that divides every leaf of a tree whose
 * leaves have these sizes: only when exactly one leaf reads the scalar and it has a broadcast.
 *
 * @example
 * ```ts
 * import { reciprocalForTree } from 'optax-ts';
 * console.log(reciprocalForTree([12]), reciprocalForTree([1]), reciprocalForTree([12, 4])); // true false false
 * ```
 */
export function reciprocalForTree(leafSizes: readonly number[]): boolean {
  return leafSizes.length === 1 && !dividesByScalar(leafSizes[0]);
}

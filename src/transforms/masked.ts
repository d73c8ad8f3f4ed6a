import { OptaxError } from '../core/errors.js';
import type { ExtraArgs, GradientTransformation } from '../core/transformation.js';
import { describe, isDictNode } from '../tree/structure.js';
import type { Params, Tree, Updates } from '../tree/tree.js';
import { isBooleanLeaf, mapPrefix } from './tree-prefix.js';
import { recordCall } from '../spec/record.js';
import { hasExactKeys } from '../tree/validate.js';

/** The state of {@link masked} (optax's `MaskedState`). */
export interface MaskedState<S = unknown> {
  /** The inner transformation's state, built from the masked params (`null` at masked-out leaves). */
  inner_state: S;
}

/** A tree of booleans shaped like the params, or like a prefix of them. */
export type MaskTree = boolean | null | readonly MaskTree[] | { readonly [key: string]: MaskTree };

/** A mask, or a function computing one from a tree (the params at `init`, the updates at `update`). */
export type Mask = MaskTree | ((tree: any) => MaskTree);

/** Resolves a mask, calling it when it is a function (optax calls it on whatever tree it has). */
export function resolveMask(mask: Mask, tree: Tree, owner: string): MaskTree {
  if (typeof mask !== 'function') return mask;
  const m = mask(tree);
  if (typeof m === 'function') throw new OptaxError(`${owner}: the mask function returned a function, expected a tree of booleans`);
  return m;
}

/**
 * Replaces the subtrees of `tree` whose mask is false by `null` (optax's `MaskedNode`): the tree the
 * inner transformation sees. Throws an OptaxError naming the path when the mask does not fit.
 */
export function maskTree<T>(tree: T, mask: MaskTree, treeName: string, isLeaf?: (x: unknown) => boolean, maskedNode: () => unknown = () => null): T {
  return mapPrefix(mask, [tree], isBooleanLeaf, (m, [t]) => (m ? t : maskedNode()), { prefix: 'mask', trees: [treeName], leaf: 'a boolean' }, isLeaf);
}

/**
 * Applies `inner` to the masked part of the updates only (optax's `masked`); the other updates pass
 * through unchanged:
 *
 * ```
 * u_i = inner(g)_i   where mask_i is true
 * u_i = g_i          where mask_i is false
 * ```
 *
 * The inner transformation sees the updates and params with `null` at masked-out leaves (where optax
 * has `MaskedNode`), so its state holds nothing for them, e.g. `mu: { w: ..., b: null }`.
 *
 * @param inner - the transformation to apply to the masked leaves.
 * @param mask - a tree of booleans with the structure of the params, or a prefix of it (a boolean
 *   then covers a whole subtree), or a function returning one. As in optax, a function receives the
 *   params at `init` but the *updates* at `update` (they have the same structure).
 *
 * A mask that does not fit the tree throws an OptaxError naming the path (`mask.layers[0]: ...`).
 * Extra arguments reach the inner transformation unmasked (optax's default,
 * `mask_compatible_extra_args=False`).
 *
 * @example
 * ```ts
 * import { masked, scale } from 'optax-ts';
 * const tx = masked(scale(-1), { w: true, b: false });
 * const params = { w: new Float32Array([1]), b: new Float32Array([1]) };
 * const [u] = tx.update({ w: new Float32Array([2]), b: new Float32Array([2]) }, tx.init(params), params);
 * console.log(u); // { w: Float32Array(1) [ -2 ], b: Float32Array(1) [ 2 ] }
 * ```
 */
export function masked<S>(inner: GradientTransformation<S>, mask: Mask): GradientTransformation<MaskedState<S>> {
  if (!inner || typeof inner.init !== 'function' || typeof inner.update !== 'function') {
    throw new OptaxError(`masked: inner is not a gradient transformation (got ${describe(inner)})`);
  }
  if (mask === undefined) throw new OptaxError('masked: mask is required (a tree of booleans or a function of the params)');
  return recordCall({
    name: 'masked',
    combinator: { kind: 'masked', inner, mask },
    init(params: Params): MaskedState<S> {
      const m = resolveMask(mask, params, 'masked');
      return { inner_state: inner.init(maskTree(params, m, 'params')) };
    },
    update<U extends Updates>(updates: U, state: MaskedState<S>, params?: Params | null, extraArgs?: ExtraArgs): [U, MaskedState<S>] {
      if (!isDictNode(state) || !hasExactKeys(state, ['inner_state'])) {
        throw new OptaxError(`masked: this state does not belong to masked: expected {inner_state}, got ${describe(state)}`);
      }
      const m = resolveMask(mask, updates, 'masked');
      const maskedUpdates = maskTree(updates, m, 'updates');
      const maskedParams = params === undefined || params === null ? params : maskTree(params, m, 'params');
      const [innerUpdates, innerState] = inner.update(maskedUpdates, state.inner_state, maskedParams, extraArgs);
      const merged = mapPrefix(m, [updates, innerUpdates], isBooleanLeaf, (keep, [old, fresh]) => (keep ? fresh : old), {
        prefix: 'mask', trees: ['updates', `${inner.name} updates`], leaf: 'a boolean',
      });
      return [merged as U, { inner_state: innerState }];
    },
  }, 'masked', [inner, mask]);
}

import type { ArrayLeaf } from './leaf.js';

/**
 * A pytree: nested plain objects (dict nodes, matched by key, never by order) and arrays (list nodes)
 * whose leaves are arrays. `null` is optax's `None`: a node with no leaves, kept as `null` in updates
 * and state.
 */
export type Tree<L = ArrayLeaf> = L | null | readonly Tree<L>[] | { readonly [key: string]: Tree<L> };

/** Parameters, gradients and updates are all trees of array leaves. */
export type Params = Tree;
/** A tree of updates (gradients on the way in). */
export type Updates = Tree;

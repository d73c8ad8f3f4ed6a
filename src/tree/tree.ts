import type { ArrayLeaf } from './leaf.js';

/**
 * A pytree: nested plain objects (dict nodes, matched by key, never by order) and arrays (list nodes)
 * whose leaves are arrays. `null` is optax's `None`: a node with no leaves, kept as `null` in updates
 * and state.
 */
export type Tree<L = ArrayLeaf> = L | null | readonly Tree<L>[] | { readonly [key: string]: Tree<L> };

/**
 * Any tree as an argument: like {@link Tree}, but a dict node may be of any object type, interfaces and
 * classes included (TypeScript gives those no implicit index signature, so they are not `Tree`s). The
 * leaves are checked when the tree is used (an OptaxError naming the path).
 */
export type Params = ArrayLeaf | null | readonly any[] | { readonly [key: string]: any };
/** A tree of updates (gradients on the way in): any tree, as {@link Params}. */
export type Updates = Params;


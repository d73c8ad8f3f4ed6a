import { OptaxError } from '../core/errors.js';
import { walkTrees } from '../tree/structure.js';
import { type JaxArray, isJaxLeaf, isTracer } from './leaf.js';

/** What a leaf of a jax-js tree must be, for the tree walkers' message about anything else (a typed array). */
export const JAX_LEAF_WHAT = 'a jax-js array (np.array(...) makes one from a typed array)';

/**
 * Whether a jax-js array (or tracer) has been freed: its reference count is 0, because a jax-js
 * function consumed it or it was disposed. A concrete array shows its count (`refCount`); a tracer
 * keeps it private, so it is probed with `.ref` then `dispose()` (+1 then -1 on a live one), which
 * jax-js refuses with its UseAfterFreeError (a ReferenceError) on a freed one.
 */
export function isFreed(a: JaxArray): boolean {
  if (!isTracer(a)) return a.refCount <= 0;
  try {
    a.ref.dispose();
    return false;
  } catch (e) {
    if (e instanceof ReferenceError) return true;
    throw e;
  }
}

/**
 * Checks a tree the caller hands to the adapter before anything reads it: every leaf a jax-js array
 * (a Float32Array, a ShapedArray or a number is named as such, under its path) that has not been freed.
 * jax-js's own message for a freed array names neither the tree nor the path, and comes from deep
 * inside a step; this one does, before any array is consumed. `root` names the tree (`grads`, `state`,
 * `params`). Null and undefined (no tree) pass.
 */
export function checkJaxTree(owner: string, tree: unknown, root: string): void {
  if (tree === null || tree === undefined) return;
  walkTrees([tree], ([a], path) => {
    if (isFreed(a as JaxArray)) {
      throw new OptaxError(`${owner}: this jax-js array was already freed (consumed by an earlier jax-js call, e.g. a previous update, or disposed); jax-js functions consume their arguments: pass .ref (a tree: jax.tree.ref(tree)) to keep using one`, path, root);
    }
  }, { isLeaf: isJaxLeaf, names: [root], leafWhat: JAX_LEAF_WHAT });
}

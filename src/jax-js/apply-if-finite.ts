import { numpy as np } from '@jax-js/jax';
import { OptaxError } from '../core/errors.js';
import { INT32_MAX } from '../core/numerics.js';
import { mapTrees } from '../tree/map.js';
import { describe, isDictNode } from '../tree/structure.js';
import { showKeys } from '../tree/node.js';
import { type JaxArray, type JaxTree, isJaxLeaf } from './leaf.js';
import type { TracedLowered } from './traced.js';
import { type Lowered, gather, rebuild } from './transformation.js';

const KEYS = ['notfinite_count', 'last_finite', 'total_notfinite', 'inner_state'];

/** optax's `safe_increment` of an int32 scalar array (consumed): `+ 1`, saturating at 2^31-1. */
export function safeIncrement(c: JaxArray): JaxArray {
  return np.where(np.equal(c.ref, INT32_MAX), c.ref, np.add(c, 1));
}

/** Throws unless `x` is a scalar jax-js array of `dtype`, naming `what`. */
export function expectScalar(owner: string, what: string, x: unknown, dtype: 'int32' | 'bool'): asserts x is JaxArray {
  if (!isJaxLeaf(x) || x.dtype !== dtype || x.shape.length !== 0) throw new OptaxError(`${owner}: state.${what} must be ${dtype === 'int32' ? 'an' : 'a'} ${dtype} scalar jax-js array, got ${isJaxLeaf(x) ? `${x.dtype}[${x.shape.join(', ')}]` : describe(x)}`);
}

/** A tree of `.ref`s of a tree's arrays (the tree itself stays the caller's). */
export function refTree<T>(tree: T): T {
  return mapTrees(([a]: JaxArray[]) => a.ref, [tree], { isLeaf: isJaxLeaf });
}

/** `where(c, a, b)` leaf by leaf over two trees of one structure (both consumed; `c` borrowed). */
export function selectTrees(c: JaxArray, a: unknown, b: unknown, names: readonly [string, string]): any {
  return mapTrees(([x, y]: JaxArray[]) => np.where(c.ref, x, y), [a, b], { isLeaf: isJaxLeaf, names: [...names] });
}

/** Whether every element of every leaf is finite, as a bool scalar array (true for a tree without leaves). Borrows the leaves. */
export function allFinite(leaves: readonly JaxArray[]): JaxArray {
  let finite: JaxArray | undefined;
  for (const g of leaves) {
    const f = np.all(np.isfinite(g.ref));
    finite = finite === undefined ? f : np.logicalAnd(finite, f);
  }
  return finite ?? np.array(true);
}

/**
 * optax's `apply_if_finite` in the jax-js graph, without a readback: whether the updates are all
 * finite is reduced in the graph (`isfinite`, `all`), the inner update is always computed (traced, as
 * optax's `lax.cond` branch: `inner`), and the updates and every inner state leaf are then selected
 * with `where` (zeros, +0, and the old inner state where the step is skipped). The counters are int32
 * scalars and `last_finite` a bool scalar, as in the pure path's state.
 */
export function lowerApplyIfFinite(maxConsecutiveErrors: number, inner: TracedLowered): Lowered {
  const name = 'apply_if_finite';
  return {
    init: (params) => ({
      notfinite_count: np.array(0, { dtype: np.int32 }),
      last_finite: np.array(true),
      total_notfinite: np.array(0, { dtype: np.int32 }),
      inner_state: inner.init(params),
    }),
    update(updates, state, params) {
      if (!isDictNode(state) || Object.keys(state).length !== KEYS.length || KEYS.some((k) => !Object.hasOwn(state, k))) {
        throw new OptaxError(`${name}: this state does not belong to ${name}: expected {${showKeys(KEYS)}}, got ${isDictNode(state) ? `{${showKeys(Object.keys(state))}}` : describe(state)}`);
      }
      expectScalar(name, 'notfinite_count', state.notfinite_count, 'int32');
      expectScalar(name, 'last_finite', state.last_finite, 'bool');
      expectScalar(name, 'total_notfinite', state.total_notfinite, 'int32');
      const leaves = gather(name, [updates], ['grads']).positions.map((p) => p[0]);
      const finite = allFinite(leaves);
      const notfinite = np.where(finite.ref, 0, safeIncrement(state.notfinite_count));
      const total = np.where(finite.ref, state.total_notfinite.ref, safeIncrement(state.total_notfinite));
      state.last_finite.dispose();
      const apply = np.logicalOr(finite.ref, np.greater(notfinite.ref, maxConsecutiveErrors));
      const old = refTree(state.inner_state);
      const step = inner.update(updates, state.inner_state, params, false);
      const zeros = (tree: JaxTree): JaxTree => rebuild(tree, gather(name, [tree], ['updates']).positions.map(([u]) => np.where(apply.ref, u, 0)));
      const newUpdates = zeros(step.updates);
      const inner_state = selectTrees(apply, step.state, old, ['inner state', 'state.inner_state']);
      apply.dispose();
      return [newUpdates, { notfinite_count: notfinite, last_finite: finite, total_notfinite: total, inner_state }];
    },
    dispose: () => inner.dispose(),
  };
}

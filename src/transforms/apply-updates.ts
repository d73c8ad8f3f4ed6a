import { type Dtype, type FloatArray, allocate } from '../core/dtype.js';
import { ex } from '../kernel/expr.js';
import { OptaxError } from '../core/errors.js';
import { evaluateKernel, flushingSubnormals, planKernel } from '../kernel/interpret.js';
import { type ArrayLeaf, isArrayLeaf, leafData, leafDtype, leafLike, leafMismatch, leafSpec } from '../tree/leaf.js';
import { mapTrees } from '../tree/map.js';
import { isDictNode, walkTrees } from '../tree/structure.js';
import type { Params, Updates } from '../tree/tree.js';

/** `p + u`: the final step of every optimizer, shared with the fused engine. */
export const applyKernel = { updates: ex.add(ex.params, ex.updates), state: {} };
const applyPlan = planKernel(applyKernel);

/**
 * Adds updates to params (optax's `apply_updates`): `p_new = p + u`, rounded to the params' dtype.
 * Returns a new tree of the params' structure; the inputs are not changed.
 *
 * As optax does (`jnp.asarray(p + u).astype(p.dtype)`, mapped with `is_leaf=lambda x: x is None`):
 * - where the params are `null` the result is `null`, whatever the updates hold there, so
 *   `applyUpdates(null, anything)` is `null`;
 * - updates of another float dtype than their params leaf (mixed precision) are added in the promoted
 *   dtype (float64), and the sum is then rounded to the params' dtype (one rounding of the exact
 *   float64 sum, not of a float32 sum of rounded updates).
 * Structures and shapes must match (an `OptaxError` names the path).
 *
 * @example
 * ```ts
 * import { applyUpdates } from 'optax-ts';
 * const p = applyUpdates({ w: new Float32Array([1, 2]) }, { w: new Float32Array([0.5, -1]) });
 * console.log(p.w); // Float32Array(2) [ 1.5, 1 ]
 * // float64 updates to float32 params: added in float64, then rounded to float32 once (adding the
 * // update rounded to float32 first would give 1).
 * const mixed = applyUpdates({ w: new Float32Array([1]) }, { w: new Float64Array([2 ** -24 + 2 ** -50]) });
 * console.log(mixed.w, applyUpdates(null, { w: new Float32Array(1) })); // Float32Array(1) [ 1.0000001192092896 ] null
 * ```
 */
export function applyUpdates<P extends Params>(params: P, updates: Updates): P {
  const pruned = withoutUpdatesUnderNullParams(params, updates);
  const pairs: [ArrayLeaf, ArrayLeaf][] = [];
  // Updates first, so that messages read as every transformation's do (`grads.w: ...`).
  walkTrees([pruned, params], ([u, p], path) => {
    // Any float dtype may meet any other (mixed precision): the shapes must match.
    const uSpec = leafSpec(u as ArrayLeaf), pSpec = leafSpec(p as ArrayLeaf);
    const problem = leafMismatch({ ...uSpec, dtype: pSpec.dtype }, 'grads', pSpec, 'params');
    if (problem) throw new OptaxError(problem, path, 'grads');
    pairs.push([p as ArrayLeaf, u as ArrayLeaf]);
  }, { names: ['grads', 'params'], root: 'grads' });
  let i = 0;
  return mapTrees(([p]: ArrayLeaf[]) => {
    const [, u] = pairs[i++];
    return leafLike(p, addLeaf(leafData(p), leafData(u), leafDtype(p), leafDtype(u)));
  }, [params]);
}

/** `astype(p + u, p.dtype)` for one leaf. */
function addLeaf(p: FloatArray, u: FloatArray, pd: Dtype, ud: Dtype): FloatArray {
  const run = (dtype: Dtype, pp: FloatArray, uu: FloatArray): FloatArray => evaluateKernel(applyPlan, { dtype, updates: uu, params: pp, state: {}, scalars: {} }, []).updates;
  if (pd === ud) return run(pd, p, u);
  // jnp promotes float32 + float64 to float64 (exactly), adds there, and `astype` converts the sum.
  const sum = run('float64', Float64Array.from(p), Float64Array.from(u));
  const out = allocate(pd, sum.length);
  out.set(sum);
  // XLA:CPU's convert runs under FTZ too: a float32 subnormal result is flushed, keeping its sign.
  if (pd === 'float32' && flushingSubnormals()) for (let k = 0; k < out.length; k++) if (Math.abs(out[k]) < 2 ** -126) out[k] *= 0;
  return out;
}

/**
 * The updates with `null` wherever the params are `null` (optax maps over the params with
 * `is_leaf=lambda x: x is None`, so nothing under a `None` param is read). Where the two trees do not
 * line up, the updates are returned as they are, for walkTrees to report the mismatch.
 */
function withoutUpdatesUnderNullParams(params: unknown, updates: unknown): unknown {
  if (params === null) return null;
  if (isArrayLeaf(params)) return updates;
  if (Array.isArray(params) && Array.isArray(updates) && params.length === updates.length) {
    return params.map((p, k) => withoutUpdatesUnderNullParams(p, updates[k]));
  }
  if (isDictNode(params) && isDictNode(updates)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(updates)) {
      const value = Object.hasOwn(params, k) ? withoutUpdatesUnderNullParams(params[k], updates[k]) : updates[k];
      // defineProperty: a `__proto__` key (as JSON.parse makes) stays a key, not the prototype.
      Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return updates;
}

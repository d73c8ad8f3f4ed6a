import { ex } from '../kernel/expr.js';
import { gatherLeaves } from '../kernel/elementwise.js';
import { evaluateKernel, planKernel } from '../kernel/interpret.js';
import { type ArrayLeaf, leafData, leafDtype, leafLike } from '../tree/leaf.js';
import { mapTrees } from '../tree/map.js';
import type { Params, Updates } from '../tree/tree.js';

/** `p + u`: the final step of every optimizer, shared with the fused engine. */
export const applyKernel = { updates: ex.add(ex.params, ex.updates), state: {} };
const applyPlan = planKernel(applyKernel);

/**
 * Adds updates to params (optax's `apply_updates`): `p_new = p + u`, rounded to the params' dtype.
 * Returns a new tree; `null` stays `null`. Structures, dtypes and shapes must match.
 *
 * @example
 * ```ts
 * import { applyUpdates } from 'optax-ts';
 * const p = applyUpdates({ w: new Float32Array([1, 2]) }, { w: new Float32Array([0.5, -1]) });
 * console.log(p.w); // Float32Array(2) [ 1.5, 1 ]
 * ```
 */
export function applyUpdates<P extends Params>(params: P, updates: Updates): P {
  const { positions } = gatherLeaves('apply_updates', updates, [params], ['params'], undefined, false);
  let i = 0;
  return mapTrees(([p]: ArrayLeaf[]) => {
    const [u] = positions[i++];
    return leafLike(p, evaluateKernel(applyPlan, { dtype: leafDtype(p), updates: leafData(u), params: leafData(p), state: {}, scalars: {} }, []).updates);
  }, [params]);
}

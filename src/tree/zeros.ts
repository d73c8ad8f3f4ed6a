import { allocate } from '../core/dtype.js';
import { type ArrayLeaf, leafData, leafDtype, leafLike } from './leaf.js';
import { mapTrees } from './map.js';
import type { Params } from './tree.js';

/**
 * A tree of the same structure, with each leaf a zero array of the same dtype, form and shape
 * (optax's `tree_zeros_like`; state leaves take their param leaf's dtype).
 *
 * @example
 * ```ts
 * import { treeZerosLike } from 'optax-ts';
 * console.log(treeZerosLike({ w: new Float64Array([1, 2]), b: null })); // { w: Float64Array(2) [ 0, 0 ], b: null }
 * ```
 */
export function treeZerosLike<T extends Params>(tree: T): T {
  return mapTrees(([leaf]: ArrayLeaf[]) => leafLike(leaf, allocate(leafDtype(leaf), leafData(leaf).length)), [tree]);
}

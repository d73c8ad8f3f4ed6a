/** Pytree utilities for writing transformations: map over several trees, zeros-like, structure check. */
export { ShapedArray, type ArrayLeaf, isArrayLeaf, leafData, leafShape, leafDtype, leafLike } from './leaf.js';
export type { Tree, Params, Updates } from './tree.js';
export type { MapLeaves } from './map.js';
export { formatPath, type TreePath, type PathEntry } from './path.js';
export { assertSameStructure, walkTrees, isDictNode, type IsLeaf, type WalkOptions } from './structure.js';
export { MAX_TREE_DEPTH } from './validate.js';
export { treeMap, treeLeaves, treeUnflatten, type TreeMapOptions } from './map.js';
export { treeZerosLike } from './zeros.js';
export { broadcastTo } from './broadcast.js';

import type { Dtype } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { type ArrayLeaf, ShapedArray, leafData, leafDtype, leafShape } from '../tree/leaf.js';
import { mapTrees } from '../tree/map.js';
import type { TreePath } from '../tree/path.js';
import { walkTrees } from '../tree/structure.js';
import type { Tree } from '../tree/tree.js';

/**
 * The leaves of the parameter tree as the engine sees them: their order (flattening order, dict keys
 * sorted, the order optax reduces in), dtype, shape and form, plus an "index tree" of the same
 * structure whose leaves are unique placeholders, used to follow leaves through masks and partitions.
 */

/** One parameter leaf. */
export interface LeafInfo {
  /** Position in flattening order. */
  readonly index: number;
  readonly dtype: Dtype;
  readonly length: number;
  readonly shape: readonly number[];
  /** True for a ShapedArray leaf (views of it are ShapedArray too), false for a bare typed array. */
  readonly shaped: boolean;
  readonly path: TreePath;
}

/** The leaves of a parameter tree, and its index tree. */
export interface LeafTable {
  readonly leaves: readonly LeafInfo[];
  /** Same structure as the params; each leaf is a distinct empty Float32Array standing for one leaf. */
  readonly indexTree: Tree;
  /** The leaf a placeholder of {@link indexTree} (or of a masked copy of it) stands for. */
  readonly indexOf: ReadonlyMap<unknown, number>;
  /** The dtypes present, in order of first appearance. */
  readonly dtypes: readonly Dtype[];
}

/** Reads the leaves of `params` (throws an OptaxError naming the path for a malformed tree). */
export function leafTable(params: Tree): LeafTable {
  const leaves: LeafInfo[] = [];
  walkTrees([params], ([leaf], path) => {
    const l = leaf as ArrayLeaf;
    leaves.push({ index: leaves.length, dtype: leafDtype(l), length: leafData(l).length, shape: leafShape(l), shaped: l instanceof ShapedArray, path });
  }, { root: 'params' });
  const indexOf = new Map<unknown, number>();
  let i = 0;
  const indexTree = mapTrees(() => {
    const placeholder = new Float32Array(0);
    indexOf.set(placeholder, i++);
    return placeholder;
  }, [params]) as Tree;
  const dtypes: Dtype[] = [];
  for (const l of leaves) if (!dtypes.includes(l.dtype)) dtypes.push(l.dtype);
  return { leaves, indexTree, indexOf, dtypes };
}

/** The leaf indices of a (possibly masked) copy of the index tree, in flattening order. */
export function leavesOf(table: LeafTable, tree: Tree): number[] {
  const out: number[] = [];
  walkTrees([tree], ([leaf]) => {
    const i = table.indexOf.get(leaf);
    if (i === undefined) throw new OptaxError('internal: a tree leaf is not one of the parameter leaves');
    out.push(i);
  });
  return out;
}

/**
 * Rebuilds `tree` (a masked copy of the index tree) with each placeholder replaced by `make(leaf)`, a
 * view shaped like that parameter leaf (a ShapedArray when the parameter is one).
 */
export function mapIndexTree(table: LeafTable, tree: Tree, make: (leaf: LeafInfo) => ArrayLeaf): Tree {
  return mapTrees(([placeholder]) => make(table.leaves[table.indexOf.get(placeholder)!]), [tree]) as Tree;
}

/** Wraps a typed-array view in the form of parameter leaf `leaf`. */
export function formLike(leaf: LeafInfo, data: Float32Array | Float64Array): ArrayLeaf {
  return leaf.shaped ? new ShapedArray(data, leaf.shape) : data;
}

import type { Dtype, FloatArray } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { type ArrayLeaf, leafData, leafMismatch, leafSpec } from '../tree/leaf.js';
import { walkTrees } from '../tree/structure.js';
import type { Tree } from '../tree/tree.js';
import type { LeafTable } from './leaves.js';

/**
 * Moving trees in and out of the arena: validating a tree against the parameter leaves (structure,
 * dtype, shape; every error names the path, and is thrown before anything is written) and copying it
 * into the engine's views.
 */

/** One pending copy: `data` into the view of leaf `leaf`. */
export interface LeafCopy {
  readonly leaf: number;
  readonly data: FloatArray;
}

/**
 * Checks `tree` against `reference` (the index tree, or a masked copy of it) and returns its leaves
 * as copies to make. `root` names the tree in error messages (`grads`, `state[0].mu`). `dtype`: the
 * dtype its leaves must have, when it is not the params' (MultiSteps' float32 accumulator).
 */
export function matchTree(table: LeafTable, reference: Tree, tree: unknown, root: string, dtype?: Dtype): LeafCopy[] {
  const copies: LeafCopy[] = [];
  walkTrees([reference, tree], ([ref, other], path) => {
    const leaf = table.leaves[table.indexOf.get(ref)!];
    const o = other as ArrayLeaf;
    const expected = dtype === undefined ? leaf : { ...leaf, dtype };
    const problem = leafMismatch(leafSpec(o), root, expected, dtype === undefined ? 'params' : `${dtype} accumulator`);
    if (problem) throw new OptaxError(problem, path, root);
    const data = leafData(o);
    copies.push({ leaf: leaf.index, data });
  }, { names: ['params', root], root });
  return copies;
}

/** One copy into the arena: `src` into the view `dst`. */
export interface ViewCopy {
  readonly dst: FloatArray;
  readonly src: FloatArray;
}

/**
 * Performs copies into views, as one batch. A source that lies in the engine's own buffer (e.g. a
 * view handed out earlier) is snapshotted before anything is written, unless it is its own
 * destination, so that no copy can overwrite another one's source.
 */
export function performCopies(copies: readonly ViewCopy[], buffer: ArrayBufferLike): void {
  const sources = copies.map(({ dst, src }) => {
    if (src === dst || (src.buffer === dst.buffer && src.byteOffset === dst.byteOffset)) return null;
    return src.buffer === buffer ? src.slice() : src;
  });
  copies.forEach(({ dst }, i) => {
    const src = sources[i];
    if (src) dst.set(src);
  });
}

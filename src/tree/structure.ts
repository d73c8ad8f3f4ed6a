import { OptaxError } from '../core/errors.js';
import { isArrayLeaf } from './leaf.js';
import { describe, isDictNode, showKeys } from './node.js';
import type { PathEntry, TreePath } from './path.js';
import { hasOwn, validateTree } from './validate.js';
import { expectFunction, expectList, expectString } from '../core/args.js';
import { readOptions } from '../core/options.js';

export { describe, isDictNode } from './node.js';

/** Tells whether a value is a leaf; defaults to {@link isArrayLeaf}. */
export type IsLeaf = (x: unknown) => boolean;

/** Options of {@link walkTrees}. */
export interface WalkOptions {
  /** What counts as a leaf (default: {@link isArrayLeaf}). */
  readonly isLeaf?: IsLeaf;
  /**
   * Each tree's name. A problem in tree `i` (or a mismatch of tree `i` against tree 0, the reference)
   * is reported under `names[i]` (`grads.w: grads does not match params: ...`).
   */
  readonly names?: readonly string[];
  /** The root of error paths when `names` is not given (default `params`). */
  readonly root?: string;
  /**
   * What a leaf must be, for the message about a value that is neither a leaf, a list, a dict nor null
   * (default: an array leaf, Float32Array, Float64Array or ShapedArray); give it with a custom `isLeaf`.
   */
  readonly leafWhat?: string;
}

/**
 * Walks trees of the same structure together, calling `visit` on each leaf position with the leaves of
 * every tree there (dict keys visited sorted, as JAX flattens dicts). Tree 0 is the reference: each
 * tree is first validated on its own (see {@link MAX_TREE_DEPTH}: depth, cycles, sparse lists, getters,
 * faked lengths; dict keys are own properties only), then compared with tree 0, and any problem throws
 * an {@link OptaxError} naming the path, under the name of the tree at fault, before `visit` has seen
 * any leaf. Time is linear in the trees' sizes.
 *
 * @example
 * ```ts
 * import { formatPath, walkTrees } from 'optax-ts';
 * const params = { w: [new Float32Array([1, 2])], b: new Float32Array([3]) };
 * const grads = { b: new Float32Array([6]), w: [new Float32Array([4, 5])] };
 * const visited: string[] = [];
 * walkTrees([params, grads], ([p, g], path) => visited.push(`${formatPath(path)}: ${p} / ${g}`));
 * console.log(visited); // [ 'params.b: 3 / 6', 'params.w[0]: 1,2 / 4,5' ]
 * try {
 *   walkTrees([params, { b: new Float32Array([6]) }], () => {}, { names: ['params', 'grads'] });
 * } catch (e) {
 *   console.log((e as Error).message); // grads: grads does not match params: missing key(s) w
 * }
 * ```
 */
export function walkTrees(trees: readonly unknown[], visit: (leaves: unknown[], path: TreePath) => void, options: WalkOptions = {}): void {
  expectList('walkTrees', 'trees', trees);
  expectFunction('walkTrees', 'visit', visit);
  options = readOptions('walkTrees', options, { isLeaf: true, names: true, root: true, leafWhat: true });
  if (options.isLeaf !== undefined) expectFunction('walkTrees', 'isLeaf', options.isLeaf);
  if (options.root !== undefined) expectString('walkTrees', 'root', options.root);
  if (options.leafWhat !== undefined) expectString('walkTrees', 'leafWhat', options.leafWhat);
  if (options.names !== undefined) {
    expectList('walkTrees', 'names', options.names);
    if (options.names.length < trees.length || !options.names.every((n) => typeof n === 'string')) {
      throw new OptaxError(`walkTrees: names must be a list of ${trees.length} strings, got ${describe(options.names)}`);
    }
  }
  if (trees.length === 0) return;
  const isLeaf = options.isLeaf ?? isArrayLeaf;
  const names = options.names ?? trees.map((_, i) => (i === 0 ? 'the first tree' : `tree ${i}`));
  const rootOf = (i: number): string => (options.names ? names[i] : options.root ?? 'params');
  // Each tree on its own first, so that a value that is not a tree at all is reported as such (rather
  // than as a mismatch with another tree), under that tree's name.
  trees.forEach((t, i) => validateTree(t, { isLeaf, root: rootOf(i), arrayLeaves: isLeaf === isArrayLeaf, leafWhat: options.leafWhat }));
  const path: PathEntry[] = [];
  const go = (nodes: unknown[]): void => {
    const first = nodes[0];
    const mismatch = (i: number, what: string): never => {
      throw new OptaxError(`${names[i]} does not match ${names[0]}: ${what}`, [...path], rootOf(i));
    };
    if (first === null) {
      for (let i = 1; i < nodes.length; i++) if (nodes[i] !== null) mismatch(i, `expected null, got ${describe(nodes[i])}`);
      return;
    }
    if (isLeaf(first)) {
      for (let i = 1; i < nodes.length; i++) if (!isLeaf(nodes[i])) mismatch(i, `expected a leaf, got ${describe(nodes[i])}`);
      visit(nodes, [...path]);
      return;
    }
    if (Array.isArray(first)) {
      for (let i = 1; i < nodes.length; i++) {
        const n = nodes[i];
        if (!Array.isArray(n)) mismatch(i, `expected a list of ${first.length}, got ${describe(n)}`);
        else if (n.length !== first.length) mismatch(i, `expected a list of ${first.length}, got a list of ${n.length}`);
      }
      for (let k = 0; k < first.length; k++) {
        path.push(k);
        go(nodes.map((n) => (n as unknown[])[k]));
        path.pop();
      }
      return;
    }
    const keys = Object.keys(first as object).sort();
    for (let i = 1; i < nodes.length; i++) {
      const n = nodes[i];
      if (!isDictNode(n)) mismatch(i, `expected dict {${showKeys(keys)}}, got ${describe(n)}`);
      const missing = keys.filter((k) => !hasOwn(n as object, k));
      const extra = Object.keys(n as object).filter((k) => !hasOwn(first as object, k)).sort();
      if (missing.length || extra.length) {
        mismatch(i, [missing.length ? `missing key(s) ${showKeys(missing)}` : '', extra.length ? `unexpected key(s) ${showKeys(extra)}` : ''].filter(Boolean).join('; '));
      }
    }
    for (const k of keys) {
      path.push(k);
      go(nodes.map((n) => (n as Record<string, unknown>)[k]));
      path.pop();
    }
  };
  go([...trees]);
}

/**
 * Throws an {@link OptaxError} naming the first path where the trees' structures differ (tree 0 is the
 * reference; see {@link walkTrees}).
 *
 * @example
 * ```ts
 * import { assertSameStructure } from 'optax-ts';
 * try {
 *   assertSameStructure([{ w: new Float32Array(2) }, { b: new Float32Array(2) }], ['params', 'grads']);
 * } catch (e) {
 *   console.log((e as Error).message); // grads: grads does not match params: missing key(s) w; unexpected key(s) b
 * }
 * ```
 */
export function assertSameStructure(trees: readonly unknown[], names?: readonly string[], isLeaf?: IsLeaf): void {
  walkTrees(trees, () => {}, { names, isLeaf });
}

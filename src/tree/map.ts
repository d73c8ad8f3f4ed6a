import type { TreePath } from './path.js';
import { OptaxError } from '../core/errors.js';
import { type IsLeaf, describe, isDictNode, walkTrees } from './structure.js';
import { type ArrayLeaf, isArrayLeaf } from './leaf.js';
import type { Tree } from './tree.js';
import { expectFunction, expectList } from '../core/args.js';
import { readOptions } from '../core/options.js';

/**
 * Rebuilds the structure of `tree` with each leaf replaced by `fn(leaf, path)`; `null` stays `null`.
 * Dict keys keep the order of `tree`.
 */
function rebuild(tree: unknown, fn: (leaf: unknown, path: TreePath) => unknown, isLeaf: IsLeaf, path: TreePath = []): unknown {
  if (tree === null) return null;
  if (isLeaf(tree)) return fn(tree, path);
  if (Array.isArray(tree)) return tree.map((t, i) => rebuild(t, fn, isLeaf, [...path, i]));
  if (isDictNode(tree)) {
    // Visit keys sorted (the order walkTrees and JAX use), but keep the caller's key order in the result.
    const values = new Map<string, unknown>();
    for (const k of Object.keys(tree).sort()) values.set(k, rebuild(tree[k], fn, isLeaf, [...path, k]));
    // Defined, not assigned: a key `__proto__` (as JSON.parse makes) stays a key.
    return Object.fromEntries(Object.keys(tree).map((k) => [k, values.get(k)]));
  }
  return fn(tree, path);
}

/**
 * The type of `treeMap(fn, [tree, ...])`: `T` with each leaf (each `ArrayLeaf`) replaced by `R`, dicts
 * and lists kept, `null` kept. A tree whose type says nothing (`any`, `unknown`) maps to `any`.
 */
export type MapLeaves<T, R> = unknown extends T ? any
  : Tree extends T ? any
  : T extends ArrayLeaf ? R
  : T extends null ? null
  : T extends readonly unknown[] ? { -readonly [I in keyof T]: MapLeaves<T[I], R> }
  : T extends object ? { -readonly [K in keyof T]: MapLeaves<T[K], R> }
  : never;

/** Options of {@link treeMap}. */
export interface TreeMapOptions {
  /** What counts as a leaf (default: typed arrays and ShapedArray). */
  isLeaf?: IsLeaf;
  /** Names of the trees for error messages, e.g. `['grads', 'state.mu']`. */
  names?: readonly string[];
  /** The name of the root in error paths (default `params`). */
  root?: string;
}

/**
 * Maps `fn` over the leaves of one or more trees of the same structure, like `jax.tree.map`. The
 * structures are checked first: a mismatch throws an `OptaxError` naming the path, before `fn` runs.
 * `fn` receives the leaves at one position (one per tree) and their path; `null` nodes stay `null`.
 *
 * @example
 * ```ts
 * import { treeMap } from 'optax-ts';
 * const a = { w: new Float32Array([1, 2]), b: null };
 * const b = { w: new Float32Array([10, 20]), b: null };
 * const sum = treeMap(([x, y]: Float32Array[]) => x.map((v, i) => v + y[i]), [a, b]);
 * console.log(sum); // { w: Float32Array(2) [ 11, 22 ], b: null }
 * ```
 */
export function treeMap<R, T = unknown>(fn: (leaves: any[], path: TreePath) => R, trees: readonly [T, ...unknown[]], options: TreeMapOptions = {}): MapLeaves<T, R> {
  return mapTrees(fn, trees, options);
}

/** {@link treeMap} for the library's own code, whose trees are typed loosely: the result is untyped. @internal */
export function mapTrees<R>(fn: (leaves: any[], path: TreePath) => R, trees: readonly unknown[], options: TreeMapOptions = {}): any {
  expectFunction('treeMap', 'fn', fn);
  expectList('treeMap', 'trees', trees);
  if (trees.length === 0) throw new OptaxError('treeMap: trees must hold at least one tree');
  options = readOptions('treeMap', options, { isLeaf: true, names: true, root: true });
  const isLeaf = options.isLeaf ?? isArrayLeaf;
  const results: R[] = [];
  walkTrees(trees, (leaves, path) => results.push(fn(leaves, path)), { isLeaf, names: options.names, root: options.root });
  let i = 0;
  return rebuild(trees[0], () => results[i++], isLeaf);
}

/**
 * The leaves of a tree in a deterministic order (dict keys sorted, as JAX flattens dicts), with their
 * paths. `null` nodes contribute no leaves.
 *
 * @example
 * ```ts
 * import { treeLeaves } from 'optax-ts';
 * const { leaves, paths } = treeLeaves({ w: new Float32Array(2), b: [null, new Float32Array(1)] });
 * console.log(leaves.length, paths); // 2 [ [ 'b', 1 ], [ 'w' ] ]
 * ```
 */
export function treeLeaves<L = unknown>(tree: unknown, isLeaf: IsLeaf = isArrayLeaf): { leaves: L[]; paths: TreePath[] } {
  expectFunction('treeLeaves', 'isLeaf', isLeaf);
  const leaves: L[] = [];
  const paths: TreePath[] = [];
  walkTrees([tree], ([leaf], path) => {
    leaves.push(leaf as L);
    paths.push(path);
  }, { isLeaf });
  return { leaves, paths };
}

/**
 * Rebuilds `structure` with its leaves (in {@link treeLeaves} order) replaced by `leaves`.
 *
 * @example
 * ```ts
 * import { treeLeaves, treeUnflatten } from 'optax-ts';
 * const tree = { w: new Float32Array([1, 2]), b: [null, new Float32Array([3])] };
 * const { leaves } = treeLeaves<Float32Array>(tree);
 * console.log(treeUnflatten(tree, leaves.map((leaf) => leaf.map((v) => 2 * v)))); // { w: Float32Array(2) [ 2, 4 ], b: [ null, Float32Array(1) [ 6 ] ] }
 * ```
 */
export function treeUnflatten(structure: unknown, leaves: readonly unknown[], isLeaf: IsLeaf = isArrayLeaf): any {
  expectFunction('treeUnflatten', 'isLeaf', isLeaf);
  const count = treeLeaves(structure, isLeaf).leaves.length;
  if (!Array.isArray(leaves)) throw new OptaxError(`treeUnflatten: leaves must be a list, got ${describe(leaves)}`);
  if (count !== leaves.length) throw new OptaxError(`treeUnflatten: structure has ${count} leaves, got ${leaves.length}`);
  // rebuild visits leaves in treeLeaves' order (dict keys sorted).
  let i = 0;
  return rebuild(structure, () => leaves[i++], isLeaf);
}

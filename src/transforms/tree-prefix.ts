import { OptaxError } from '../core/errors.js';
import type { TreePath } from '../tree/path.js';
import { isArrayLeaf } from '../tree/leaf.js';
import { showKeys } from '../tree/node.js';
import { describe, isDictNode } from '../tree/structure.js';
import { hasExactKeys, validateTree } from '../tree/validate.js';

/**
 * Prefix trees: masks (trees of booleans) and partition labels (trees of strings) may stop above the
 * leaves of the params, a prefix leaf then standing for a whole subtree (as in optax, whose
 * `jax.tree.map(f, mask, params)` hands `f` the params subtree under each mask leaf).
 */

/** Names used in error messages. */
export interface PrefixNames {
  /** The prefix tree, e.g. `mask` (also the root of its paths: `mask.layers[0]`). */
  readonly prefix: string;
  /** The full trees walked along, e.g. `['updates']`. */
  readonly trees: readonly string[];
  /** What a prefix leaf must be, e.g. `a boolean`. */
  readonly leaf: string;
}

/**
 * Walks `prefix` and the full `trees` together and rebuilds the prefix's structure, each prefix leaf
 * replaced by `fn(leaf, subtrees, path)` (the subtrees of every full tree at that position). Dict nodes
 * must have the same keys, lists the same length, and a `null` prefix node needs `null` in every tree;
 * dict results keep the first full tree's key order. Everything is checked before `fn` runs, so a
 * mismatch throws an {@link OptaxError} naming the path (rooted at the prefix's name) and changes
 * nothing.
 */
export function mapPrefix<L>(
  prefix: unknown,
  trees: readonly unknown[],
  isPrefixLeaf: (x: unknown) => x is L,
  fn: (leaf: L, subtrees: unknown[], path: TreePath) => unknown,
  names: PrefixNames,
  treeLeaf?: (x: unknown) => boolean,
): any {
  // The one validation pass first (depth, cycles, holes, getters, own keys), for the prefix and every
  // full tree, so the walks below only ever see finite trees of plain data.
  validateTree(prefix, { isLeaf: isPrefixLeaf, root: names.prefix, arrayLeaves: false, leafWhat: names.leaf });
  // `treeLeaf`: the full trees' leaves are another library's arrays (the jax-js adapter's), checked there.
  trees.forEach((t, i) => validateTree(t, treeLeaf ? { isLeaf: treeLeaf, root: names.trees[i], arrayLeaves: false } : { isLeaf: isArrayLeaf, root: names.trees[i] }));
  checkPrefix(prefix, trees, isPrefixLeaf, names, []);
  return build(prefix, trees, isPrefixLeaf, fn, []);
}

function checkPrefix<L>(prefix: unknown, trees: readonly unknown[], isPrefixLeaf: (x: unknown) => x is L, names: PrefixNames, path: TreePath): void {
  if (isPrefixLeaf(prefix)) return;
  const fail = (why: string): never => { throw new OptaxError(why, path, names.prefix); };
  const mismatch = (i: number, expected: string): never =>
    fail(`${names.prefix} does not match ${names.trees[i]}: ${names.prefix} has ${expected} here, ${names.trees[i]} has ${describe(trees[i])}`);
  if (prefix === null) {
    trees.forEach((t, i) => { if (t !== null) mismatch(i, 'null'); });
    return;
  }
  if (Array.isArray(prefix)) {
    trees.forEach((t, i) => { if (!Array.isArray(t) || t.length !== prefix.length) mismatch(i, `a list of ${prefix.length}`); });
    prefix.forEach((p, k) => checkPrefix(p, trees.map((t) => (t as unknown[])[k]), isPrefixLeaf, names, [...path, k]));
    return;
  }
  if (isDictNode(prefix)) {
    const keys = Object.keys(prefix).sort();
    trees.forEach((t, i) => {
      if (!isDictNode(t)) mismatch(i, `dict {${showKeys(keys)}}`);
      if (!hasExactKeys(t as Record<string, unknown>, keys)) mismatch(i, `dict {${showKeys(keys)}}`);
    });
    for (const k of keys) checkPrefix(prefix[k], trees.map((t) => (t as Record<string, unknown>)[k]), isPrefixLeaf, names, [...path, k]);
    return;
  }
  fail(`expected ${names.leaf} (or a dict, list or null matching ${names.trees[0]}), got ${describe(prefix)}`);
}

function build<L>(prefix: unknown, trees: readonly unknown[], isPrefixLeaf: (x: unknown) => x is L, fn: (leaf: L, subtrees: unknown[], path: TreePath) => unknown, path: TreePath): unknown {
  if (isPrefixLeaf(prefix)) return fn(prefix, [...trees], path);
  if (prefix === null) return null;
  if (Array.isArray(prefix)) return prefix.map((p, k) => build(p, trees.map((t) => (t as unknown[])[k]), isPrefixLeaf, fn, [...path, k]));
  const dict = prefix as Record<string, unknown>;
  // Visit keys sorted (JAX's flattening order, so `fn` sees leaves in the same order as optax),
  // then lay the result out in the first tree's key order.
  const values = new Map<string, unknown>();
  for (const k of Object.keys(dict).sort()) values.set(k, build(dict[k], trees.map((t) => (t as Record<string, unknown>)[k]), isPrefixLeaf, fn, [...path, k]));
  const order = trees.length > 0 ? Object.keys(trees[0] as object) : Object.keys(dict);
  return Object.fromEntries(order.map((k) => [k, values.get(k)]));
}

/** True for a boolean mask leaf. */
export const isBooleanLeaf = (x: unknown): x is boolean => typeof x === 'boolean';

/** True for a string label leaf. */
export const isLabelLeaf = (x: unknown): x is string => typeof x === 'string';

import { OptaxError } from '../core/errors.js';
import { ShapedArray } from './leaf.js';
import { describe, hasOwn, intrinsicLength, isDictNode } from './node.js';

export { hasOwn, intrinsicLength } from './node.js';
import type { PathEntry, TreePath } from './path.js';

/**
 * The one validation pass every tree goes through before anything reads it (params, gradients, states,
 * masks, labels): it never runs caller code (no getters), never trusts what an object says about
 * itself (a typed array's `length` is read through the intrinsic getter), and is bounded: recursion
 * stops at {@link MAX_TREE_DEPTH}, so every later walk over a validated tree is safe from stack
 * overflows, and it visits each node once, so its time is linear in the tree's size.
 */

/**
 * How deep a tree may nest (the number of dict/list levels above its deepest leaf). A deeper tree
 * throws an {@link OptaxError} naming the path where the limit was crossed, instead of overflowing the
 * stack; a cycle (a node that contains itself) is reported as one. Real models nest a few dozen
 * levels at most; optimizer states add a few more (chain, masked, inject_hyperparams).
 *
 * @example
 * ```ts
 * import { MAX_TREE_DEPTH, treeLeaves } from 'optax-ts';
 * let deep: unknown = new Float32Array(1);
 * for (let i = 0; i <= MAX_TREE_DEPTH; i++) deep = [deep];
 * try {
 *   treeLeaves(deep);
 * } catch (e) {
 *   console.log(MAX_TREE_DEPTH, (e as Error).message.split(': ').pop()); // 512 the tree is more than 512 levels deep (MAX_TREE_DEPTH)
 * }
 * ```
 */
export const MAX_TREE_DEPTH = 512;

/** True when `x` is a dict node whose own keys are exactly `keys` (in any order). */
export function hasExactKeys(x: Record<string, unknown>, keys: readonly string[]): boolean {
  return Object.keys(x).length === keys.length && keys.every((k) => hasOwn(x, k));
}

/**
 * A dict from `[key, value]` pairs, each defined as an own data property: a key `__proto__` (as
 * `JSON.parse` makes) stays a key instead of replacing the prototype.
 */
export function dictFromEntries<V>(entries: Iterable<readonly [string, V]>): Record<string, V> {
  return Object.fromEntries(entries) as Record<string, V>;
}

/**
 * Checks that a leaf is what it claims: a `Float32Array`/`Float64Array` whose `length` is its own
 * (no shadowing property), or a real {@link ShapedArray} whose shape holds exactly its data.
 * Returns a reason, or undefined when the leaf is sound.
 */
export function leafProblem(x: unknown): string | undefined {
  if (x instanceof Float32Array || x instanceof Float64Array) {
    if (hasOwn(x, 'length') || intrinsicLength(x) !== x.length) return `${x instanceof Float32Array ? 'Float32Array' : 'Float64Array'} with a redefined length property`;
    return detachedProblem(x);
  }
  if (x instanceof ShapedArray) {
    if (!ShapedArray.isShapedArray(x)) return 'an object posing as a ShapedArray (not made by its constructor)';
    return detachedProblem(x.data);
  }
  return undefined;
}

/**
 * A typed array whose ArrayBuffer was transferred (postMessage, structuredClone) reads as empty: left
 * alone, it would surface as a misleading shape mismatch, or a raw TypeError where it is copied. Only
 * an empty array can be detached, so a non-empty one costs nothing here (Node 20 has no `.detached`:
 * a view cannot be made on a detached buffer).
 */
function detachedProblem(x: Float32Array | Float64Array): string | undefined {
  if (x.length !== 0) return undefined;
  try {
    new Uint8Array(x.buffer, 0, 0);
    return undefined;
  } catch {
    return `a ${x instanceof Float32Array ? 'Float32Array' : 'Float64Array'} whose ArrayBuffer is detached (transferred away)`;
  }
}

/** What kind of node `x` is, for {@link validateTree}. */
type NodeKind = 'null' | 'leaf' | 'list' | 'dict' | 'other';

/** Options of {@link validateTree}. */
export interface ValidateOptions {
  /** What counts as a leaf. */
  readonly isLeaf: (x: unknown) => boolean;
  /** The root of error paths (`params`, `grads`, `state.mu`, `mask`). */
  readonly root: string;
  /** Whether leaves are array leaves to check with {@link leafProblem} (true by default). */
  readonly arrayLeaves?: boolean;
  /** What a leaf must be, for the message about a value that is none of leaf/list/dict/null. */
  readonly leafWhat?: string;
}

/**
 * Validates one tree: every node is null, a leaf, a list without holes or a dict, every value is a
 * plain data property (no getter is called), depth is at most {@link MAX_TREE_DEPTH}, no node contains
 * itself, and each array leaf is sound ({@link leafProblem}). Throws an {@link OptaxError} rooted at
 * `options.root`, naming the path. Each node is visited once.
 */
export function validateTree(tree: unknown, options: ValidateOptions): void {
  const { isLeaf, root } = options;
  const arrayLeaves = options.arrayLeaves ?? true;
  const leafWhat = options.leafWhat ?? 'an array leaf (Float32Array, Float64Array or ShapedArray)';
  const path: PathEntry[] = [];
  const ancestors = new Set<object>();
  const fail = (why: string, at: TreePath = path): never => { throw new OptaxError(why, [...at], root); };
  const kind = (x: unknown): NodeKind => {
    if (x === null) return 'null';
    if (isLeaf(x)) return 'leaf';
    if (Array.isArray(x)) return 'list';
    if (isDictNode(x)) return 'dict';
    return 'other';
  };
  const valueAt = (node: object, key: string | number): unknown => {
    const d = Object.getOwnPropertyDescriptor(node, key);
    if (d === undefined) return fail(`this list has a hole at index ${key} (a sparse array); every position needs a value`, [...path, key]);
    if (!hasOwn(d, 'value')) return fail('a getter or setter is not a tree value; use a plain data property', [...path, key]);
    return d.value;
  };
  const visit = (x: unknown, depth: number): void => {
    const k = kind(x);
    if (k === 'null') return;
    if (k === 'leaf') {
      const problem = arrayLeaves ? leafProblem(x) : undefined;
      if (problem) fail(`not a valid leaf: ${problem}`);
      return;
    }
    if (k === 'other') fail(`expected ${leafWhat}, a list, a dict or null, got ${describe(x)}`);
    const node = x as object;
    if (ancestors.has(node)) fail('this node contains itself (a cycle); a tree must be finite');
    if (depth >= MAX_TREE_DEPTH) fail(`the tree is more than ${MAX_TREE_DEPTH} levels deep (MAX_TREE_DEPTH)`);
    ancestors.add(node);
    if (k === 'list') {
      const list = node as unknown[];
      const n = list.length;
      for (let i = 0; i < n; i++) {
        const v = valueAt(list, i);
        path.push(i);
        visit(v, depth + 1);
        path.pop();
      }
    } else {
      for (const key of Object.keys(node)) {
        const v = valueAt(node, key);
        path.push(key);
        visit(v, depth + 1);
        path.pop();
      }
    }
    ancestors.delete(node);
  };
  visit(tree, 0);
}

import { OptaxError } from '../core/errors.js';
import { isArrayLeaf } from './leaf.js';
import type { TreePath } from './path.js';

/** Tells whether a value is a leaf; defaults to {@link isArrayLeaf}. */
export type IsLeaf = (x: unknown) => boolean;

/**
 * A plain object used as a dict node (not a class instance, not an array).
 *
 * @example
 * ```ts
 * import { isDictNode } from 'optax-ts';
 * console.log(isDictNode({ w: 1 }), isDictNode(Object.create(null)), isDictNode([1]), isDictNode(new Map()), isDictNode(null)); // true true false false false
 * ```
 */
export function isDictNode(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** Describes a value for an error message: `Float32Array(12)`, `number`, `dict {a, b}`. */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (x instanceof Float32Array || x instanceof Float64Array) return `${x.constructor.name}(${x.length})`;
  if (ArrayBuffer.isView(x)) return `${x.constructor.name} (only Float32Array and Float64Array leaves are supported)`;
  if (Array.isArray(x)) return `list of ${x.length}`;
  if (isDictNode(x)) return `dict {${Object.keys(x).join(', ')}}`;
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'object';
  return typeof x;
}

function checkNode(x: unknown, path: TreePath, isLeaf: IsLeaf, root: string): void {
  if (x === null || isLeaf(x) || Array.isArray(x) || isDictNode(x)) return;
  throw new OptaxError(`expected an array leaf (Float32Array, Float64Array or ShapedArray), a list, a dict or null, got ${describe(x)}`, path, root);
}

/**
 * Walks trees of the same structure together, calling `visit` on each leaf position with the leaves of
 * every tree there. Throws an {@link OptaxError} naming the path at the first mismatch (dict keys, list
 * length, null vs leaf, non-tree values), before `visit` has seen anything past it... and since every
 * caller validates before writing, nothing is changed on failure.
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
 *   console.log((e as Error).message); // params: grads does not match params: missing key(s) w
 * }
 * ```
 */
export function walkTrees(
  trees: readonly unknown[],
  visit: (leaves: unknown[], path: TreePath) => void,
  options: { isLeaf?: IsLeaf; names?: readonly string[]; root?: string } = {},
): void {
  const isLeaf = options.isLeaf ?? isArrayLeaf;
  const names = options.names ?? trees.map((_, i) => (i === 0 ? 'the first tree' : `tree ${i}`));
  const root = options.root ?? 'params';
  // First each tree on its own, so that a value that is not a tree at all is reported as such (rather
  // than as a mismatch with another tree).
  const check = (x: unknown, path: TreePath): void => {
    checkNode(x, path, isLeaf, root);
    if (x === null || isLeaf(x)) return;
    if (Array.isArray(x)) x.forEach((v, i) => check(v, [...path, i]));
    else for (const k of Object.keys(x as object)) check((x as Record<string, unknown>)[k], [...path, k]);
  };
  trees.forEach((t) => check(t, []));
  const go = (nodes: unknown[], path: TreePath): void => {
    const first = nodes[0];
    const mismatch = (i: number, what: string): never => {
      throw new OptaxError(`${names[i]} does not match ${names[0]}: ${what}`, path, root);
    };
    if (first === null) {
      for (let i = 1; i < nodes.length; i++) if (nodes[i] !== null) mismatch(i, `expected null, got ${describe(nodes[i])}`);
      return;
    }
    if (isLeaf(first)) {
      for (let i = 1; i < nodes.length; i++) if (!isLeaf(nodes[i])) mismatch(i, `expected a leaf, got ${describe(nodes[i])}`);
      visit(nodes, path);
      return;
    }
    if (Array.isArray(first)) {
      for (let i = 1; i < nodes.length; i++) {
        const n = nodes[i];
        if (!Array.isArray(n)) mismatch(i, `expected a list of ${first.length}, got ${describe(n)}`);
        else if (n.length !== first.length) mismatch(i, `expected a list of ${first.length}, got a list of ${n.length}`);
      }
      for (let k = 0; k < first.length; k++) go(nodes.map((n) => (n as unknown[])[k]), [...path, k]);
      return;
    }
    const keys = Object.keys(first as object).sort();
    for (let i = 1; i < nodes.length; i++) {
      const n = nodes[i];
      if (!isDictNode(n)) mismatch(i, `expected dict {${keys.join(', ')}}, got ${describe(n)}`);
      const other = Object.keys(n as object).sort();
      const missing = keys.filter((k) => !(k in (n as object)));
      const extra = other.filter((k) => !(k in (first as object)));
      if (missing.length || extra.length) {
        mismatch(i, [missing.length ? `missing key(s) ${missing.join(', ')}` : '', extra.length ? `unexpected key(s) ${extra.join(', ')}` : ''].filter(Boolean).join('; '));
      }
    }
    for (const k of keys) go(nodes.map((n) => (n as Record<string, unknown>)[k]), [...path, k]);
  };
  go([...trees], []);
}

/**
 * Throws an {@link OptaxError} naming the first path where the trees' structures differ.
 *
 * @example
 * ```ts
 * import { assertSameStructure } from 'optax-ts';
 * try {
 *   assertSameStructure([{ w: new Float32Array(2) }, { b: new Float32Array(2) }], ['params', 'grads']);
 * } catch (e) {
 *   console.log((e as Error).message); // params: grads does not match params: missing key(s) w; unexpected key(s) b
 * }
 * ```
 */
export function assertSameStructure(trees: readonly unknown[], names?: readonly string[], isLeaf?: IsLeaf): void {
  walkTrees(trees, () => {}, { names, isLeaf });
}

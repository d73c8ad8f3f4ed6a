import { OptaxError } from '../core/errors.js';
import { type ArrayLeaf, ShapedArray, isArrayLeaf, leafData, leafDtype, leafMismatch, leafShape, leafSpec } from '../tree/leaf.js';
import type { TreePath } from '../tree/path.js';
import { describe, isDictNode } from '../tree/structure.js';
import { hasExactKeys } from '../tree/validate.js';
import { showKeys } from '../tree/node.js';

/**
 * States the engine cannot see into (a transformation on the reference path keeps whatever its
 * `update` returns): checked against the current state's layout when loaded, and detached from the
 * engine's memory so that updating the params in place can never change a state behind its back.
 */

/**
 * Throws an OptaxError naming the path where `next` is not laid out like `current`: lists of the same
 * length, dicts with the same keys, array leaves of the same dtype and shape, and scalars (counts,
 * flags) of the same type.
 */
export function checkSameLayout(current: unknown, next: unknown, path: TreePath = []): void {
  const fail = (what: string): never => {
    throw new OptaxError(`this state does not fit the compiled transformation: expected ${what}, got ${describe(next)}`, path, 'state');
  };
  if (isArrayLeaf(current)) {
    if (!isArrayLeaf(next)) fail(describe(current));
    const problem = leafMismatch(leafSpec(next as ArrayLeaf), 'state', leafSpec(current as ArrayLeaf), 'the current state', true);
    if (problem) fail(`a ${leafDtype(current as ArrayLeaf)} leaf of shape [${leafShape(current as ArrayLeaf).join(', ')}] (${problem})`);
    return;
  }
  if (current === null || current === undefined) {
    if (next !== current) fail(String(current));
    return;
  }
  if (Array.isArray(current)) {
    if (!Array.isArray(next) || next.length !== current.length) fail(`a list of ${current.length}`);
    current.forEach((c, i) => checkSameLayout(c, (next as unknown[])[i], [...path, i]));
    return;
  }
  if (isDictNode(current)) {
    const keys = Object.keys(current);
    if (!isDictNode(next) || !hasExactKeys(next, keys)) fail(`dict {${showKeys(keys)}}`);
    for (const k of keys) checkSameLayout(current[k], (next as Record<string, unknown>)[k], [...path, k]);
    return;
  }
  if (typeof next !== typeof current) fail(typeof current);
}

/**
 * A copy of `value` in which every array leaf lying in `buffer` (or, given a set of arrays, every leaf
 * whose data is one of them) is replaced by a copy of it.
 */
export function detach<T>(value: T, from: ArrayBufferLike | ReadonlySet<unknown>): T {
  const owned = (data: Float32Array | Float64Array): boolean => (from instanceof Set ? from.has(data) : data.buffer === from);
  const go = (v: unknown): unknown => {
    if (isArrayLeaf(v)) {
      const data = leafData(v);
      if (!owned(data)) return v;
      return v instanceof ShapedArray ? new ShapedArray(data.slice(), v.shape) : data.slice();
    }
    if (Array.isArray(v)) return v.map(go);
    if (isDictNode(v)) return Object.fromEntries(Object.keys(v).map((k) => [k, go(v[k])]));
    return v;
  };
  return go(value) as T;
}

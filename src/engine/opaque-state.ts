import { OptaxError } from '../core/errors.js';
import { type ArrayLeaf, ShapedArray, isArrayLeaf, leafData, leafDtype, leafMismatch, leafShape, leafSpec } from '../tree/leaf.js';
import type { TreePath } from '../tree/path.js';
import { describe, isDictNode } from '../tree/structure.js';
import { isInt32 } from '../core/numerics.js';
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
  // Step counters (optax's int32 counts): the transformations' own update would reject a bad one at
  // the next step; the stepper rejects it when the state is loaded, naming it.
  const key = path[path.length - 1];
  if (isStepCounterKey(key) && !(isInt32(next) && (next as number) >= 0)) {
    fail(`a non-negative int32 step count (${key})`);
  }
}

/** State fields that are int32 step counters in optax's states (counts, MultiSteps' and applyIfFinite's). */
const STEP_COUNTERS: ReadonlySet<string> = new Set(['count', 'mini_step', 'gradient_step', 'notfinite_count', 'total_notfinite']);

/** Whether a state field of this name is an int32 step counter (see STEP_COUNTERS). */
export const isStepCounterKey = (key: unknown): boolean => typeof key === 'string' && STEP_COUNTERS.has(key);

/**
 * A copy of `value` in which every array leaf whose data `owned` picks (e.g. those lying in the
 * engine's buffer, or the caller's arrays) is replaced by a copy of it; lists and dicts are copied,
 * other values kept.
 */
export function detach<T>(value: T, owned: (data: Float32Array | Float64Array) => boolean): T {
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

/** A copy of `value` with every array leaf copied (nothing in it aliases the original's arrays). */
export function copyArrays<T>(value: T): T {
  return detach(value, () => true);
}

/**
 * Freezes the containers of a tree in place (dicts, lists, ShapedArray leaves; not the typed arrays,
 * whose elements stay writable, nor other objects) and returns it: assigning a node then throws in
 * strict-mode code instead of being silently lost.
 */
export function freezeContainers<T>(value: T): T {
  const go = (v: unknown): void => {
    if (v instanceof ShapedArray) Object.freeze(v);
    else if (Array.isArray(v)) { v.forEach(go); Object.freeze(v); }
    else if (isDictNode(v)) { for (const k of Object.keys(v)) go(v[k]); Object.freeze(v); }
  };
  go(value);
  return value;
}

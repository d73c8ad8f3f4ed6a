import { OptaxError } from '../core/errors.js';
import { ShapedArray, isArrayLeaf, leafData, leafDtype, leafShape } from '../tree/leaf.js';
import { describe, isDictNode } from '../tree/structure.js';

/**
 * An optimizer state kept by path, so that it outlives any one set of parameters. The params are a
 * dict keyed by variable name, so every per-parameter leaf of the state has the variable's name in
 * its path (`[0,"mu","dense/kernel"]`), and the shared ones (`[0,"count"]`) do not: a state for
 * another set of variables is assembled from `tx.init` of that set, with every leaf the store holds
 * put back. Variables that sit out some steps (a frozen layer) keep their moments in the store.
 */

/** A leaf of a stored state: an array (copied), a number or a boolean. */
export type StoredLeaf = Float32Array | Float64Array | ShapedArray | number | boolean;

/** The leaves of a state by path (`JSON.stringify` of the list of keys and indices). */
export type StateStore = Map<string, StoredLeaf>;

/** The key of a path. */
export const pathKey = (path: readonly (string | number)[]): string => JSON.stringify(path);

/** Copies every leaf of `state` into `store` (replacing what it held at those paths). */
export function storeState(state: unknown, store: StateStore): void {
  const walk = (x: unknown, path: (string | number)[]): void => {
    if (isArrayLeaf(x)) {
      const data = leafData(x).slice();
      store.set(pathKey(path), x instanceof ShapedArray ? new ShapedArray(data, x.shape) : data);
    } else if (typeof x === 'number' || typeof x === 'boolean') store.set(pathKey(path), x);
    else if (Array.isArray(x)) x.forEach((v, i) => walk(v, [...path, i]));
    else if (isDictNode(x)) for (const k of Object.keys(x)) walk(x[k], [...path, k]);
  };
  walk(state, []);
}

/** Removes from `store` every leaf `state` has (now held by a stepper), keeping those of other variables. */
export function forgetState(state: unknown, store: StateStore): void {
  const walk = (x: unknown, path: (string | number)[]): void => {
    if (Array.isArray(x)) x.forEach((v, i) => walk(v, [...path, i]));
    else if (isDictNode(x) && !isArrayLeaf(x)) for (const k of Object.keys(x)) walk(x[k], [...path, k]);
    else store.delete(pathKey(path));
  };
  walk(state, []);
}

/**
 * `init` with each leaf the store holds at the same path put in its place (in `init`'s leaf form).
 * A stored leaf of another kind, dtype or shape is an error naming its path: it belongs to other
 * variables or another optimizer.
 */
export function assembleState(init: unknown, store: StateStore): unknown {
  const walk = (x: unknown, path: (string | number)[]): unknown => {
    if (Array.isArray(x)) return x.map((v, i) => walk(v, [...path, i]));
    if (isDictNode(x) && !isArrayLeaf(x)) return Object.fromEntries(Object.keys(x).map((k) => [k, walk(x[k], [...path, k])]));
    const key = pathKey(path);
    if (!store.has(key)) return x;
    const s = store.get(key)!;
    const fail = (why: string): never => { throw new OptaxError(`optimizer state ${key}: the saved value does not fit: ${why}`); };
    if (isArrayLeaf(x)) {
      if (!isArrayLeaf(s)) return fail(`expected an array, got ${describe(s)}`);
      if (leafDtype(s) !== leafDtype(x)) fail(`expected ${leafDtype(x)}, got ${leafDtype(s)}`);
      const want = leafShape(x), got = leafShape(s);
      if (want.length !== got.length || want.some((d, i) => d !== got[i])) fail(`expected shape [${want.join(', ')}], got [${got.join(', ')}]`);
      const data = leafData(s).slice();
      return x instanceof ShapedArray ? new ShapedArray(data, x.shape) : data;
    }
    if (typeof s !== typeof x) fail(`expected a ${typeof x}, got ${describe(s)}`);
    return s;
  };
  return walk(init, []);
}

/** A name without tfjs's uniquifying suffix (`kernel_1` -> `kernel`). */
const baseName = (name: string): string => name.replace(/_\d+$/, '');

/**
 * Re-keys the store's state of variables that tfjs renamed. tfjs-layers makes variable names
 * unique per process by appending `_<n>` (a model loaded where its layers' names are taken gets
 * `dense/kernel_1`), so a saved state may name `dense/kernel` for what is now `dense/kernel_1`, or the
 * other way round. For each variable of `names` with no state in the store, a stored name that is
 * not a current variable, equal up to that suffix, found at the same places in the state, is taken
 * as its old name, when exactly one fits.
 */
export function adoptRenamedVariables(init: unknown, store: StateStore, names: readonly string[]): void {
  const current = new Set(names);
  // Where each variable's leaves are: the path with the name's place left blank (`\0`).
  const slots = new Map<string, { template: string; index: number }[]>();
  const walk = (x: unknown, path: (string | number)[]): void => {
    if (Array.isArray(x)) return x.forEach((v, i) => walk(v, [...path, i]));
    if (isDictNode(x) && !isArrayLeaf(x)) return Object.keys(x).forEach((k) => walk(x[k], [...path, k]));
    if (x === null || x === undefined) return;
    path.forEach((p, j) => {
      if (typeof p !== 'string' || !current.has(p)) return;
      const list = slots.get(p) ?? [];
      list.push({ template: pathKey(path.map((q, i) => (i === j ? '\0' : q))), index: j });
      slots.set(p, list);
    });
  };
  walk(init, []);
  const stored = [...store.keys()].map((key) => ({ key, path: JSON.parse(key) as (string | number)[] }));
  for (const [name, places] of slots) {
    const hasState = places.some(({ template, index }) => stored.some((s) => s.path[index] === name && sameTemplate(s.path, index, template)));
    if (hasState) continue;
    const candidates = new Set<string>();
    for (const { template, index } of places) {
      for (const s of stored) {
        const old = s.path[index];
        if (typeof old === 'string' && !current.has(old) && baseName(old) === baseName(name) && sameTemplate(s.path, index, template)) candidates.add(old);
      }
    }
    if (candidates.size !== 1) continue;
    const [old] = candidates;
    for (const { template, index } of places) {
      for (const s of stored) {
        if (s.path[index] !== old || !sameTemplate(s.path, index, template) || !store.has(s.key)) continue;
        const leaf = store.get(s.key)!;
        store.delete(s.key);
        store.set(pathKey(s.path.map((q, i) => (i === index ? name : q))), leaf);
      }
    }
  }
}

function sameTemplate(path: readonly (string | number)[], index: number, template: string): boolean {
  return pathKey(path.map((q, i) => (i === index ? '\0' : q))) === template;
}

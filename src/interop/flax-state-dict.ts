import { OptaxError } from '../core/errors.js';
import { ShapedArray, isArrayLeaf, leafData, leafShape } from '../tree/leaf.js';
import type { TreePath } from '../tree/path.js';
import { describe, isDictNode } from '../tree/structure.js';

/**
 * flax's "state dict" form of an optax state, the form `flax.serialization.to_bytes` writes: tuples and
 * lists become dicts keyed "0", "1", ...; NamedTuples become dicts of their fields; every number is an
 * array (`count` a 0-d int32). optax-ts states already have optax's layout, so the conversion is
 * mechanical; the only information it needs is each number's dtype, which is given by the field name
 * (step counters are int32, flags bool) or, for hyperparameters, by `floatDtype`.
 */

/**
 * A state-dict leaf: an array with its dtype and shape (numpy's ndarray, as flax writes it).
 *
 * @example
 * ```ts
 * import { StateDictArray } from 'optax-ts';
 * const count = new StateDictArray('int32', [], new Int32Array([7]));
 * console.log(count.dtype, count.shape, count.data[0]); // int32 [] 7
 * ```
 */
export class StateDictArray {
  constructor(
    readonly dtype: 'float32' | 'float64' | 'int32' | 'bool',
    readonly shape: readonly number[],
    readonly data: Float32Array | Float64Array | Int32Array | Uint8Array,
  ) {}
}

/** A flax state dict. */
export type StateDict = StateDictArray | null | { readonly [key: string]: StateDict };

/** optax's int32 step counters, by field name. */
const INT32_FIELDS = new Set(['count', 'mini_step', 'gradient_step', 'notfinite_count', 'total_notfinite']);
/** optax's boolean flags, by field name. */
const BOOL_FIELDS = new Set(['last_finite']);

/** True for a state-dict array leaf. */
export function isStateDictArray(x: unknown): x is StateDictArray {
  return x instanceof StateDictArray;
}

function scalarArray(value: number | boolean, field: string | number | undefined, floatDtype: 'float32' | 'float64'): StateDictArray {
  if (typeof value === 'boolean' || BOOL_FIELDS.has(String(field))) return new StateDictArray('bool', [], new Uint8Array([value ? 1 : 0]));
  if (INT32_FIELDS.has(String(field))) return new StateDictArray('int32', [], new Int32Array([value]));
  return new StateDictArray(floatDtype, [], floatDtype === 'float32' ? new Float32Array([value]) : new Float64Array([value]));
}

/**
 * Converts an optax-ts state to flax's state dict.
 *
 * @param floatDtype - the dtype of hyperparameters stored as numbers (`float32` in JAX's default mode).
 *
 * @example
 * ```ts
 * import { adamax, toFlaxStateDict } from 'optax-ts';
 * const sd = toFlaxStateDict(adamax(0.01).init({ w: new Float32Array(2) })) as any;
 * console.log(Object.keys(sd), sd['0'].count.dtype, sd['1']); // [ '0', '1' ] int32 {}
 * ```
 */
export function toFlaxStateDict(state: unknown, floatDtype: 'float32' | 'float64' = 'float32', field?: string | number, path: TreePath = []): StateDict {
  if (state === null || state === undefined) return null;
  if (typeof state === 'number' || typeof state === 'boolean') return scalarArray(state, field, floatDtype);
  if (isArrayLeaf(state)) {
    const data = leafData(state);
    return new StateDictArray(data instanceof Float32Array ? 'float32' : 'float64', [...leafShape(state)], data);
  }
  if (Array.isArray(state)) return Object.fromEntries(state.map((s, i) => [String(i), toFlaxStateDict(s, floatDtype, i, [...path, i])]));
  if (isDictNode(state)) return Object.fromEntries(Object.entries(state).map(([k, v]) => [k, toFlaxStateDict(v, floatDtype, k, [...path, k])]));
  throw new OptaxError(`cannot convert ${describe(state)} to a flax state dict`, path, 'state');
}

/**
 * Restores an optax-ts state from flax's state dict, using `template` (e.g. `tx.init(params)`) for
 * the layout: every leaf is checked against the template's (structure, dtype, shape), and an error names
 * the path of the first mismatch.
 *
 * @example
 * ```ts
 * import { adamax, toFlaxStateDict, fromFlaxStateDict } from 'optax-ts';
 * const tx = adamax(0.01);
 * const state = tx.init({ w: new Float32Array(2) });
 * const back = fromFlaxStateDict(state, toFlaxStateDict(state));
 * console.log(back[0].count, back[0].mu); // 0 { w: Float32Array(2) [ 0, 0 ] }
 * ```
 */
export function fromFlaxStateDict<S>(template: S, stateDict: StateDict, path: TreePath = []): S {
  const fail = (what: string): never => { throw new OptaxError(`state dict does not fit the state: ${what}`, path, 'state'); };
  const t: unknown = template;
  if (t === null || t === undefined) {
    if (stateDict !== null && !(isDictNode(stateDict) && Object.keys(stateDict).length === 0)) fail(`expected nothing, got ${describe(stateDict)}`);
    return template;
  }
  if (typeof t === 'number' || typeof t === 'boolean') {
    if (!isStateDictArray(stateDict) || stateDict.data.length !== 1) return fail(`expected a scalar array, got ${describe(stateDict)}`);
    const v = stateDict.data[0];
    return (typeof t === 'boolean' ? v !== 0 : v) as S;
  }
  if (isArrayLeaf(t)) {
    if (!isStateDictArray(stateDict)) return fail(`expected an array, got ${describe(stateDict)}`);
    const want = leafData(t);
    const dtype = want instanceof Float32Array ? 'float32' : 'float64';
    const shape = leafShape(t);
    if (stateDict.dtype !== dtype) fail(`expected ${dtype}, got ${stateDict.dtype}`);
    if (stateDict.data.length !== want.length) fail(`expected shape [${shape.join(', ')}], got [${stateDict.shape.join(', ')}]`);
    const data = (stateDict.data as Float32Array | Float64Array).slice();
    return (t instanceof ShapedArray ? new ShapedArray(data, shape) : data) as S;
  }
  if (!isDictNode(stateDict)) return fail(`expected a dict, got ${describe(stateDict)}`);
  const entries: [string | number, unknown][] = Array.isArray(t) ? t.map((v, i) => [i, v]) : Object.entries(t as object);
  const keys = entries.map(([k]) => String(k));
  const extra = Object.keys(stateDict).filter((k) => !keys.includes(k));
  if (extra.length) fail(`unexpected key(s) ${extra.join(', ')}`);
  const out = entries.map(([k, v]) => {
    if (!(String(k) in stateDict)) fail(`missing key ${k}`);
    return [k, fromFlaxStateDict(v, stateDict[String(k)], [...path, k])] as const;
  });
  return (Array.isArray(t) ? out.map(([, v]) => v) : Object.fromEntries(out)) as S;
}

import { OptaxError } from '../core/errors.js';
import { isInt32 } from '../core/numerics.js';
import { MAX_CHECKPOINT_DEPTH } from '../checkpoint/limits.js';
import { ShapedArray, isArrayLeaf, leafData, leafShape } from '../tree/leaf.js';
import { type PathEntry, type TreePath, checkPathArgument } from '../tree/path.js';
import { describe, isDictNode } from '../tree/structure.js';
import { setOwn } from '../tree/node.js';
import { leafProblem } from '../tree/validate.js';
import { type ElementArray, type ElementType, elementTypeOf, shapeSize } from './typed-bytes.js';
import { chunkedParts, isChunked, maybeChunked, unchunk } from './flax-chunks.js';

/**
 * flax's "state dict" form of an optax state, the form `flax.serialization.to_bytes` writes: tuples and
 * lists become dicts keyed "0", "1", ...; NamedTuples become dicts of their fields; every number is an
 * array (`count` a 0-d int32). optax-ts states already have optax's layout, so the conversion is
 * mechanical; the only information it needs is each number's dtype, which is given by the field name
 * (step counters are int32, flags bool) or, for hyperparameters, by the dtype they were rounded to.
 *
 * Both directions validate before they build anything: a count must be a non-negative int32, a flag a
 * boolean, an array match the template's dtype and whole shape; nesting is bounded by
 * {@link MAX_CHECKPOINT_DEPTH}; key checks are own-property checks, linear in the keys of a dict.
 */

/**
 * A state-dict leaf: an array with its dtype and shape (numpy's ndarray, as flax writes it). The
 * constructor checks that `data` is the typed array of `dtype` (`Uint8Array` for bool) and holds
 * exactly the elements of `shape`.
 *
 * @example
 * ```ts
 * import { StateDictArray } from 'optax-ts';
 * const count = new StateDictArray('int32', [], new Int32Array([7]));
 * console.log(count.dtype, count.shape, count.data[0]); // int32 [] 7
 * ```
 */
export class StateDictArray {
  readonly shape: readonly number[];
  declare readonly dtype: ElementType;
  declare readonly data: ElementArray;

  constructor(dtype: ElementType, shape: readonly number[], data: ElementArray) {
    const type = elementTypeOf(data);
    if (type !== dtype || !Object.hasOwn(TYPED_ARRAY_NAME, dtype)) throw new OptaxError(`StateDictArray: ${String(dtype)} data must be held in ${TYPED_ARRAY_NAME[dtype] ?? 'Float32Array, Float64Array, Int32Array or Uint8Array'}, got ${describe(data)}`);
    const n = Array.isArray(shape) ? shapeSize(shape) : undefined;
    if (n === undefined) throw new OptaxError(`StateDictArray: shape must be a list of non-negative integers, got ${describe(shape)}`);
    if (n !== data.length) throw new OptaxError(`StateDictArray: shape [${shape.join(', ')}] holds ${n} elements, the data has ${data.length}`);
    this.dtype = dtype;
    this.data = data;
    this.shape = Object.freeze([...shape]);
    // Checked once, then fixed: an instance cannot be edited into an inconsistent one, and an object
    // posing as one (made without the constructor) is not accepted (isStateDictArray).
    Object.freeze(this);
  }

  /** Set by the constructor only: tells a real instance from an object posing as one. */
  readonly #checked = true;

  /** True for an instance made by the constructor (a brand check: cheap, and nothing for the GC to track). */
  static isChecked(x: unknown): boolean {
    return typeof x === 'object' && x !== null && #checked in x;
  }
}

const TYPED_ARRAY_NAME: Readonly<Record<ElementType, string>> = { float32: 'Float32Array', float64: 'Float64Array', int32: 'Int32Array', bool: 'Uint8Array' };

/** A flax state dict. */
export type StateDict = StateDictArray | null | { readonly [key: string]: StateDict };

/** optax's int32 step counters, by field name. */
const INT32_FIELDS = new Set(['count', 'mini_step', 'gradient_step', 'notfinite_count', 'total_notfinite']);
/** optax's boolean flags, by field name. */
const BOOL_FIELDS = new Set(['last_finite']);

/** The storage kind of a scalar of the state at field `field`: a step counter, a flag or a float. */
export function scalarKind(field: PathEntry | undefined, value: unknown): 'int32' | 'bool' | 'float' {
  if (typeof field === 'string' && INT32_FIELDS.has(field)) return 'int32';
  if ((typeof field === 'string' && BOOL_FIELDS.has(field)) || typeof value === 'boolean') return 'bool';
  return 'float';
}


/** True for a state-dict array leaf. */
export function isStateDictArray(x: unknown): x is StateDictArray {
  return StateDictArray.isChecked(x);
}

/** Throws the OptaxError for a tree nested deeper than the checkpoint limit. */
export function checkDepth(path: TreePath, root: string): void {
  if (path.length > MAX_CHECKPOINT_DEPTH) throw new OptaxError(`the tree is nested deeper than ${MAX_CHECKPOINT_DEPTH} levels`, path, root);
}

type FloatDtype = 'float32' | 'float64';

/**
 * The dtype numbers (hyperparameters) of `tree` were rounded to: float64 when the tree holds a float64
 * array (JAX computes in float64 only with x64 enabled, and injectHyperparams takes the params' highest
 * dtype) or a float number float32 cannot hold exactly; float32 otherwise, as JAX's default.
 */
function inferredFloatDtype(tree: unknown, depth: number, field?: PathEntry): FloatDtype {
  if (depth > MAX_CHECKPOINT_DEPTH) return 'float32'; // the conversion itself reports the depth
  if (typeof tree === 'number') return scalarKind(field, tree) === 'float' && !Number.isNaN(tree) && Math.fround(tree) !== tree ? 'float64' : 'float32';
  if (isArrayLeaf(tree)) return leafData(tree) instanceof Float64Array ? 'float64' : 'float32';
  if (Array.isArray(tree)) return tree.some((v, i) => inferredFloatDtype(v, depth + 1, i) === 'float64') ? 'float64' : 'float32';
  if (isDictNode(tree)) return Object.keys(tree).some((k) => inferredFloatDtype(tree[k], depth + 1, k) === 'float64') ? 'float64' : 'float32';
  return 'float32';
}

function scalarArray(value: number | boolean, field: PathEntry | undefined, floatDtype: FloatDtype, path: TreePath, root: string): StateDictArray {
  const kind = scalarKind(field, value);
  if (kind === 'bool') {
    if (typeof value !== 'boolean') throw new OptaxError(`expected a boolean flag, got ${describe(value)} ${String(value)}`, path, root);
    return new StateDictArray('bool', [], new Uint8Array([value ? 1 : 0]));
  }
  if (kind === 'int32') {
    if (!isInt32(value) || value < 0) throw new OptaxError(`a step count must be a non-negative int32, got ${String(value)}`, path, root);
    return new StateDictArray('int32', [], new Int32Array([value]));
  }
  if (typeof value !== 'number') throw new OptaxError(`expected a number, got ${describe(value)}`, path, root);
  return new StateDictArray(floatDtype, [], floatDtype === 'float32' ? new Float32Array([value]) : new Float64Array([value]));
}

/**
 * Converts an optax-ts state to flax's state dict. Array leaves are shared, not copied.
 *
 * @param floatDtype - the dtype of numbers other than counts and flags (hyperparameters). Default:
 *   inferred for each `injectHyperparams` state (and for the whole state): float64 when it holds float64
 *   arrays or numbers float32 cannot represent (they were rounded to float64), else float32 — what
 *   optax writes in JAX's default and x64 modes.
 *
 * @example
 * ```ts
 * import { adamax, toFlaxStateDict } from 'optax-ts';
 * const sd = toFlaxStateDict(adamax(0.01).init({ w: new Float32Array(2) })) as any;
 * console.log(Object.keys(sd), sd['0'].count.dtype, sd['1']); // [ '0', '1' ] int32 {}
 * ```
 */
export function toFlaxStateDict(state: unknown, floatDtype?: FloatDtype, field?: PathEntry, path: TreePath = []): StateDict {
  if (floatDtype !== undefined && floatDtype !== 'float32' && floatDtype !== 'float64') {
    throw new OptaxError(`toFlaxStateDict: floatDtype must be 'float32' or 'float64', got ${describe(floatDtype)}`);
  }
  return stateDictAt(state, floatDtype, checkPathArgument(path, 'toFlaxStateDict'), 'state', true);
}

/**
 * {@link toFlaxStateDict} of the subtree at `path` of a tree whose errors are reported under `root`;
 * `chunk` splits arrays over 1 GiB as flax does (for msgpack, not for safetensors).
 *
 * @internal
 */
export function stateDictAt(state: unknown, floatDtype: FloatDtype | undefined, path: TreePath, root: string, chunk: boolean): StateDict {
  const field = path[path.length - 1];
  return convert(state, floatDtype, floatDtype ?? inferredFloatDtype(state, path.length, field), field, [...path], root, chunk);
}

function convert(state: unknown, fixed: FloatDtype | undefined, floatDtype: FloatDtype, field: PathEntry | undefined, path: PathEntry[], root: string, chunk: boolean): StateDict {
  checkDepth(path, root);
  if (state === null || state === undefined) return null;
  if (typeof state === 'number' || typeof state === 'boolean') return scalarArray(state, field, floatDtype, path, root);
  if (isArrayLeaf(state)) {
    const problem = leafProblem(state);
    if (problem) throw new OptaxError(`cannot save ${problem}`, path, root);
    const data = leafData(state);
    const array = new StateDictArray(data instanceof Float32Array ? 'float32' : 'float64', [...leafShape(state)], data);
    return chunk ? maybeChunked(array) : array;
  }
  const child = (v: unknown, k: PathEntry): StateDict => {
    path.push(k);
    try { return convert(v, fixed, floatDtype, k, path, root, chunk); } finally { path.pop(); }
  };
  if (Array.isArray(state)) {
    const out: Record<string, StateDict> = {};
    for (let i = 0; i < state.length; i++) out[String(i)] = child(state[i], i);
    return out;
  }
  if (isDictNode(state)) {
    // An injectHyperparams state: its hyperparameters were rounded to its own dtype.
    if (fixed === undefined && isDictNode(state.hyperparams) && Object.hasOwn(state, 'inner_state')) floatDtype = inferredFloatDtype(state, path.length);
    const out: Record<string, StateDict> = {};
    for (const k of Object.keys(state)) setOwn(out, k, child(state[k], k));
    return out;
  }
  throw new OptaxError(`cannot convert ${describe(state)} to a flax state dict`, path, root);
}

/**
 * Restores an optax-ts state from flax's state dict, using `template` (e.g. `tx.init(params)`) for
 * the layout: every leaf is checked against the template's (structure, dtype, whole shape), every
 * count must be a non-negative int32 and every flag a bool, and an error names the path of the first
 * mismatch. The result holds fresh arrays: nothing aliases the state dict or the template.
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
  return restoreFromStateDict(template, stateDict, checkPathArgument(path, 'fromFlaxStateDict'), 'state', false);
}

/**
 * {@link fromFlaxStateDict} for callers that own the state dict's arrays (freshly decoded): they are
 * moved into the result rather than copied.
 *
 * @internal
 */
export function restoreFromStateDict<S>(template: S, stateDict: StateDict, path: TreePath, root: string, owned: boolean): S {
  const at: PathEntry[] = [...path];
  const fail = (what: string): never => { throw new OptaxError(`state dict does not fit the state: ${what}`, at, root); };

  const leaf = (t: unknown, sd: unknown, field: PathEntry | undefined): unknown => {
    const given = sd;
    if (isArrayLeaf(t) && isChunked(sd)) {
      const whole = unchunk(sd);
      if (typeof whole === 'string') return fail(whole);
      sd = whole;
    }
    if (!isStateDictArray(sd)) return fail(`expected ${typeof t === 'number' || typeof t === 'boolean' ? 'a scalar' : 'an'} array, got ${describe(sd)}`);
    if (typeof t === 'number' || typeof t === 'boolean') {
      if (sd.shape.length !== 0) fail(`expected a scalar (shape []), got shape [${sd.shape.join(', ')}]`);
      const v = sd.data[0];
      switch (scalarKind(field, t)) {
        case 'int32':
          if (sd.dtype !== 'int32' || v < 0) fail(`a step count must be a non-negative int32, got ${sd.dtype} ${v}`);
          return v;
        case 'bool':
          if (sd.dtype !== 'bool' || (v !== 0 && v !== 1)) fail(`expected a bool, got ${sd.dtype} ${v}`);
          return v === 1;
        default:
          if (sd.dtype !== 'float32' && sd.dtype !== 'float64') fail(`expected a float32 or float64 scalar, got ${sd.dtype}`);
          return v;
      }
    }
    const problem = leafProblem(t);
    if (problem) fail(`the template holds ${problem}`);
    const want = leafData(t as ShapedArray);
    const dtype = want instanceof Float32Array ? 'float32' : 'float64';
    const shape = leafShape(t as ShapedArray);
    if (sd.dtype !== dtype) fail(`expected ${dtype}, got ${sd.dtype}`);
    if (sd.shape.length !== shape.length || sd.shape.some((d, i) => d !== shape[i])) fail(`expected shape [${shape.join(', ')}], got [${sd.shape.join(', ')}]`);
    // A reassembled chunked array is fresh already.
    const data = (owned || sd !== given ? sd.data : sd.data.slice()) as Float32Array | Float64Array;
    return t instanceof ShapedArray ? new ShapedArray(data, shape) : data;
  };

  const go = (t: unknown, sd: unknown, field: PathEntry | undefined): unknown => {
    checkDepth(at, root);
    if (t === null || t === undefined) {
      if (sd !== null && !(isDictNode(sd) && Object.keys(sd).length === 0)) fail(`expected nothing, got ${describe(sd)}`);
      return t;
    }
    if (typeof t === 'number' || typeof t === 'boolean' || isArrayLeaf(t)) return leaf(t, sd, field);
    const list = Array.isArray(t);
    if (!list && !isDictNode(t)) return fail(`the template holds ${describe(t)}, which is not part of a state`);
    if (!isDictNode(sd)) return fail(`expected a dict, got ${describe(sd)}`);
    const keys = list ? (t as unknown[]).map((_, i) => String(i)) : Object.keys(t as object);
    const got = Object.keys(sd);
    if (got.length !== keys.length || !keys.every((k) => Object.hasOwn(sd, k))) {
      const want = new Set(keys);
      const missing = keys.filter((k) => !Object.hasOwn(sd, k));
      const extra = got.filter((k) => !want.has(k));
      fail([missing.length ? `missing key(s) ${missing.join(', ')}` : '', extra.length ? `unexpected key(s) ${extra.join(', ')}` : ''].filter(Boolean).join('; '));
    }
    const child = (k: string, i: number): unknown => {
      const entry: PathEntry = list ? i : k;
      at.push(entry);
      try { return go((t as Record<string, unknown>)[k], sd[k], entry); } finally { at.pop(); }
    };
    if (list) return keys.map(child);
    const out: Record<string, unknown> = {};
    keys.forEach((k, i) => setOwn(out, k, child(k, i)));
    return out;
  };
  return go(template, stateDict, path[path.length - 1]) as S;
}

/**
 * Checks that `stateDict` is a state dict (dicts, {@link StateDictArray} leaves and null, nested at most
 * {@link MAX_CHECKPOINT_DEPTH} deep); throws an OptaxError naming the path otherwise.
 *
 * @internal
 */
export function checkStateDict(stateDict: unknown, root = 'state'): void {
  const path: PathEntry[] = [];
  const go = (x: unknown): void => {
    checkDepth(path, root);
    if (x === null || isStateDictArray(x)) return;
    // A chunked array (flax's form of arrays over 1 GiB) holds native msgpack values.
    if (isChunked(x)) {
      const parts = chunkedParts(x);
      if (typeof parts === 'string') throw new OptaxError(parts, path, root);
      return;
    }
    if (!isDictNode(x)) throw new OptaxError(`a state dict holds dicts, StateDictArray leaves and null, got ${describe(x)}`, path, root);
    for (const k of Object.keys(x)) { path.push(k); go(x[k]); path.pop(); }
  };
  go(stateDict);
}

import { OptaxError } from '../core/errors.js';
import { readOptions } from '../core/options.js';
import { type StateDict, StateDictArray, checkDepth, isStateDictArray, restoreFromStateDict, stateDictAt } from '../interop/flax-state-dict.js';
import { setOwn } from '../tree/node.js';
import { ELEMENT_WIDTH, type ElementType, readElements } from '../interop/typed-bytes.js';
import { isArrayLeaf } from '../tree/leaf.js';
import type { PathEntry } from '../tree/path.js';
import { describe, isDictNode } from '../tree/structure.js';
import { type TensorToWrite, parseSafetensors, writeSafetensors } from './safetensors-format.js';
import { tensorName } from './tensor-names.js';

/**
 * Checkpoints as safetensors: params and optimizer state in one file that Python (`safetensors`,
 * numpy, torch) reads. Each array and each number of the state is a tensor named by its tree path
 * (`params.w`, `state.0.count`, `state.0.mu.w`; see {@link tensorName}), in its own dtype: float32 or
 * float64 arrays and hyperparameters (`F32`, `F64`), int32 step counters (`I32`, 0-d), boolean flags
 * (`BOOL`, 0-d). Lists are keyed by index, as flax does. `__metadata__` holds strings only, as the
 * format requires: `format` (`optax-ts/1`), `structure` (the tree as JSON: dicts, lists, `null`, and
 * each tensor's name where it sits, so that empty states and `null` nodes survive) and, when given,
 * `optimizer` (a JSON description of the optimizer).
 *
 * Reading restores into the layout of a template (`{ params, state: tx.init(params) }`): the same
 * checks as {@link fromFlaxBytes} (structure, dtype, whole shape, int32 counts, bool flags), plus the
 * format's own (see safetensors-format.ts); every tensor must be used, and a `structure` that
 * disagrees with the template is rejected. Files without `optax-ts` metadata (written from Python, say)
 * are read by name.
 */

/** Params and optimizer state, as saved together. */
export interface Checkpoint<P = unknown, S = unknown> {
  params: P;
  state: S;
}

/** Options of {@link toSafetensors}. */
export interface ToSafetensorsOptions {
  /**
   * A description of the optimizer, stored as JSON in `__metadata__.optimizer`, e.g. the spec
   * `{ name: 'adamax', args: { learning_rate: 0.01 } }`. Any JSON value; default: none.
   */
  optimizer?: unknown;
  /** The dtype of hyperparameters held as numbers (default: the dtype they were rounded to). */
  floatDtype?: 'float32' | 'float64';
}

/**
 * The format tag {@link toSafetensors} writes in `__metadata__.format`; {@link fromSafetensors} reads
 * files with this tag or without one.
 *
 * @example
 * ```ts
 * import { SAFETENSORS_FORMAT, safetensorsMetadata, toSafetensors } from 'optax-ts';
 * console.log(SAFETENSORS_FORMAT, safetensorsMetadata(toSafetensors({ params: null, state: null })).format); // optax-ts/1 optax-ts/1
 * ```
 */
export const SAFETENSORS_FORMAT = 'optax-ts/1';

const ROOT = 'checkpoint';
const SAFETENSORS_DTYPE: Readonly<Record<ElementType, string>> = { float32: 'F32', float64: 'F64', int32: 'I32', bool: 'BOOL' };
const ELEMENT_TYPE: ReadonlyMap<string, ElementType> = new Map([['F32', 'float32'], ['F64', 'float64'], ['I32', 'int32'], ['BOOL', 'bool']]);

function checkCheckpoint(x: unknown, what: string): asserts x is Checkpoint {
  if (!isDictNode(x) || !Object.hasOwn(x, 'params') || !Object.hasOwn(x, 'state') || Object.keys(x).length !== 2) {
    throw new OptaxError(`${what} must be { params, state }, got ${describe(x)}`);
  }
}

/** The `structure` of a tree: dicts, lists and null as they are, each leaf or number as its tensor name. */
function structureOf(tree: unknown, path: PathEntry[]): unknown {
  checkDepth(path, ROOT);
  if (tree === null || tree === undefined) return null;
  if (typeof tree === 'number' || typeof tree === 'boolean' || isArrayLeaf(tree)) return tensorName(path);
  const at = (k: PathEntry, v: unknown): unknown => { path.push(k); try { return structureOf(v, path); } finally { path.pop(); } };
  if (Array.isArray(tree)) return tree.map((v, i) => at(i, v));
  if (isDictNode(tree)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(tree)) setOwn(out, k, at(k, tree[k]));
    return out;
  }
  throw new OptaxError(`cannot save ${describe(tree)} in a checkpoint`, path, ROOT);
}

/** The state dict's arrays as tensors named by path. */
function collectTensors(sd: StateDict, path: PathEntry[], out: TensorToWrite[]): void {
  if (sd === null) return;
  if (isStateDictArray(sd)) {
    out.push({ name: tensorName(path), dtype: SAFETENSORS_DTYPE[sd.dtype], shape: sd.shape, data: sd.data });
    return;
  }
  for (const k of Object.keys(sd)) { path.push(k); collectTensors(sd[k], path, out); path.pop(); }
}

/** Rejects numbers among the params: params are arrays. */
function checkParams(tree: unknown, path: PathEntry[]): void {
  if (typeof tree === 'number' || typeof tree === 'boolean') throw new OptaxError(`params hold arrays, got ${typeof tree} ${String(tree)}`, path, ROOT);
  if (Array.isArray(tree)) tree.forEach((v, i) => { path.push(i); checkParams(v, path); path.pop(); });
  else if (isDictNode(tree)) for (const k of Object.keys(tree)) { path.push(k); checkParams(tree[k], path); path.pop(); }
}

/**
 * Writes params and optimizer state as a safetensors file (bytes; browsers and Node alike). Counts
 * must be non-negative int32 and flags booleans; an OptaxError names the path of anything that cannot
 * be saved. Nothing passed in is changed.
 *
 * @example
 * ```ts
 * import { adamax, toSafetensors, fromSafetensors } from 'optax-ts';
 * const tx = adamax(0.01);
 * const params = { w: new Float32Array([1, 2]) };
 * const [, state] = tx.update({ w: new Float32Array([0.5, -1]) }, tx.init(params), params);
 * const bytes = toSafetensors({ params, state }, { optimizer: { name: 'adamax', args: { learning_rate: 0.01 } } });
 * const back = fromSafetensors({ params, state: tx.init(params) }, bytes);
 * console.log(back.state[0].count, back.state[0].nu); // 1 { w: Float32Array(2) [ 0.5, 1 ] }
 * ```
 */
export function toSafetensors(checkpoint: Checkpoint, options: ToSafetensorsOptions = {}): Uint8Array {
  options = readOptions('toSafetensors', options, { optimizer: true, floatDtype: true });
  const floatDtype = options.floatDtype;
  if (floatDtype !== undefined && floatDtype !== 'float32' && floatDtype !== 'float64') {
    throw new OptaxError(`toSafetensors: floatDtype must be 'float32' or 'float64', got ${typeof floatDtype === 'string' ? JSON.stringify(floatDtype) : describe(floatDtype)}`);
  }
  checkCheckpoint(checkpoint, 'toSafetensors: the checkpoint');
  const structure = structureOf(checkpoint, []);
  checkParams(checkpoint.params, ['params']);
  const tensors: TensorToWrite[] = [];
  collectTensors(stateDictAt(checkpoint.params, options.floatDtype, ['params'], ROOT, false), ['params'], tensors);
  collectTensors(stateDictAt(checkpoint.state, options.floatDtype, ['state'], ROOT, false), ['state'], tensors);
  const metadata = new Map([['format', SAFETENSORS_FORMAT], ['structure', JSON.stringify(structure)]]);
  if (options.optimizer !== undefined) {
    let json: string | undefined;
    try {
      json = JSON.stringify(options.optimizer);
    } catch (e) {
      throw new OptaxError(`toSafetensors: the optimizer description is not JSON: ${(e as Error).message}`);
    }
    if (typeof json !== 'string') throw new OptaxError(`toSafetensors: the optimizer description is not JSON (${describe(options.optimizer)})`);
    metadata.set('optimizer', json);
  }
  return writeSafetensors(tensors, metadata);
}

/** Checks the file's `structure` against the template's, naming the first path where they differ. */
function checkStructure(file: unknown, want: unknown, path: PathEntry[]): void {
  checkDepth(path, ROOT);
  const fail = (): never => { throw new OptaxError(`the file's structure (${describeStructure(file)}) does not match the template's (${describeStructure(want)})`, path, ROOT); };
  if (want === null || typeof want === 'string') { if (file !== want) fail(); return; }
  if (Array.isArray(want)) {
    if (!Array.isArray(file) || file.length !== want.length) fail();
    want.forEach((w, i) => { path.push(i); checkStructure((file as unknown[])[i], w, path); path.pop(); });
    return;
  }
  if (!isDictNode(file) || Array.isArray(file)) return fail();
  const keys = Object.keys(want as object);
  if (Object.keys(file).length !== keys.length || !keys.every((k) => Object.hasOwn(file, k))) fail();
  for (const k of keys) { path.push(k); checkStructure(file[k], (want as Record<string, unknown>)[k], path); path.pop(); }
}

function describeStructure(s: unknown): string {
  if (typeof s === 'string') return `tensor ${JSON.stringify(s)}`;
  if (Array.isArray(s)) return `a list of ${s.length}`;
  if (isDictNode(s)) return `a dict {${Object.keys(s).slice(0, 8).join(', ')}${Object.keys(s).length > 8 ? ', ...' : ''}}`;
  return s === null ? 'null' : typeof s;
}

/**
 * Restores params and optimizer state from safetensors bytes (any byte view) into the layout of
 * `template` (e.g. `{ params, state: tx.init(params) }`). The file is validated against the format
 * first (header length, UTF-8 JSON, known dtypes, offsets tiling the data buffer, sizes), then against
 * the template (every tensor present and used, dtypes, whole shapes, int32 counts, bool flags, the
 * stored structure). Every rejection is an OptaxError naming the path; the result holds fresh arrays;
 * nothing passed in is changed.
 *
 * @example
 * ```ts
 * import { OptaxError, adamax, toSafetensors, fromSafetensors } from 'optax-ts';
 * const tx = adamax(0.01);
 * const params = { w: new Float32Array(3) };
 * const bytes = toSafetensors({ params, state: tx.init(params) });
 * try {
 *   fromSafetensors({ params: { w: new Float32Array(4) }, state: tx.init({ w: new Float32Array(4) }) }, bytes);
 * } catch (e) {
 *   console.log(e instanceof OptaxError, (e as Error).message); // true checkpoint.params.w: state dict does not fit the state: expected shape [4], got [3]
 * }
 * ```
 */
export function fromSafetensors<C extends Checkpoint>(template: C, bytes: Uint8Array): C {
  checkCheckpoint(template, 'fromSafetensors: the template');
  const file = parseSafetensors(bytes);
  const format = file.metadata?.get('format');
  if (format !== undefined && format !== SAFETENSORS_FORMAT) throw new OptaxError(`safetensors: __metadata__.format is ${JSON.stringify(format)}; this version reads ${SAFETENSORS_FORMAT}`);
  const structureJson = file.metadata?.get('structure');
  if (structureJson !== undefined) {
    let structure: unknown;
    try {
      structure = JSON.parse(structureJson);
    } catch {
      throw new OptaxError('safetensors: __metadata__.structure is not JSON');
    }
    checkStructure(structure, structureOf(template, []), []);
  }
  let used = 0;
  const path: PathEntry[] = [];
  const build = (t: unknown): StateDict => {
    checkDepth(path, ROOT);
    if (t === null || t === undefined) return null;
    if (typeof t === 'number' || typeof t === 'boolean' || isArrayLeaf(t)) {
      const name = tensorName(path);
      const info = file.tensors.get(name);
      if (!info) throw new OptaxError(`the file has no tensor ${JSON.stringify(name)}`, path, ROOT);
      const type = ELEMENT_TYPE.get(info.dtype);
      if (!type) throw new OptaxError(`tensor ${JSON.stringify(name)} is ${info.dtype}; optax-ts stores F32, F64, I32 and BOOL`, path, ROOT);
      used++;
      const data = readElements(bytes, file.dataStart + info.begin, type, (info.end - info.begin) / ELEMENT_WIDTH[type], path, ROOT);
      return new StateDictArray(type, info.shape, data);
    }
    if (!Array.isArray(t) && !isDictNode(t)) throw new OptaxError(`the template holds ${describe(t)}, which is not part of a checkpoint`, path, ROOT);
    const entries: [PathEntry, unknown][] = Array.isArray(t) ? t.map((v, i) => [i, v]) : Object.keys(t).map((k) => [k, t[k]]);
    const out: Record<string, StateDict> = {};
    for (const [k, v] of entries) { path.push(k); setOwn(out, String(k), build(v)); path.pop(); }
    return out;
  };
  const sd = build(template);
  if (used !== file.tensors.size) {
    const wanted = new Set<string>();
    const names = (t: unknown, p: PathEntry[]): void => {
      if (typeof t === 'number' || typeof t === 'boolean' || isArrayLeaf(t)) wanted.add(tensorName(p));
      else if (Array.isArray(t)) t.forEach((v, i) => names(v, [...p, i]));
      else if (isDictNode(t)) for (const k of Object.keys(t)) names(t[k], [...p, k]);
    };
    names(template, []);
    const extra = [...file.tensors.keys()].filter((n) => !wanted.has(n));
    throw new OptaxError(`safetensors: the template has no place for tensor(s) ${extra.slice(0, 5).map((n) => JSON.stringify(n)).join(', ')}${extra.length > 5 ? `, ... (${extra.length})` : ''}`);
  }
  return restoreFromStateDict(template, sd, [], ROOT, true);
}

/**
 * The `__metadata__` of a safetensors file (validated as a whole first), as a plain object of strings;
 * `optimizer` and `structure` are JSON strings.
 *
 * @example
 * ```ts
 * import { adamax, toSafetensors, safetensorsMetadata } from 'optax-ts';
 * const params = { w: new Float32Array(1) };
 * const bytes = toSafetensors({ params, state: adamax(0.01).init(params) }, { optimizer: { name: 'adamax' } });
 * const meta = safetensorsMetadata(bytes);
 * console.log(meta.format, JSON.parse(meta.optimizer).name, meta.structure); // optax-ts/1 adamax {"params":{"w":"params.w"},"state":[{"count":"state.0.count","mu":{"w":"state.0.mu.w"},"nu":{"w":"state.0.nu.w"}},{}]}
 * ```
 */
export function safetensorsMetadata(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of parseSafetensors(bytes).metadata ?? []) setOwn(out, k, v);
  return out;
}

import { OptaxError } from '../core/errors.js';
import { formatPath, type TreePath } from '../tree/path.js';
import { isDictNode } from '../tree/structure.js';
import type { VectorsFile } from './format.js';

/**
 * Checks that parsed JSON is a vectors file in the `adamax-goldens/1` format (conformance/FORMAT.md)
 * before anything runs: the top level, every case's common fields, and the fields each known case
 * kind reads, down to every encoded array (dtype, shape, base64 alphabet, byte count against the shape,
 * all without decoding). A case of an unknown kind is checked for its name and kind only: the runner
 * fails it as unsupported. What a spec means (a transformation's arguments) is the registry's to judge,
 * case by case.
 *
 * Every problem is an {@link OptaxError} naming the file and the JSON path, e.g.
 * `v.json: $.cases[3].steps[0].grads.w.b64: 12 bytes, but shape [4] float64 needs 32`.
 */

/** How deeply trees and argument values may nest in a vectors file. */
export const MAX_FILE_DEPTH = 256;

const FORMAT = 'adamax-goldens/1';
const DTYPES = new Set(['float32', 'float64']);
const ARRAY_DTYPES: Readonly<Record<string, number>> = { float32: 4, float64: 8, int32: 4 };
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

type Fail = (path: TreePath, message: string) => never;

/** What one kind's fields must be. */
type FieldRule = (value: unknown, path: TreePath, fail: Fail) => void;

function kindOf(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'a list';
  if (typeof x === 'object') return 'an object';
  if (typeof x === 'string') return `the string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x)}`;
  return `${typeof x} ${String(x)}`;
}

function dict(value: unknown, path: TreePath, fail: Fail): Record<string, unknown> {
  if (!isDictNode(value)) fail(path, `expected an object, got ${kindOf(value)}`);
  return value as Record<string, unknown>;
}

function list(value: unknown, path: TreePath, fail: Fail, nonEmpty = false): unknown[] {
  if (!Array.isArray(value)) fail(path, `expected a list, got ${kindOf(value)}`);
  if (nonEmpty && (value as unknown[]).length === 0) fail(path, 'expected a non-empty list');
  return value as unknown[];
}

function string(value: unknown, path: TreePath, fail: Fail): string {
  if (typeof value !== 'string') fail(path, `expected a string, got ${kindOf(value)}`);
  return value as string;
}

function int32(value: unknown, path: TreePath, fail: Fail): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -(2 ** 31) || value > 2 ** 31 - 1) fail(path, `expected an int32 integer, got ${kindOf(value)}`);
}

function base64Length(b64: string, path: TreePath, fail: Fail): number {
  if (!BASE64.test(b64)) fail(path, 'not valid base64 (standard alphabet, padded)');
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return (b64.length / 4) * 3 - pad;
}

/** An encoded array: any object with a `$array` key is taken for one. */
function encodedArray(value: Record<string, unknown>, path: TreePath, fail: Fail): void {
  const dtype = value.$array;
  if (typeof dtype !== 'string' || !Object.hasOwn(ARRAY_DTYPES, dtype)) fail([...path, '$array'], `expected "float32", "float64" or "int32", got ${kindOf(dtype)}`);
  const shape = list(value.shape, [...path, 'shape'], fail);
  let size = 1;
  shape.forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) fail([...path, 'shape', i], `expected a dimension (an integer >= 0), got ${kindOf(d)}`);
    size *= d as number;
  });
  const b64 = string(value.b64, [...path, 'b64'], fail);
  const bytes = base64Length(b64, [...path, 'b64'], fail);
  const need = size * ARRAY_DTYPES[dtype as string];
  if (bytes !== need) fail([...path, 'b64'], `${bytes} bytes, but shape [${shape.join(', ')}] ${String(dtype)} needs ${need}`);
  for (const k of Object.keys(value)) if (k !== '$array' && k !== 'shape' && k !== 'b64') fail([...path, k], 'unexpected key in an encoded array');
}

/** A tree of arrays: null, an encoded array, a list or an object of trees. */
function tree(value: unknown, path: TreePath, fail: Fail, depth = 0): void {
  if (depth > MAX_FILE_DEPTH) fail(path, `nested deeper than ${MAX_FILE_DEPTH} levels`);
  if (value === null) return;
  if (Array.isArray(value)) { value.forEach((v, i) => tree(v, [...path, i], fail, depth + 1)); return; }
  if (!isDictNode(value)) fail(path, `expected an array tree (null, an encoded array, a list or an object), got ${kindOf(value)}`);
  const d = value as Record<string, unknown>;
  if (Object.hasOwn(d, '$array')) { encodedArray(d, path, fail); return; }
  for (const k of Object.keys(d)) tree(d[k], [...path, k], fail, depth + 1);
}

/** An argument value: JSON scalars, lists and objects, with every encoded array inside checked. */
function value(v: unknown, path: TreePath, fail: Fail, depth = 0): void {
  if (depth > MAX_FILE_DEPTH) fail(path, `nested deeper than ${MAX_FILE_DEPTH} levels`);
  if (Array.isArray(v)) { v.forEach((x, i) => value(x, [...path, i], fail, depth + 1)); return; }
  if (isDictNode(v)) {
    if (Object.hasOwn(v, '$array')) { encodedArray(v, path, fail); return; }
    for (const k of Object.keys(v)) value(v[k], [...path, k], fail, depth + 1);
  }
}

/** `{name, args?}`: an optax function and its keyword arguments. */
function spec(v: unknown, path: TreePath, fail: Fail): void {
  const s = dict(v, path, fail);
  string(s.name, [...path, 'name'], fail);
  if (s.args !== undefined) value(dict(s.args, [...path, 'args'], fail), [...path, 'args'], fail);
}

const optional = (rule: FieldRule): FieldRule => (v, path, fail) => { if (v !== undefined) rule(v, path, fail); };
const listOf = (rule: FieldRule, nonEmpty = false): FieldRule => (v, path, fail) => list(v, path, fail, nonEmpty).forEach((x, i) => rule(x, [...path, i], fail));
const fields = (rules: Readonly<Record<string, FieldRule>>): FieldRule => (v, path, fail) => {
  const d = dict(v, path, fail);
  for (const [k, rule] of Object.entries(rules)) rule(d[k], [...path, k], fail);
};
const required = (rule: FieldRule): FieldRule => (v, path, fail) => { if (v === undefined) fail(path, 'missing'); rule(v, path, fail); };
const dictOfValues: FieldRule = (v, path, fail) => value(dict(v, path, fail), path, fail);

/** The fields each known case kind reads (FORMAT.md, "Case kinds"). */
const KINDS: Readonly<Record<string, Readonly<Record<string, FieldRule>>>> = {
  trajectory: {
    optimizer: required(spec),
    params: required(tree),
    steps: required(listOf(fields({
      grads: required(tree),
      updates: required(tree),
      params: required(tree),
      state: optional(fields({ count: required(int32), mu: required(tree), nu: required(tree) })),
      hyperparams: optional(dictOfValues),
    }), true)),
    extra_args: optional(dictOfValues),
    initial_count: optional(int32),
    printed: optional(listOf(string)),
  },
  schedule: {
    schedule: required(spec),
    steps: required(listOf(int32, true)),
    values: required(tree),
  },
  torch_adamax: {
    torch_args: required(dictOfValues),
    params: required(listOf(tree)),
    steps: required(listOf(fields({
      grads: required(tree),
      params: required(tree),
      exp_avg: required(tree),
      exp_inf: required(tree),
      step: required(listOf(int32)),
    }), true)),
  },
  flax_msgpack_state: {
    optimizer: required(string),
    msgpack_b64: required((v, path, fail) => base64Length(string(v, path, fail), path, fail)),
    state_dict: required(tree),
  },
};

/**
 * Validates a parsed vectors file (see the file comment) and returns it typed. `source` (the file's
 * name) starts every message.
 */
export function checkVectorsFile(data: unknown, source: string): VectorsFile {
  const fail: Fail = (path, message) => { throw new OptaxError(`${source}: ${formatPath(path, '$')}: ${message}`); };
  if (!isDictNode(data)) fail([], `not a conformance vectors file: expected an object with "format": "${FORMAT}", got ${kindOf(data)}`);
  const f = data as Record<string, unknown>;
  if (f.format !== FORMAT) fail(['format'], `expected "${FORMAT}", got ${f.format === undefined ? 'nothing' : kindOf(f.format)}`);
  if (f.set !== undefined) string(f.set, ['set'], fail);
  if (f.dtype !== undefined && !DTYPES.has(f.dtype as string)) fail(['dtype'], `expected "float32" or "float64", got ${kindOf(f.dtype)}`);
  const cases = list(f.cases, ['cases'], fail);
  if (cases.length === 0) fail(['cases'], 'the file has no cases');
  cases.forEach((c, i) => {
    const at: TreePath = ['cases', i];
    const d = dict(c, at, fail);
    if (string(d.name, [...at, 'name'], fail) === '') fail([...at, 'name'], 'expected a non-empty name');
    const kind = string(d.kind, [...at, 'kind'], fail);
    if (d.dtype !== undefined && !DTYPES.has(d.dtype as string)) fail([...at, 'dtype'], `expected "float32" or "float64", got ${kindOf(d.dtype)}`);
    const rules = Object.hasOwn(KINDS, kind) ? KINDS[kind] : undefined;
    if (rules) for (const [k, rule] of Object.entries(rules)) rule(d[k], [...at, k], fail);
  });
  return data as unknown as VectorsFile;
}

/**
 * Test helper: reads the conformance vectors (conformance/public_f32.json, public_f64.json), decodes
 * their arrays, and runs the trajectory protocol of conformance/FORMAT.md, comparing bit for bit.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ShapedArray } from '../../src/tree/leaf.js';
import { isDictNode } from '../../src/tree/structure.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import { applyUpdates } from '../../src/transforms/apply-updates.js';

export type Mode = 'f32' | 'f64';

interface EncodedArray { $array: string; shape: number[]; b64: string }

const isEncoded = (x: unknown): x is EncodedArray => isDictNode(x) && typeof x.$array === 'string' && typeof x.b64 === 'string';

/** Decodes one array: ≥2-d (and 0-d) arrays become ShapedArray, 1-d ones plain typed arrays. */
export function decodeArray(e: EncodedArray): Float32Array | Float64Array | ShapedArray | Int32Array {
  const bytes = Buffer.from(e.b64, 'base64');
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  if (e.$array === 'int32') return new Int32Array(buf);
  const data = e.$array === 'float64' ? new Float64Array(buf) : new Float32Array(buf);
  return e.shape.length === 1 ? data : new ShapedArray(data, e.shape);
}

/** Decodes a tree of encoded arrays; everything else is kept. */
export function decode(x: unknown): any {
  if (x === null) return null;
  if (isEncoded(x)) return decodeArray(x);
  if (Array.isArray(x)) return x.map(decode);
  if (isDictNode(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, decode(v)]));
  return x;
}

const cache = new Map<Mode, any>();

/** The raw case named `name` from the vectors of `mode`. */
export function vectorCase(mode: Mode, name: string): any {
  if (!cache.has(mode)) {
    const path = fileURLToPath(new URL(`../../conformance/public_${mode}.json`, import.meta.url));
    cache.set(mode, JSON.parse(readFileSync(path, 'utf8')));
  }
  const c = cache.get(mode).cases.find((k: any) => k.name === name);
  if (!c) throw new Error(`no case ${name} in public_${mode}.json`);
  return c;
}

/** The leaves of a tree as [path, data] pairs (keys sorted). */
function leaves(tree: unknown, path = ''): [string, Float32Array | Float64Array][] {
  if (tree === null) return [];
  if (tree instanceof ShapedArray) return [[path, tree.data]];
  if (tree instanceof Float32Array || tree instanceof Float64Array) return [[path, tree]];
  if (Array.isArray(tree)) return tree.flatMap((t, i) => leaves(t, `${path}[${i}]`));
  if (isDictNode(tree)) return Object.keys(tree).sort().flatMap((k) => leaves(tree[k], `${path}.${k}`));
  throw new Error(`unexpected tree node ${String(tree)}`);
}

/** Bit equality; NaN matches NaN; a reference 0 matches a subnormal (XLA flushes them). */
function sameValue(a: number, b: number, f32: boolean): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (Object.is(a, b)) return true;
  const tiny = f32 ? 1.1754943508222875e-38 : 2.2250738585072014e-308;
  return b === 0 && a !== 0 && Math.abs(a) < tiny;
}

/** The first mismatch between two trees, or undefined when they agree bit for bit. */
export function firstMismatch(actual: unknown, expected: unknown, what: string): string | undefined {
  const a = leaves(actual), e = leaves(expected);
  if (a.length !== e.length) return `${what}: ${a.length} leaves, expected ${e.length}`;
  for (let i = 0; i < a.length; i++) {
    const [pa, da] = a[i], [pe, de] = e[i];
    if (pa !== pe) return `${what}: leaf ${pa}, expected ${pe}`;
    if (da.constructor !== de.constructor) return `${what}${pa}: ${da.constructor.name}, expected ${de.constructor.name}`;
    if (da.length !== de.length) return `${what}${pa}: length ${da.length}, expected ${de.length}`;
    for (let j = 0; j < da.length; j++) {
      if (!sameValue(da[j], de[j], da instanceof Float32Array)) return `${what}${pa}[${j}]: ${da[j]}, expected ${de[j]}`;
    }
  }
  return undefined;
}

/**
 * Runs a trajectory case with `tx`: `state = init(params)`; per step apply `hyperparams` (with
 * `setHyperparams`), update, applyUpdates, and compare updates and params. Returns the first
 * mismatch, or undefined.
 */
export function runCase(mode: Mode, name: string, tx: GradientTransformation<any>, setHyperparams?: (s: any, v: Record<string, unknown>) => any): string | undefined {
  const c = vectorCase(mode, name);
  let params = decode(c.params);
  let state = tx.init(params);
  const extra = c.extra_args === undefined ? undefined : decode(c.extra_args);
  for (let k = 0; k < c.steps.length; k++) {
    const step = c.steps[k];
    if (step.hyperparams) {
      if (!setHyperparams) throw new Error('this case needs setHyperparams');
      state = setHyperparams(state, decode(step.hyperparams));
    }
    const [updates, next] = tx.update(decode(step.grads), state, params, extra);
    state = next;
    params = applyUpdates(params, updates);
    const bad = firstMismatch(updates, decode(step.updates), `step[${k}].updates`) ?? firstMismatch(params, decode(step.params), `step[${k}].params`);
    if (bad) return `${name} (${mode}): ${bad}`;
  }
  return undefined;
}

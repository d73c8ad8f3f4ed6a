import type { Dtype } from '../core/dtype.js';
import { ShapedArray } from '../tree/leaf.js';
import { isDictNode } from '../tree/structure.js';

/**
 * The conformance vectors' file format (`adamax-goldens/1`, see conformance/FORMAT.md): JSON with array
 * leaves stored as base64 little-endian bytes, so NaN payloads, -0 and subnormals survive exactly.
 */

/** An encoded array leaf. */
export interface EncodedArray {
  readonly $array: 'float32' | 'float64' | 'int32';
  readonly shape: readonly number[];
  readonly b64: string;
}

/** An optimizer or schedule spec: optax's function name and its keyword arguments (snake_case). */
export interface Spec {
  readonly name: string;
  readonly args?: Readonly<Record<string, unknown>>;
}

/** A vectors file. */
export interface VectorsFile {
  readonly format: string;
  readonly set?: string;
  readonly dtype?: Dtype;
  readonly generator?: string;
  readonly cases: readonly VectorCase[];
}

/** One case; `kind` says how to run it. */
export interface VectorCase {
  readonly name: string;
  readonly kind: string;
  readonly dtype?: Dtype;
  readonly [key: string]: unknown;
}

/** True for an encoded array leaf. */
export function isEncodedArray(x: unknown): x is EncodedArray {
  return isDictNode(x) && typeof x.$array === 'string' && typeof x.b64 === 'string' && Array.isArray(x.shape);
}

function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Decodes an array leaf. 1-d float arrays become plain typed arrays; other shapes become ShapedArray
 * (broadcasting needs the shape). int32 arrays decode to an Int32Array.
 */
export function decodeArray(e: EncodedArray): Float32Array | Float64Array | ShapedArray | Int32Array {
  const bytes = base64Bytes(e.b64);
  const size = e.shape.reduce((a, b) => a * b, 1);
  const width = e.$array === 'float64' ? 8 : 4;
  if (bytes.length !== size * width) throw new Error(`array of shape [${e.shape.join(', ')}] ${e.$array} needs ${size * width} bytes, got ${bytes.length}`);
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  // The files are little-endian; so is every platform JS runs on in practice (checked once below).
  if (!LITTLE_ENDIAN) throw new Error('conformance vectors need a little-endian platform');
  if (e.$array === 'int32') return new Int32Array(buf);
  const data = e.$array === 'float64' ? new Float64Array(buf) : new Float32Array(buf);
  return e.shape.length === 1 ? data : new ShapedArray(data, e.shape);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Decodes a tree: encoded arrays become leaves; dicts, lists and null are kept. */
export function decodeTree(x: unknown): any {
  if (x === null) return null;
  if (isEncodedArray(x)) return decodeArray(x);
  if (Array.isArray(x)) return x.map(decodeTree);
  if (isDictNode(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, decodeTree(v)]));
  return x;
}

import { OptaxError } from '../core/errors.js';
import { ShapedArray, isArrayLeaf, leafData, leafShape } from '../tree/leaf.js';
import { isDictNode } from '../tree/structure.js';

/**
 * Arrays inside JSON, as the conformance vectors store them (`adamax-goldens/1`, conformance/FORMAT.md):
 * `{"$array": dtype, "shape": [...], "b64": base64 of the little-endian bytes}`, so that NaN payloads,
 * -0 and subnormals survive exactly. Specs ({@link toSpec}) and the vectors share it.
 */

/** An encoded array leaf. */
export interface EncodedArray {
  readonly $array: 'float32' | 'float64' | 'int32';
  readonly shape: readonly number[];
  readonly b64: string;
}

/** True for an encoded array leaf. */
export function isEncodedArray(x: unknown): x is EncodedArray {
  return isDictNode(x) && typeof x.$array === 'string' && typeof x.b64 === 'string' && Array.isArray(x.shape);
}

const WIDTH: Readonly<Record<string, number>> = { float32: 4, float64: 8, int32: 4 };

// The encoding is little-endian; so is every platform JS runs on in practice (checked once here).
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function base64Bytes(b64: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    // atob throws a DOMException (not an OptaxError) on a character outside the alphabet.
    throw new OptaxError('encoded array: b64 is not valid base64');
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesBase64(bytes: Uint8Array): string {
  let bin = '';
  // In chunks: String.fromCharCode's argument count is bounded.
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/**
 * Decodes an array leaf. 1-d float arrays become plain typed arrays; other shapes become ShapedArray
 * (broadcasting needs the shape). int32 arrays decode to an Int32Array. The byte count must match the
 * shape exactly, which bounds what a hostile shape can make this allocate to what the text holds.
 */
export function decodeArray(e: EncodedArray): Float32Array | Float64Array | ShapedArray | Int32Array {
  const width = Object.hasOwn(WIDTH, e.$array) ? WIDTH[e.$array] : undefined;
  if (width === undefined) throw new OptaxError(`encoded array: unknown dtype ${JSON.stringify(e.$array)} (float32, float64 or int32)`);
  if (!e.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || e.shape.length > 32) throw new OptaxError(`encoded array: shape must be at most 32 non-negative integers, got ${JSON.stringify(e.shape)}`);
  const size = e.shape.reduce((a, b) => a * b, 1);
  if (e.b64.length > 4 * Math.ceil((size * width) / 3) + 4) throw new OptaxError(`encoded array of shape [${e.shape.join(', ')}] ${e.$array}: too much data`);
  const bytes = base64Bytes(e.b64);
  if (bytes.length !== size * width) throw new OptaxError(`encoded array of shape [${e.shape.join(', ')}] ${e.$array} needs ${size * width} bytes, got ${bytes.length}`);
  if (!LITTLE_ENDIAN) throw new OptaxError('encoded arrays need a little-endian platform');
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  if (e.$array === 'int32') return new Int32Array(buf);
  const data = e.$array === 'float64' ? new Float64Array(buf) : new Float32Array(buf);
  return e.shape.length === 1 ? data : new ShapedArray(data, e.shape);
}

/** Encodes an array leaf (the inverse of {@link decodeArray}), bit for bit. */
export function encodeArray(leaf: Float32Array | Float64Array | ShapedArray | Int32Array): EncodedArray {
  if (!LITTLE_ENDIAN) throw new OptaxError('encoded arrays need a little-endian platform');
  const data = leaf instanceof Int32Array ? leaf : leafData(leaf);
  const shape = leaf instanceof Int32Array ? [leaf.length] : [...leafShape(leaf)];
  const $array = data instanceof Float64Array ? 'float64' : data instanceof Int32Array ? 'int32' : 'float32';
  return { $array, shape, b64: bytesBase64(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) };
}

/** Decodes a tree: encoded arrays become leaves; dicts, lists and null are kept. */
export function decodeTree(x: unknown): any {
  if (x === null) return null;
  if (isEncodedArray(x)) return decodeArray(x);
  if (Array.isArray(x)) return x.map(decodeTree);
  if (isDictNode(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, decodeTree(v)]));
  return x;
}

/** Encodes a tree's array leaves (the inverse of {@link decodeTree}). */
export function encodeTree(x: unknown): unknown {
  if (isArrayLeaf(x) || x instanceof Int32Array) return encodeArray(x);
  if (Array.isArray(x)) return x.map(encodeTree);
  if (isDictNode(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, encodeTree(v)]));
  return x;
}

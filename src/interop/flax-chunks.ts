import { type StateDict, StateDictArray, isStateDictArray } from './flax-state-dict.js';
import { ELEMENT_WIDTH, allocateElements, shapeSize } from './typed-bytes.js';
import { describe, isDictNode } from '../tree/structure.js';

/**
 * flax's chunked arrays. msgpack cannot hold an object of 2^31 bytes or more, so
 * `flax.serialization.msgpack_serialize` writes an array of more than `MAX_CHUNK_SIZE` (2^30) bytes as
 * `{__msgpack_chunked_array__: True, shape: {"0": d0, ...}, chunks: {"0": flat chunk, ...}}`, each chunk
 * `2^30 / itemsize` elements of the flattened array (the last one shorter), the flag and the
 * dimensions as native msgpack values. optax-ts writes large arrays the same way and reads them back.
 *
 * @internal
 */

const FLAG = '__msgpack_chunked_array__';
/** flax's MAX_CHUNK_SIZE. */
const FLAX_MAX_CHUNK_BYTES = 2 ** 30;
let maxChunkBytes = FLAX_MAX_CHUNK_BYTES;

/** Sets the chunk size, as flax's own tests do (`serialization.MAX_CHUNK_SIZE = 91 * 8`); undefined restores flax's. For tests. */
export function setMaxChunkBytesForTesting(bytes: number | undefined): void {
  maxChunkBytes = bytes ?? FLAX_MAX_CHUNK_BYTES;
}

/** The array as flax writes it: itself, or chunked when it has more than flax's chunk size in bytes. */
export function maybeChunked(a: StateDictArray): StateDict {
  const width = ELEMENT_WIDTH[a.dtype];
  if (a.data.length * width <= maxChunkBytes) return a;
  const per = Math.max(1, Math.floor(maxChunkBytes / width));
  const chunks: Record<string, StateDict> = {};
  for (let i = 0, k = 0; i < a.data.length; i += per, k++) {
    const part = a.data.subarray(i, Math.min(i + per, a.data.length));
    chunks[String(k)] = new StateDictArray(a.dtype, [part.length], part);
  }
  // The flag and the dimensions are native msgpack values in flax's bytes (Python's True and ints).
  const shape = Object.fromEntries(a.shape.map((d, i) => [String(i), d]));
  return { [FLAG]: true, shape, chunks } as unknown as StateDict;
}

/** True when `sd` is a chunked array (a dict with flax's flag key). */
export function isChunked(sd: unknown): sd is Record<string, unknown> {
  return isDictNode(sd) && Object.hasOwn(sd, FLAG);
}

/** The keys "0".."n-1" of a dict in order, or undefined when it has other keys. */
function indexKeys(d: Record<string, unknown>): string[] | undefined {
  const keys = Object.keys(d);
  return keys.every((_, i) => Object.hasOwn(d, String(i))) ? keys.map((_, i) => String(i)) : undefined;
}

/** A dimension or the flag: a native value (as written) or a 0-d array (as decoded). */
function nativeValue(x: unknown, dtype: 'int32' | 'bool'): number | boolean | undefined {
  if (isStateDictArray(x)) return x.dtype === dtype && x.shape.length === 0 ? (dtype === 'bool' ? x.data[0] === 1 : x.data[0]) : undefined;
  if (dtype === 'bool') return x === true ? true : undefined;
  return typeof x === 'number' && Number.isSafeInteger(x) ? x : undefined;
}

/** The parts of a chunked array, checked; a reason when it is malformed. */
export function chunkedParts(sd: Record<string, unknown>): { shape: number[]; parts: StateDictArray[] } | string {
  const keys = Object.keys(sd);
  if (keys.length !== 3 || !Object.hasOwn(sd, 'shape') || !Object.hasOwn(sd, 'chunks')) return `a chunked array must be {${FLAG}, shape, chunks}, got {${keys.join(', ')}}`;
  if (nativeValue(sd[FLAG], 'bool') !== true) return `${FLAG} must be True`;
  const { shape: shapeDict, chunks } = sd;
  if (!isDictNode(shapeDict) || !isDictNode(chunks)) return `a chunked array's shape and chunks must be dicts, got ${describe(shapeDict)} and ${describe(chunks)}`;
  const dimKeys = indexKeys(shapeDict), chunkKeys = indexKeys(chunks);
  if (!dimKeys || !chunkKeys) return "a chunked array's shape and chunks must be keyed 0, 1, ...";
  const shape: number[] = [];
  for (const k of dimKeys) {
    const d = nativeValue(shapeDict[k], 'int32');
    if (typeof d !== 'number' || d < 0) return `a chunked array's shape.${k} must be a non-negative integer, got ${describe(shapeDict[k])}`;
    shape.push(d);
  }
  const parts: StateDictArray[] = [];
  for (const k of chunkKeys) {
    const c = chunks[k];
    if (!isStateDictArray(c) || c.shape.length !== 1) return `chunk ${k} must be a 1-d array, got ${describe(c)}`;
    if (parts.length && c.dtype !== parts[0].dtype) return `chunk ${k} is ${c.dtype}, chunk 0 is ${parts[0].dtype}`;
    parts.push(c);
  }
  if (parts.length === 0) return 'a chunked array has no chunks';
  const total = parts.reduce((n, p) => n + p.data.length, 0);
  if (shapeSize(shape) !== total) return `chunks of ${total} elements in all do not fill shape [${shape.join(', ')}]`;
  return { shape, parts };
}

/** Reassembles a chunked array into one fresh array; returns a reason instead when it is malformed. */
export function unchunk(sd: Record<string, unknown>): StateDictArray | string {
  const read = chunkedParts(sd);
  if (typeof read === 'string') return read;
  const { shape, parts } = read;
  const out = allocateElements(parts[0].dtype, parts.reduce((n, p) => n + p.data.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p.data as never, at); at += p.data.length; }
  return new StateDictArray(parts[0].dtype, shape, out);
}

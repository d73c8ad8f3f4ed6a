import { OptaxError } from '../core/errors.js';
import type { TreePath } from '../tree/path.js';

/**
 * Checkpoint arrays as little-endian bytes, both ways. Decoding always copies into a fresh, aligned
 * typed array: a `Buffer` from Node's shared pool, a `subarray` or a view at an odd offset decodes
 * exactly its own bytes, and nothing decoded aliases memory outside them (a decoded array that
 * spanned the pool would carry unrelated process memory into the next checkpoint written from it).
 *
 * @internal
 */

/** The element types checkpoints hold. */
export type ElementType = 'float32' | 'float64' | 'int32' | 'bool';

/** The typed array of each element type. */
export type ElementArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** Bytes per element. */
export const ELEMENT_WIDTH: Readonly<Record<ElementType, number>> = { float32: 4, float64: 8, int32: 4, bool: 1 };

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A fresh zeroed array of `type`. */
export function allocateElements(type: ElementType, length: number): ElementArray {
  switch (type) {
    case 'float32': return new Float32Array(length);
    case 'float64': return new Float64Array(length);
    case 'int32': return new Int32Array(length);
    case 'bool': return new Uint8Array(length);
  }
}

/** The element type of a typed array, or undefined for any other value. */
export function elementTypeOf(data: unknown): ElementType | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'bool';
  return undefined;
}

/** Reverses the byte order of each `width`-byte element, in place. */
function swapEach(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/**
 * Copies `length` elements of `type` from `bytes` at `offset` (little-endian) into a fresh array.
 * The caller has checked the bounds; this checks them again, as an OptaxError naming `path`.
 */
export function readElements(bytes: Uint8Array, offset: number, type: ElementType, length: number, path: TreePath, root: string): ElementArray {
  const width = ELEMENT_WIDTH[type];
  const byteLength = length * width;
  if (!Number.isSafeInteger(byteLength) || offset < 0 || offset + byteLength > bytes.length) {
    throw new OptaxError(`${length} ${type} elements do not fit in the ${bytes.length} bytes given`, path, root);
  }
  const out = allocateElements(type, length);
  const target = new Uint8Array(out.buffer);
  target.set(bytes.subarray(offset, offset + byteLength));
  if (!LITTLE_ENDIAN && width > 1) swapEach(target, width);
  return out;
}

/** The little-endian bytes of a typed array (a view when the platform is little-endian). */
export function elementBytes(data: ElementArray): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return view;
  const copy = view.slice();
  swapEach(copy, data.BYTES_PER_ELEMENT);
  return copy;
}

/** The number of elements of a shape, or undefined when a dimension is not a non-negative safe integer or the product is not safe. */
export function shapeSize(shape: readonly unknown[]): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
    if (!Number.isSafeInteger(n)) return undefined;
  }
  return n;
}

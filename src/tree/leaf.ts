import { type Dtype, type FloatArray, dtypeOfArray } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { describe, hasOwn, intrinsicLength } from './node.js';

/** The most dimensions a {@link ShapedArray} may have (as in XLA, whose rank limit is far above any real array's). */
const MAX_RANK = 64;


/**
 * A typed array with an explicit shape (row-major), for leaves where the shape matters: broadcasting an
 * array hyperparameter against a leaf (numpy rules), or keeping a leaf's shape through the optimizer.
 * A plain `Float32Array` / `Float64Array` leaf has the 1-d shape `[length]`.
 *
 * @example
 * ```ts
 * import { ShapedArray } from 'optax-ts';
 * const w = new ShapedArray(new Float32Array(6), [2, 3]);
 * console.log(w.shape, w.size, w.dtype); // [ 2, 3 ] 6 float32
 * ```
 */
export class ShapedArray<A extends FloatArray = FloatArray> {
  /** The elements, row-major. */
  readonly data: A;
  /** The dimensions; `[]` for a scalar (0-d) array. */
  readonly shape: readonly number[];

  /** Set only by the constructor: tells a real ShapedArray from an object built on its prototype. */
  readonly #checked = true;

  /**
   * @param data - the elements: a `Float32Array` or `Float64Array` (other typed arrays, plain arrays,
   *   bigints or strings throw an {@link OptaxError}).
   * @param shape - non-negative integer dimensions whose product is `data.length`.
   */
  constructor(data: A, shape: readonly number[]) {
    if (!(data instanceof Float32Array || data instanceof Float64Array)) {
      throw new OptaxError(`ShapedArray: data must be a Float32Array or Float64Array, got ${describe(data)}`);
    }
    if (!Array.isArray(shape) || shape.length > MAX_RANK) {
      throw new OptaxError(`ShapedArray: shape must be a list of at most ${MAX_RANK} dimensions, got ${describe(shape)}`);
    }
    const dims = Array.from(shape, (d) => d);
    let size = 1;
    for (const d of dims) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
        throw new OptaxError(`ShapedArray: shape must be non-negative integers, got [${dims.map((v) => describe(v)).join(', ')}]`);
      }
      size *= d;
    }
    if (size !== intrinsicLength(data) || hasOwn(data, 'length')) {
      throw new OptaxError(`ShapedArray: shape [${dims.join(', ')}] holds ${size} elements but data has ${intrinsicLength(data)}`);
    }
    this.data = data;
    this.shape = Object.freeze(dims);
    Object.freeze(this);
  }

  /** True only for objects made by the constructor (not for `Object.create(ShapedArray.prototype)`). */
  static isShapedArray(x: unknown): x is ShapedArray {
    return typeof x === 'object' && x !== null && #checked in x;
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** Element type. */
  get dtype(): Dtype {
    return dtypeOfArray(this.data);
  }
}

/** A leaf of a parameter, gradient or state tree. */
export type ArrayLeaf = FloatArray | ShapedArray;

/**
 * True for the array leaves optax-ts computes on: `Float32Array`, `Float64Array` and {@link ShapedArray}.
 *
 * @example
 * ```ts
 * import { isArrayLeaf, ShapedArray } from 'optax-ts';
 * const shaped = new ShapedArray(new Float32Array(4), [2, 2]);
 * console.log(isArrayLeaf(new Float64Array(1)), isArrayLeaf(shaped), isArrayLeaf([1, 2]), isArrayLeaf(new Int32Array(1))); // true true false false
 * ```
 */
export function isArrayLeaf(x: unknown): x is ArrayLeaf {
  return x instanceof Float32Array || x instanceof Float64Array || x instanceof ShapedArray;
}

/**
 * The elements of a leaf (the typed array itself, or a {@link ShapedArray}'s `data`).
 *
 * @example
 * ```ts
 * import { leafData, ShapedArray } from 'optax-ts';
 * const w = new ShapedArray(new Float32Array([1, 2, 3, 4]), [2, 2]);
 * console.log(leafData(w), leafData(new Float64Array([5]))); // Float32Array(4) [ 1, 2, 3, 4 ] Float64Array(1) [ 5 ]
 * ```
 */
export function leafData(leaf: ArrayLeaf): FloatArray {
  if (leaf instanceof ShapedArray) return leaf.data;
  if (leaf instanceof Float32Array || leaf instanceof Float64Array) return leaf;
  throw new OptaxError(`expected an array leaf (Float32Array, Float64Array or ShapedArray), got ${describe(leaf)}`);
}

/**
 * The shape of a leaf (`[length]` for a plain typed array).
 *
 * @example
 * ```ts
 * import { leafShape, ShapedArray } from 'optax-ts';
 * console.log(leafShape(new ShapedArray(new Float32Array(6), [2, 3])), leafShape(new Float64Array(4))); // [ 2, 3 ] [ 4 ]
 * ```
 */
export function leafShape(leaf: ArrayLeaf): readonly number[] {
  return leaf instanceof ShapedArray ? leaf.shape : [leafData(leaf).length];
}

/**
 * The dtype of a leaf.
 *
 * @example
 * ```ts
 * import { leafDtype, ShapedArray } from 'optax-ts';
 * console.log(leafDtype(new Float32Array(1)), leafDtype(new ShapedArray(new Float64Array(4), [2, 2]))); // float32 float64
 * ```
 */
export function leafDtype(leaf: ArrayLeaf): Dtype {
  return dtypeOfArray(leafData(leaf));
}

/**
 * A new leaf of the same form (plain or shaped, same shape) as `like`, holding `data`.
 *
 * @example
 * ```ts
 * import { leafLike, ShapedArray } from 'optax-ts';
 * const like = new ShapedArray(new Float32Array(4), [2, 2]);
 * console.log(leafLike(like, new Float32Array([1, 2, 3, 4]))); // ShapedArray { data: Float32Array(4) [ 1, 2, 3, 4 ], shape: [ 2, 2 ] }
 * console.log(leafLike(new Float32Array(2), new Float32Array([5, 6]))); // Float32Array(2) [ 5, 6 ]
 * ```
 */
export function leafLike(like: ArrayLeaf, data: FloatArray): ArrayLeaf {
  return like instanceof ShapedArray ? new ShapedArray(data, like.shape) : leafData(data);
}

/** What must match between two leaves: dtype, element count, shape, and whether the shape is explicit. @internal */
export interface LeafSpec {
  readonly dtype: Dtype;
  readonly length: number;
  readonly shape: readonly number[];
  /** True for a {@link ShapedArray}: two shaped leaves must have equal shapes, otherwise equal lengths. */
  readonly shaped: boolean;
}

/** The {@link LeafSpec} of a leaf. @internal */
export function leafSpec(leaf: ArrayLeaf): LeafSpec {
  return { dtype: leafDtype(leaf), length: leafData(leaf).length, shape: leafShape(leaf), shaped: leaf instanceof ShapedArray };
}

/**
 * What differs between two leaves that must match (dtype first, then shape), or undefined when they
 * match. A plain typed array matches any shape of its length; two ShapedArrays must have equal shapes
 * (`exact` requires equal shapes in every case). The message names what actually differs, e.g.
 * `shape mismatch: grads leaf has shape [2], state.mu leaf has shape [3]`. @internal
 */
export function leafMismatch(a: LeafSpec, aName: string, b: LeafSpec, bName: string, exact = false): string | undefined {
  if (a.dtype !== b.dtype) return `dtype mismatch: ${aName} leaf is ${a.dtype}, ${bName} leaf is ${b.dtype}`;
  const sameShape = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
  const matches = exact || (a.shaped && b.shaped) ? sameShape && a.length === b.length : a.length === b.length;
  if (matches) return undefined;
  if (sameShape) return `size mismatch: ${aName} leaf has ${a.length} elements, ${bName} leaf has ${b.length}`;
  return `shape mismatch: ${aName} leaf has shape [${a.shape.join(', ')}], ${bName} leaf has shape [${b.shape.join(', ')}]`;
}

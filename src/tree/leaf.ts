import { type Dtype, type FloatArray, dtypeOfArray } from '../core/dtype.js';

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

  constructor(data: A, shape: readonly number[]) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new TypeError(`ShapedArray: shape must be non-negative integers, got [${shape.join(', ')}]`);
    }
    if (size !== data.length) {
      throw new TypeError(`ShapedArray: shape [${shape.join(', ')}] holds ${size} elements but data has ${data.length}`);
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
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
  return leaf instanceof ShapedArray ? leaf.data : leaf;
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
  return leaf instanceof ShapedArray ? leaf.shape : [leaf.length];
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
  return like instanceof ShapedArray ? new ShapedArray(data, like.shape) : data;
}

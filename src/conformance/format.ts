import type { Dtype } from '../core/dtype.js';
export type { Spec } from '../spec/spec.js';
export { type EncodedArray, isEncodedArray, decodeArray, decodeTree } from '../spec/encoding.js';

/**
 * The conformance vectors' file format (`adamax-goldens/1`, see conformance/FORMAT.md): JSON with array
 * leaves stored as base64 little-endian bytes, so NaN payloads, -0 and subnormals survive exactly.
 */

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

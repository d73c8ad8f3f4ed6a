import { Decoder, Encoder, ExtensionCodec } from '@msgpack/msgpack';
import { OptaxError } from '../core/errors.js';
import { type StateDict, StateDictArray, fromFlaxStateDict, isStateDictArray, toFlaxStateDict } from './flax-state-dict.js';

/**
 * flax's msgpack checkpoint format (`flax.serialization.to_bytes` / `from_bytes`): the state dict as a
 * msgpack map, each array an extension of type 1 holding msgpack `[shape, dtype name, raw bytes]`
 * (little-endian). optax-ts writes the same bytes flax writes for the same state, so checkpoints move
 * between the two both ways.
 */

const NDARRAY_EXT = 1;
const WIDTH = { float32: 4, float64: 8, int32: 4, bool: 1 } as const;

function arrayBytes(a: StateDictArray): Uint8Array {
  return new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
}

function decodeNdarray(data: Uint8Array): StateDictArray {
  const [shape, dtype, raw] = new Decoder().decode(data) as [number[], string, Uint8Array];
  if (!(dtype in WIDTH)) throw new OptaxError(`flax msgpack: unsupported dtype '${dtype}'`);
  const size = shape.reduce((a, b) => a * b, 1);
  const width = WIDTH[dtype as keyof typeof WIDTH];
  if (raw.byteLength !== size * width) throw new OptaxError(`flax msgpack: array of shape [${shape.join(', ')}] ${dtype} has ${raw.byteLength} bytes`);
  const buf = raw.slice().buffer;
  const typed = dtype === 'float32' ? new Float32Array(buf) : dtype === 'float64' ? new Float64Array(buf) : dtype === 'int32' ? new Int32Array(buf) : new Uint8Array(buf);
  return new StateDictArray(dtype as StateDictArray['dtype'], shape, typed);
}

const codec = new ExtensionCodec();
codec.register({
  type: NDARRAY_EXT,
  encode: (x: unknown) => (isStateDictArray(x) ? new Encoder().encode([[...x.shape], x.dtype, arrayBytes(x)]) : null),
  decode: (data: Uint8Array) => decodeNdarray(data),
});

/**
 * Encodes a state dict as flax's msgpack bytes (what `flax.serialization.msgpack_serialize` writes).
 *
 * @example
 * ```ts
 * import { encodeFlaxStateDict, decodeFlaxStateDict, StateDictArray } from 'optax-ts';
 * const bytes = encodeFlaxStateDict({ count: new StateDictArray('int32', [], new Int32Array([3])) });
 * const back = decodeFlaxStateDict(bytes) as { count: StateDictArray };
 * console.log(bytes.length, back.count.dtype, back.count.data[0]); // 24 int32 3
 * ```
 */
export function encodeFlaxStateDict(stateDict: StateDict): Uint8Array {
  return new Encoder({ extensionCodec: codec }).encode(stateDict);
}

/**
 * Decodes flax's msgpack bytes to a state dict (arrays become {@link StateDictArray}).
 *
 * @example
 * ```ts
 * import { adamax, toFlaxBytes, decodeFlaxStateDict } from 'optax-ts';
 * const bytes = toFlaxBytes(adamax(0.01).init({ w: new Float32Array(3) }));
 * const sd = decodeFlaxStateDict(bytes) as any;
 * console.log(sd['0'].mu.w.dtype, sd['0'].mu.w.shape); // float32 [ 3 ]
 * ```
 */
export function decodeFlaxStateDict(bytes: Uint8Array): StateDict {
  return new Decoder({ extensionCodec: codec }).decode(bytes) as StateDict;
}

/**
 * Serializes an optax-ts state exactly as `flax.serialization.to_bytes` serializes the same optax state.
 *
 * @param floatDtype - dtype for hyperparameters kept as numbers (`float32`, JAX's default mode).
 *
 * @example
 * ```ts
 * import { adamax, toFlaxBytes, fromFlaxBytes } from 'optax-ts';
 * const tx = adamax(0.01);
 * const state = tx.init({ w: new Float32Array([1, 2]) });
 * const bytes = toFlaxBytes(state);
 * console.log(bytes.length, fromFlaxBytes(state, bytes)[0].count); // 90 0
 * ```
 */
export function toFlaxBytes(state: unknown, floatDtype: 'float32' | 'float64' = 'float32'): Uint8Array {
  return encodeFlaxStateDict(toFlaxStateDict(state, floatDtype));
}

/**
 * Restores a state from flax msgpack bytes, into the layout of `template` (e.g. `tx.init(params)`),
 * checking every leaf's structure, dtype and shape: a checkpoint written by flax (or by
 * {@link toFlaxBytes}) resumes training bit-identically.
 *
 * @example
 * ```ts
 * import { adamax, toFlaxBytes, fromFlaxBytes } from 'optax-ts';
 * const tx = adamax(0.01);
 * const params = { w: new Float32Array([1, 2]) };
 * const [, state] = tx.update({ w: new Float32Array([1, 1]) }, tx.init(params), params);
 * const restored = fromFlaxBytes(tx.init(params), toFlaxBytes(state));
 * console.log(restored[0].count, restored[0].nu); // 1 { w: Float32Array(2) [ 1, 1 ] }
 * ```
 */
export function fromFlaxBytes<S>(template: S, bytes: Uint8Array): S {
  return fromFlaxStateDict(template, decodeFlaxStateDict(bytes));
}

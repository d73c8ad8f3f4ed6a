import { Encoder, ExtensionCodec } from '@msgpack/msgpack';
import { OptaxError } from '../core/errors.js';
import { MAX_CHECKPOINT_DEPTH } from '../checkpoint/limits.js';
import { type StateDict, checkStateDict, isStateDictArray, restoreFromStateDict, toFlaxStateDict } from './flax-state-dict.js';
import { readFlaxMsgpack } from './msgpack-reader.js';
import { elementBytes } from './typed-bytes.js';

/**
 * flax's msgpack checkpoint format (`flax.serialization.to_bytes` / `from_bytes`): the state dict as a
 * msgpack map, each array an extension of type 1 holding msgpack `[shape, dtype name, raw bytes]`
 * (little-endian). optax-ts writes the same bytes flax writes for the same state, so checkpoints move
 * between the two both ways.
 */

const NDARRAY_EXT = 1;

const codec = new ExtensionCodec();
codec.register({
  type: NDARRAY_EXT,
  encode: (x: unknown) => (isStateDictArray(x) ? new Encoder().encode([[...x.shape], x.dtype, elementBytes(x.data)]) : null),
  // Never reached: decoding goes through readFlaxMsgpack.
  decode: () => { throw new OptaxError('flax msgpack: internal decoder used'); },
});

// The depth is checked (with a path) before encoding; the encoder's own limit must not come first.
const encoder = (): Encoder => new Encoder({ extensionCodec: codec, maxDepth: 2 * MAX_CHECKPOINT_DEPTH + 8 });

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
  checkStateDict(stateDict);
  return encoder().encode(stateDict);
}

/**
 * Decodes flax's msgpack bytes to a state dict (arrays become {@link StateDictArray}). Any byte view
 * (a `Buffer` from `fs.readFileSync`, a `subarray`, a `Uint8Array` at an offset) decodes exactly its
 * own bytes, into fresh arrays. Malformed bytes throw an `OptaxError` naming the path reached; memory
 * stays linear in the input and nesting within {@link MAX_CHECKPOINT_DEPTH}.
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
  return readFlaxMsgpack(bytes);
}

/**
 * Serializes an optax-ts state exactly as `flax.serialization.to_bytes` serializes the same optax state.
 *
 * Counts must be non-negative int32 and flags booleans (an OptaxError names the path otherwise: a
 * count is never wrapped).
 *
 * @param floatDtype - dtype for hyperparameters kept as numbers; by default the dtype they were
 *   rounded to (see {@link toFlaxStateDict}), so float64 hyperparameters stay float64.
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
export function toFlaxBytes(state: unknown, floatDtype?: 'float32' | 'float64'): Uint8Array {
  return encoder().encode(toFlaxStateDict(state, floatDtype));
}

/**
 * Restores a state from flax msgpack bytes, into the layout of `template` (e.g. `tx.init(params)`),
 * checking every leaf's structure, dtype and whole shape, and every count and flag: a checkpoint
 * written by flax (or by {@link toFlaxBytes}) resumes training bit-identically. `bytes` may be any byte
 * view (`fs.readFileSync(file)` works); every rejection is an `OptaxError` naming the path, and
 * nothing passed in is changed.
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
  return restoreFromStateDict(template, readFlaxMsgpack(bytes), [], 'state', true);
}

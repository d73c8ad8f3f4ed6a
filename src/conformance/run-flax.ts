import type { Dtype } from '../core/dtype.js';
import type { GradientTransformation } from '../core/transformation.js';
import { type StateDict, isStateDictArray } from '../interop/flax-state-dict.js';
import { decodeFlaxStateDict, toFlaxBytes, fromFlaxBytes } from '../interop/flax-msgpack.js';
import { treeZerosLike } from '../tree/zeros.js';
import { isDictNode } from '../tree/structure.js';
import { ShapedArray } from '../tree/leaf.js';
import { type Agreement, compareValue, compareTrees } from './compare.js';
import { type VectorCase, decodeTree, isEncodedArray } from './format.js';
import { FLAX_OPTIMIZERS } from './registry.js';

/** A decoded state-dict leaf as a tree leaf (int32 and bool as float64 values, for comparison). */
function asLeaf(a: { data: ArrayLike<number>; shape: readonly number[] }): Float64Array | ShapedArray {
  const data = Float64Array.from(a.data);
  return a.shape.length === 1 ? data : new ShapedArray(data, a.shape);
}

/** The state dict with arrays as comparable leaves, and each array's dtype at its path. */
function normalize(sd: unknown, dtypes: string[]): unknown {
  if (isStateDictArray(sd)) { dtypes.push(sd.dtype); return asLeaf(sd); }
  if (isDictNode(sd)) return Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, normalize(v, dtypes)]));
  return sd;
}

/** The vectors' encoded state dict in the same form. */
function normalizeEncoded(x: unknown, dtypes: string[]): unknown {
  if (isEncodedArray(x)) { dtypes.push(x.$array); const d = decodeTree(x); return asLeaf(d instanceof ShapedArray ? d : { data: d, shape: x.shape }); }
  if (isDictNode(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, normalizeEncoded(v, dtypes)]));
  return x;
}

/** The params tree implied by a state dict: the first `mu` subtree found. */
function paramsOf(sd: StateDict): unknown {
  if (!isDictNode(sd)) return undefined;
  if (Object.hasOwn(sd, 'mu')) return normalizeToParams(sd.mu);
  for (const v of Object.values(sd)) { const p = paramsOf(v); if (p !== undefined) return p; }
  return undefined;
}

function normalizeToParams(sd: unknown): unknown {
  if (isStateDictArray(sd)) return treeZerosLike(sd.shape.length === 1 ? (sd.data as Float32Array) : new ShapedArray(sd.data as Float32Array, sd.shape));
  if (isDictNode(sd)) return Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, normalizeToParams(v)]));
  return sd;
}

/**
 * Runs a `flax_msgpack_state` case: decodes flax's bytes and compares them with the recorded state dict
 * (values and dtypes), restores them into the state layout of the named optimizer, and serializes that
 * state back: the bytes must equal flax's.
 */
export function runFlax(c: VectorCase, _dtype: Dtype, acc: Agreement): void {
  const build = FLAX_OPTIMIZERS[c.optimizer as string];
  if (!build) throw new Error(`flax state of optimizer '${String(c.optimizer)}' is not available in optax-ts`);
  const bytes = Uint8Array.from(atob(c.msgpack_b64 as string), (ch) => ch.charCodeAt(0));
  const decoded = decodeFlaxStateDict(bytes);
  const gotDtypes: string[] = [], refDtypes: string[] = [];
  compareTrees(normalize(decoded, gotDtypes), normalizeEncoded(c.state_dict, refDtypes), { kind: 'exact' }, 'state_dict', acc);
  compareValue(gotDtypes.join(','), refDtypes.join(','), 'state_dict dtypes', acc);
  const tx: GradientTransformation<any> = build();
  const restored = fromFlaxBytes(tx.init(paramsOf(decoded) as never), bytes);
  const again = toFlaxBytes(restored);
  const same = again.length === bytes.length && again.every((b, i) => b === bytes[i]);
  compareValue(same ? 1 : 0, 1, 'bytes written back', acc);
}

import { type FloatArray, allocate, dtypeOfArray } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import type { TreePath } from './path.js';
import { expectFloatArray, expectShape } from '../core/args.js';

/**
 * Broadcasts `data` of shape `from` to shape `to` by numpy's rules (dimensions aligned from the right;
 * each of `from` is 1 or equal). The result has `to`'s size, in `data`'s dtype. optax-ts requires the
 * result to have the leaf's shape: a hyperparameter may not grow a leaf.
 *
 * @example
 * ```ts
 * import { broadcastTo } from 'optax-ts';
 * console.log(broadcastTo(new Float32Array([1, 2]), [2], [2, 2])); // Float32Array(4) [ 1, 2, 1, 2 ]
 * console.log(broadcastTo(new Float32Array([1, 2]), [2, 1], [2, 2])); // Float32Array(4) [ 1, 1, 2, 2 ]
 * ```
 */
export function broadcastTo(data: FloatArray, from: readonly number[], to: readonly number[], path: TreePath = [], what = 'hyperparameter'): FloatArray {
  expectFloatArray('broadcastTo', 'data', data);
  expectShape('broadcastTo', 'from', from);
  expectShape('broadcastTo', 'to', to);
  if (from.reduce((a, b) => a * b, 1) !== data.length) throw new OptaxError(`broadcastTo: data has ${data.length} elements, not the ${from.reduce((a, b) => a * b, 1)} of shape [${from.join(', ')}]`);
  const out = allocate(dtypeOfArray(data), to.reduce((a, b) => a * b, 1));
  broadcastInto(data, from, to, out, path, what);
  return out;
}

/**
 * {@link broadcastTo} into `out` (`to`'s size; a store into it rounds to its dtype): the engine
 * writes a broadcast hyperparameter straight into its stream. Throws the same OptaxError, before
 * writing anything, when the shapes do not broadcast. `data` and the shapes are trusted (checked
 * by the caller or by {@link broadcastTo}). @internal
 */
export function broadcastInto(data: FloatArray, from: readonly number[], to: readonly number[], out: FloatArray, path: TreePath, what: string): void {
  const size = out.length;
  const fail = (): never => {
    throw new OptaxError(`${what} of shape [${from.join(', ')}] does not broadcast against the leaf's shape [${to.join(', ')}]`, path, 'grads');
  };
  if (from.length > to.length) {
    // Leading 1s are harmless; anything else would change the leaf's shape.
    if (!from.slice(0, from.length - to.length).every((d) => d === 1)) fail();
    from = from.slice(from.length - to.length);
  }
  const pad = to.length - from.length;
  const f = [...Array(pad).fill(1), ...from];
  for (let i = 0; i < to.length; i++) if (f[i] !== 1 && f[i] !== to[i]) fail();
  if (data.length === 1) { out.fill(data[0]); return; }
  if (data.length === size) { out.set(data); return; } // the leaf's own shape (leading 1s aside)
  // The array spans the trailing dimensions (1s before them): the leaf is it repeated. One copy, then
  // doubling copies of what is written (a memory copy, not an index computation per element).
  let lead = 0;
  while (lead < to.length && f[lead] === 1 && to[lead] !== 1) lead++;
  if (f.slice(lead).every((d, i) => d === to[lead + i])) {
    if (size === 0) return;
    out.set(data);
    for (let filled = data.length; filled < size; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, size - filled));
    return;
  }
  // Strides of the source in the target's index space (0 along broadcast dimensions).
  const strides = new Array<number>(to.length);
  let s = 1;
  for (let i = to.length - 1; i >= 0; i--) { strides[i] = f[i] === 1 ? 0 : s; s *= f[i]; }
  const idx = new Array<number>(to.length).fill(0);
  for (let k = 0; k < size; k++) {
    let src = 0;
    for (let i = 0; i < to.length; i++) src += idx[i] * strides[i];
    out[k] = data[src];
    for (let i = to.length - 1; i >= 0; i--) { if (++idx[i] < to[i]) break; idx[i] = 0; }
  }
}

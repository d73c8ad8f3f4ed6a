import * as tf from '@tensorflow/tfjs-core';
import { OptaxError } from '../core/errors.js';
import { ShapedArray, leafData, leafShape } from '../tree/leaf.js';
import type { StoredLeaf } from './state-store.js';

/**
 * The optimizer state as TensorFlow.js weights (`getWeights`/`setWeights`, saved by
 * `model.save(..., {includeOptimizer: true})`), exactly: each leaf is one tensor named by its path
 * and its kind, `<path>#<kind>`. tfjs has no float64 dtype, so float64 values travel as their bits in
 * int32 pairs; a number that is not an int32 nor a float32 does too.
 */

/** A weight as tfjs's Optimizer passes them (tfjs-core does not export the type). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

type Kind = 'f32' | 'f64' | 'int' | 'num32' | 'num64' | 'bool';
const KINDS: readonly string[] = ['f32', 'f64', 'int', 'num32', 'num64', 'bool'];

const isInt32 = (x: number): boolean => Number.isInteger(x) && x >= -0x80000000 && x <= 0x7fffffff && !Object.is(x, -0);

function bitsOf(data: Float64Array): Int32Array {
  return new Int32Array(data.slice().buffer);
}

/** The tensor of a stored leaf, named `<key>#<kind>`. The caller owns (and disposes) it. */
export function leafTensor(key: string, leaf: StoredLeaf): NamedTensor {
  if (typeof leaf === 'boolean') return { name: `${key}#bool`, tensor: tf.scalar(leaf, 'bool') };
  if (typeof leaf === 'number') {
    if (isInt32(leaf)) return { name: `${key}#int`, tensor: tf.scalar(leaf, 'int32') };
    if (Object.is(Math.fround(leaf), leaf) || Number.isNaN(leaf)) return { name: `${key}#num32`, tensor: tf.scalar(leaf, 'float32') };
    return { name: `${key}#num64`, tensor: tf.tensor1d(bitsOf(new Float64Array([leaf])), 'int32') };
  }
  const data = leafData(leaf);
  const shape = [...leafShape(leaf)];
  if (data instanceof Float32Array) return { name: `${key}#f32`, tensor: tf.tensor(data.slice(), shape, 'float32') };
  return { name: `${key}#f64`, tensor: tf.tensor(bitsOf(data), [...shape, 2], 'int32') };
}

/** Reads a weight written by {@link leafTensor} back: its path key and its leaf. */
export function tensorLeaf(named: NamedTensor): [key: string, leaf: StoredLeaf] {
  const name = typeof named?.name === 'string' ? named.name : '';
  const at = name.lastIndexOf('#');
  const kind = name.slice(at + 1) as Kind;
  const t = named?.tensor;
  if (at < 0 || !KINDS.includes(kind) || !(t instanceof tf.Tensor)) throw new OptaxError(`setWeights: '${name}' is not a weight of an optax-ts optimizer (expected <path>#<kind> with a tensor)`);
  if (t.isDisposed) throw new OptaxError(`setWeights: '${name}' is disposed`);
  const key = name.slice(0, at);
  try {
    const path = JSON.parse(key);
    if (!Array.isArray(path) || !path.every((p) => typeof p === 'string' || (Number.isInteger(p) && p >= 0))) throw new Error();
  } catch {
    throw new OptaxError(`setWeights: '${name}' does not start with a state path`);
  }
  const want = { f32: 'float32', f64: 'int32', int: 'int32', num32: 'float32', num64: 'int32', bool: 'bool' }[kind];
  const scalar = kind === 'int' || kind === 'num32' || kind === 'bool';
  const badShape = scalar ? t.rank !== 0 : kind === 'num64' ? t.rank !== 1 || t.shape[0] !== 2 : kind === 'f64' ? t.shape[t.rank - 1] !== 2 : false;
  if (t.dtype !== want || badShape) throw new OptaxError(`setWeights: '${name}' must be a ${want} tensor${scalar ? ' scalar' : ''}, got ${t.dtype} of shape [${t.shape.join(', ')}]`);
  const values = t.dataSync();
  switch (kind) {
    case 'bool': return [key, values[0] !== 0];
    case 'int': case 'num32': return [key, values[0] as number];
    case 'num64': return [key, new Float64Array(Int32Array.from(values as Int32Array).buffer)[0]];
    case 'f32': return [key, new ShapedArray(Float32Array.from(values as Float32Array), t.shape)];
    case 'f64': return [key, new ShapedArray(new Float64Array(Int32Array.from(values as Int32Array).buffer), t.shape.slice(0, -1))];
  }
}

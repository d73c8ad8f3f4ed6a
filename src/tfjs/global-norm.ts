import * as tf from '@tensorflow/tfjs-core';
import { roundTo } from '../core/dtype.js';
import { type LaneWindowOps, laneWindowSums } from '../core/lane-window-sums.js';
import { XLA_REDUCE_WINDOW, xlaReduceWindows } from '../core/xla-reduce-sum.js';
import { dividesByScalar } from '../kernel/scalar-division.js';
import type { GlobalNormReduction } from '../transforms/clip-by-global-norm.js';
import { lowerKernel } from './lower-kernel.js';

/** The sum of a 1-D tensor in order, each partial sum rounded to float32: tfjs's cpu cumsum does that (tf.sum adds in float64). */
function sumInOrder(x: tf.Tensor): tf.Tensor {
  return x.size === 0 ? tf.scalar(0, 'float32') : tf.reshape(tf.slice(tf.cumsum(x), [x.size - 1], [1]), []);
}

/** laneWindowSums' operations as tfjs ops (float32 only: the adapter's XLA-ordered sums run on the cpu backend). */
const TFJS_LANE_OPS: LaneWindowOps<tf.Tensor> = {
  zeros: (count) => tf.zeros([count, 1], 'float32'),
  padColumns: (t, n) => tf.pad(t, [[0, 0], [0, n]]),
  reshape: (t, shape) => tf.reshape(t, shape),
  split: (t, axis, n) => tf.split(t, n, axis).map((piece) => tf.squeeze(piece, [axis])),
  add: (x, y) => tf.add(x, y),
  halves: (t) => {
    const [count, width] = t.shape, half = width / 2;
    return [tf.slice(t, [0, 0], [count, half]), tf.slice(t, [0, half], [count, half])];
  },
};

/**
 * `jnp.sum(x)` in XLA:CPU's order, with tfjs ops on the cpu backend: the windows of
 * `xlaReduceWindows` (each level pads with zeros, which add nothing to a sum of squares, groups every
 * window's elements, row-major, into one row, and sums each row in order: the last column of a
 * cumsum along the rows; or, where the last dimension is padded, in lanes: `laneWindowSums`), then
 * what is left summed in order, row-major.
 */
function xlaOrderedSum(x: tf.Tensor): tf.Tensor {
  let y = x;
  for (const { dims, window, out, padLow, padHigh, laneRows } of xlaReduceWindows(x.shape).levels) {
    y = tf.reshape(y, [...dims]);
    if (padLow.some((p) => p) || padHigh.some((p) => p)) y = tf.pad(y, dims.map((_, k) => [padLow[k], padHigh[k]] as [number, number]));
    y = tf.reshape(y, out.flatMap((o, k) => [o, window[k]]));
    y = tf.transpose(y, [...dims.map((_, k) => 2 * k), ...dims.map((_, k) => 2 * k + 1)]);
    const count = out.reduce((a, b) => a * b, 1), width = window.reduce((a, b) => a * b, 1);
    if (laneRows) y = laneWindowSums(TFJS_LANE_OPS, tf.reshape(y, [count, width / XLA_REDUCE_WINDOW, XLA_REDUCE_WINDOW]), count, width / XLA_REDUCE_WINDOW, 'float32');
    else y = tf.reshape(tf.slice(tf.cumsum(tf.reshape(y, [count, width]), 1), [0, width - 1], [count, 1]), [count]);
  }
  return sumInOrder(tf.reshape(y, [-1]));
}

/**
 * `jnp.sum(x ** 2)` of a leaf (optax's per-leaf reduction of a global norm): in XLA:CPU's order on the
 * cpu backend (bit-identical to the pure path's `leafSumOfSquares`), the backend's reduction elsewhere.
 */
export function sumOfSquares(x: tf.Tensor): tf.Tensor {
  return reduceSum(tf.square(x));
}

/** `jnp.sum(x)`: in XLA:CPU's order on the cpu backend, the backend's reduction elsewhere. */
export function reduceSum(x: tf.Tensor): tf.Tensor {
  return tf.getBackend() === 'cpu' ? xlaOrderedSum(x) : tf.sum(x);
}

/**
 * clip_by_global_norm on the device, over `names` (in flattening order): each leaf's sum of squares,
 * those added from 0 in that order, sqrt, then the scalars of clipByGlobalNormScalars as tensors (all
 * 1 below the threshold) and its kernels. On the cpu backend a leaf's sum follows XLA:CPU's order
 * (see {@link xlaOrderedSum}), so the step stays bit-identical to the pure path there; elsewhere it
 * is the backend's reduction (another order: within γ_n of the exact sum, relatively).
 */
export function clipByGlobalNormOps(reduction: GlobalNormReduction, u: Map<string, tf.Tensor>, names: readonly string[]): void {
  let total: tf.Tensor = tf.scalar(0, 'float32');
  for (const n of names) total = tf.add(total, sumOfSquares(u.get(n)!));
  const norm = tf.sqrt(total);
  const one = tf.scalar(1, 'float32');
  const trigger = tf.less(norm, tf.scalar(roundTo('float32', reduction.maxNorm), 'float32'));
  const scalars: Record<string, tf.Tensor> = {
    inv_norm: tf.where(trigger, one, tf.div(one, norm)),
    norm: tf.where(trigger, one, norm),
    max_norm: tf.where(trigger, one, tf.scalar(roundTo('float32', reduction.maxNorm), 'float32')),
  };
  for (const n of names) {
    const g = u.get(n)!;
    const kernel = dividesByScalar(g.size) ? reduction.divisionKernel : reduction.kernel;
    u.set(n, lowerKernel(kernel, { updates: g, state: {}, scalars }).updates);
  }
}

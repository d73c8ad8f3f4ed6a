import * as tf from '@tensorflow/tfjs-core';
import { type FmaOps, fmaFloat32FromOps } from '../core/fused-multiply-add-ops.js';

/** tfjs's float32 ops as {@link FmaOps} (inside a `tf.tidy`, which frees the intermediates). */
const TF_OPS: FmaOps<tf.Tensor, tf.Tensor> = {
  constant: (v) => tf.scalar(v, 'float32'),
  add: tf.add, sub: tf.sub, mul: tf.mul, abs: tf.abs,
  less: tf.less, lessEqual: tf.lessEqual, greater: tf.greater, greaterEqual: tf.greaterEqual, equal: tf.equal, notEqual: tf.notEqual,
  and: tf.logicalAnd, or: tf.logicalOr, not: tf.logicalNot,
  isFinite: tf.isFinite, isInf: tf.isInf,
  where: (c, x, y) => tf.where(c, x, y),
};

/**
 * `a * b + c` rounded once to float32, from float32 tfjs ops only: the kernels' `fma` nodes (XLA's
 * contraction inside `lax.cond`, transforms/traced.ts), tfjs having no fused multiply-add op. The
 * algorithm is core/fused-multiply-add-ops.ts's {@link fmaFloat32FromOps} (shared with the jax-js
 * adapter's devices without float64): bit-identical to core/fused-multiply-add.ts's `fma32` wherever
 * every op rounds correctly to float32 (tfjs's cpu backend: each op computes in double and stores into
 * a Float32Array, which for + - * of float32 operands is one correct rounding), with the exceptions
 * named there. The operands are broadcast to one shape first (`tf.where` does not broadcast).
 */
export function exactFma(a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const shape = tf.backend_util.assertAndGetBroadcastShape(tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape), c.shape);
    const full = (x: tf.Tensor): tf.Tensor => (sameShape(x.shape, shape) ? x : tf.broadcastTo(x, shape));
    return fmaFloat32FromOps(TF_OPS, full(a), full(b), full(c));
  });
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * A small multilayer perceptron with hand-written backpropagation in float32 (every activation and
 * gradient is stored in a Float32Array): inputs -> tanh hidden layers -> one logit, trained on the
 * mean binary cross-entropy. Its parameters are a flat tree {w0, b0, w1, b1, ...} that the optimizer
 * (and the fused engine) updates; the gradients are written straight into the stepper's views.
 */
import type { FlatParams } from './optimizer.js';
import { Random } from './random.js';

/** The input features of a point: x, y, and optionally x², y², xy, sin πx, sin πy (as TensorFlow Playground offers). */
export function featureCount(extra: boolean): number {
  return extra ? 7 : 2;
}

export function features(px: number, py: number, extra: boolean, out: Float32Array): void {
  out[0] = px;
  out[1] = py;
  if (extra) {
    out[2] = px * px;
    out[3] = py * py;
    out[4] = px * py;
    out[5] = Math.sin(Math.PI * px);
    out[6] = Math.sin(Math.PI * py);
  }
}

export class Mlp {
  /** Layer widths, inputs first, the single logit last. */
  readonly sizes: readonly number[];
  private readonly acts: Float32Array[];
  private readonly deltas: Float32Array[];

  constructor(inputs: number, hidden: readonly number[]) {
    this.sizes = [inputs, ...hidden, 1];
    this.acts = this.sizes.map((n) => new Float32Array(n));
    this.deltas = this.sizes.map((n) => new Float32Array(n));
  }

  get layers(): number {
    return this.sizes.length - 1;
  }

  /** Glorot-uniform weights, zero biases, from a seed (every run starts from the same network). */
  init(seed: number): FlatParams {
    const rnd = new Random(seed);
    const params: FlatParams = {};
    for (let l = 0; l < this.layers; l++) {
      const fanIn = this.sizes[l], fanOut = this.sizes[l + 1];
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      params[`w${l}`] = new Float32Array(fanIn * fanOut).map(() => (2 * rnd.uniform() - 1) * limit);
      params[`b${l}`] = new Float32Array(fanOut);
    }
    return params;
  }

  zeros(): FlatParams {
    const out: FlatParams = {};
    for (let l = 0; l < this.layers; l++) {
      out[`w${l}`] = new Float32Array(this.sizes[l] * this.sizes[l + 1]);
      out[`b${l}`] = new Float32Array(this.sizes[l + 1]);
    }
    return out;
  }

  /** The logit for one input (left in this.acts for backward). */
  forward(params: FlatParams, input: Float32Array): number {
    this.acts[0].set(input.subarray(0, this.sizes[0]));
    for (let l = 0; l < this.layers; l++) {
      const w = params[`w${l}`], b = params[`b${l}`];
      const a = this.acts[l], out = this.acts[l + 1];
      const nIn = this.sizes[l], nOut = this.sizes[l + 1];
      const last = l === this.layers - 1;
      for (let j = 0; j < nOut; j++) {
        let s = b[j];
        for (let i = 0; i < nIn; i++) s += a[i] * w[i * nOut + j];
        out[j] = last ? s : Math.tanh(s);
      }
    }
    return this.acts[this.layers][0];
  }

  /**
   * Mean binary cross-entropy over `rows` and its gradient, written into `grads` (overwritten).
   * `inputs` holds `featureCount` values per row.
   */
  lossAndGrad(params: FlatParams, grads: FlatParams, inputs: Float32Array, labels: Float32Array, rows: ArrayLike<number>): number {
    for (const g of Object.values(grads)) g.fill(0);
    const f = this.sizes[0];
    const scale = 1 / rows.length;
    let loss = 0;
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r];
      const z = this.forward(params, inputs.subarray(row * f, row * f + f));
      const y = labels[row];
      // log(1 + e^-|z|) + max(z, 0) - y z: the stable form of the cross-entropy of a logit.
      loss += Math.log1p(Math.exp(-Math.abs(z))) + Math.max(z, 0) - y * z;
      this.deltas[this.layers][0] = (1 / (1 + Math.exp(-z)) - y) * scale;
      for (let l = this.layers - 1; l >= 0; l--) {
        const w = params[`w${l}`], gw = grads[`w${l}`], gb = grads[`b${l}`];
        const a = this.acts[l], dOut = this.deltas[l + 1], dIn = this.deltas[l];
        const nIn = this.sizes[l], nOut = this.sizes[l + 1];
        for (let j = 0; j < nOut; j++) gb[j] += dOut[j];
        for (let i = 0; i < nIn; i++) {
          let s = 0;
          for (let j = 0; j < nOut; j++) {
            gw[i * nOut + j] += a[i] * dOut[j];
            s += w[i * nOut + j] * dOut[j];
          }
          // tanh' = 1 - tanh²; the input layer needs no delta.
          dIn[i] = l > 0 ? s * (1 - a[i] * a[i]) : 0;
        }
      }
    }
    return loss * scale;
  }

  /** Probability of class 1. */
  predict(params: FlatParams, input: Float32Array): number {
    return 1 / (1 + Math.exp(-this.forward(params, input)));
  }
}

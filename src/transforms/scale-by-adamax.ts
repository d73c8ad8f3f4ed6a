import { type Hyperparam, acceptsRange, biasCorrectionWriter, checkHyperparam, constantScalars, hyperNumber, oneMinus, writeHyper } from '../core/hyperparams.js';
import { safeIncrement } from '../core/numerics.js';
import type { GradientTransformation } from '../core/transformation.js';
import { ex } from '../kernel/expr.js';
import { elementwise } from '../kernel/elementwise.js';
import type { Tree } from '../tree/tree.js';
import { type CountState, advanceCount, checkCount } from './count.js';
import { readOptions } from '../core/options.js';
import { recordCall } from '../spec/record.js';
import { OptaxError } from '../core/errors.js';
import type { ScheduleArith } from '../schedules/arith.js';
import type { Dtype } from '../core/dtype.js';
import { biasCorrectionOf } from '../core/bias-correction.js';

/** The state of {@link scaleByAdamax} (optax's `ScaleByAdamState`). */
export interface ScaleByAdamaxState {
  /** Steps taken: int32, saturating at 2^31-1. */
  count: number;
  /** First moment: an exponential moving average of the updates. */
  mu: Tree;
  /** Infinity norm: an exponentially weighted maximum of |updates|. */
  nu: Tree;
}

/** Options of {@link scaleByAdamax} (and `adamax`). */
export interface ScaleByAdamaxOptions {
  /** Decay of the first moment, in [0, 1]. Default 0.9. A number or an array broadcast per leaf. */
  b1?: Hyperparam;
  /** Decay of the infinity norm, in [0, 1]. Default 0.999. */
  b2?: Hyperparam;
  /**
   * Added to |g| *inside* the max, before the division: `nu = max(|g| + eps, b2*nu)`. Non-negative,
   * default 1e-8. (Keras and TensorFlow.js instead divide by `nu + eps` after the max.)
   */
  eps?: Hyperparam;
}

// The rule, written once. Operation order is optax's, so each rounding happens where XLA's does:
//   mu = (1 - b1) * g + b1 * mu          nu = max(|g| + eps, b2 * nu)          u = (mu / bias) / nu
const g = ex.updates;
const mu = ex.add(ex.mul(ex.scalar('one_minus_b1'), g), ex.mul(ex.scalar('b1'), ex.state('mu')));
const nu = ex.max(ex.add(ex.abs(g), ex.scalar('eps')), ex.mul(ex.scalar('b2'), ex.state('nu')));
/** Its per-step scalars, in the order `writeScalars` writes them. */
const SCALARS = ['one', 'b1', 'one_minus_b1', 'b2', 'eps', 'bias'] as const;
/** The factory's ranges: checked when it is built, and (the same rule) for a scheduled value at each fused step. */
const DECAY_RANGE = { min: 0, max: 1 }, EPS_RANGE = { min: 0 };
const ACCEPTS = { b1: acceptsRange(DECAY_RANGE), b2: acceptsRange(DECAY_RANGE), eps: acceptsRange(EPS_RANGE) };

/**
 * Rescales updates by Adamax, the infinity-norm variant of Adam (Kingma & Ba, 2014, section 7.1):
 *
 * ```
 * m_t = b1 * m_{t-1} + (1 - b1) * g_t
 * v_t = max(|g_t| + eps, b2 * v_{t-1})
 * u_t = (m_t / (1 - b1^t)) / v_t
 * ```
 *
 * `t` is the step count after incrementing (int32, saturating at 2^31-1). The bias correction
 * `1 - b1^t` is computed in the leaf's dtype exactly as XLA does (`b1^t` rounded, then `1 - ...`
 * rounded); `v` needs none (a max is not biased towards 0). Once `b1^t` underflows, the correction is
 * exactly 1, so a saturated count stays harmless.
 * With `eps = 0` and a zero gradient, `0/0` gives NaN, exactly as in optax.
 *
 * @param options - `b1` (default 0.9), `b2` (0.999), `eps` (1e-8); each a number or an array
 *   broadcastable against every leaf. b1 and b2 must lie in [0, 1], eps must be finite and >= 0.
 *
 * @example
 * ```ts
 * import { scaleByAdamax } from 'optax-ts';
 * const tx = scaleByAdamax();
 * const params = { w: new Float32Array([1, -2]) };
 * const [updates, state] = tx.update({ w: new Float32Array([0.5, -4]) }, tx.init(params));
 * // The first step is g (1 - b1) / (1 - b1^1) / (|g| + eps), about ±1; not exactly, because (as in
 * // optax) the bias correction 1 - 0.9^1 is computed in float32: 0.100000024.
 * console.log(updates.w, state.count); // Float32Array(2) [ 0.9999998211860657, -0.9999998211860657 ] 1
 * ```
 */
export function scaleByAdamax(options: ScaleByAdamaxOptions = {}): GradientTransformation<ScaleByAdamaxState> {
  const { b1 = 0.9, b2 = 0.999, eps = 1e-8 } = readOptions('scale_by_adamax', options, { b1: true, b2: true, eps: true });
  checkHyperparam('scale_by_adamax', 'b1', b1, DECAY_RANGE);
  checkHyperparam('scale_by_adamax', 'b2', b2, DECAY_RANGE);
  checkHyperparam('scale_by_adamax', 'eps', eps, EPS_RANGE);
  // The scalars but the bias correction depend on the dtype only: computed once per dtype.
  const constants = constantScalars(5, (sink, dtype) => {
    sink.values[0] = 1;
    writeHyper(sink, 1, b1, dtype);
    writeHyper(sink, 2, b1, dtype, oneMinus);
    writeHyper(sink, 3, b2, dtype);
    writeHyper(sink, 4, eps, dtype);
  });
  const biasCorrection = biasCorrectionWriter(b1);
  const countScalars = <V, B>(count: V | number, dtype: Dtype, a: ScheduleArith<V, B>): Record<string, V | number> => {
    if (typeof b1 !== 'number') throw new OptaxError('scale_by_adamax: an array b1 has a bias correction per element; not written over ScheduleArith');
    return { bias: biasCorrectionOf(a, dtype, b1, count) };
  };
  const [nb1, nb2, neps] = [b1, b2, eps].map(hyperNumber);
  const injectable = nb1 !== undefined && nb2 !== undefined && neps !== undefined ? {
    hyperparams: { b1: nb1, b2: nb2, eps: neps },
    countHyperparams: ['b1'],
    accepts: ACCEPTS,
    scalars: <V, B>(h: Readonly<Record<string, V | number>>, count: V | number, d: Dtype, a: ScheduleArith<V, B>) => ({
      one: 1, b1: a.cast(d, h.b1), one_minus_b1: a.sub(d, 1, h.b1), b2: a.cast(d, h.b2), eps: a.cast(d, h.eps), bias: biasCorrectionOf(a, d, h.b1, count),
    }),
  } : undefined;
  return recordCall(elementwise<CountState, ScaleByAdamaxState>({
    name: 'scale_by_adamax',
    injectable,
    kernel: { updates: ex.div(ex.div(mu, ex.scalar('bias')), nu), state: { mu, nu } },
    // On a one-leaf tree XLA multiplies by the reciprocal of the bias correction instead (see
    // ElementwiseDefinition.singleLeafKernel); 1/bias is rounded to the dtype like any op.
    singleLeafKernel: { updates: ex.div(ex.mul(mu, ex.div(ex.scalar('one'), ex.scalar('bias'))), nu), state: { mu, nu } },
    stateLeaves: ['mu', 'nu'],
    initControl: () => ({ count: 0 }),
    checkControl: checkCount('scale_by_adamax'),
    advance: advanceCount,
    scalarNames: SCALARS,
    // The bias correction over ScheduleArith, for the jax-js adapter's graph; the pure path writes the
    // same value without allocating (biasCorrectionWriter), and test/jax-js/schedule.test.ts holds both equal.
    countScalars,
    writeScalars: (sink, { count }, dtype: Dtype) => {
      constants(sink, dtype);
      // 1 - b1^t as XLA computes it in the leaf dtype: the C library's pow (glibc's powf in
      // float32: core/bias-correction.ts), then the subtraction rounded again.
      biasCorrection(sink, 5, dtype, safeIncrement(count));
    },
  }), 'scale_by_adamax', [options]);
}

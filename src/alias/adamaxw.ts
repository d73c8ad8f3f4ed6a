import type { Hyperparam } from '../core/hyperparams.js';
import type { ScalarOrSchedule, Schedule } from '../core/schedule.js';
import type { EmptyState, GradientTransformation } from '../core/transformation.js';
import { type AddDecayedWeightsState, addDecayedWeights } from '../transforms/add-decayed-weights.js';
import { chain } from '../transforms/chain.js';
import type { Mask } from '../transforms/masked.js';
import { type ScaleByAdamaxOptions, type ScaleByAdamaxState, scaleByAdamax } from '../transforms/scale-by-adamax.js';
import { scaleByLearningRate } from '../transforms/scale-by-learning-rate.js';
import type { ScaleByScheduleState } from '../transforms/scale-by-schedule.js';
import { readOptions } from '../core/options.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link adamaxw}: Adamax's `b1`, `b2`, `eps`, plus the weight decay and its mask. */
export interface AdamaxwOptions extends ScaleByAdamaxOptions {
  /**
   * The weight decay rate (default 1e-4): a number >= 0, an array broadcast against each leaf, or a
   * schedule. It is multiplied by the learning rate.
   */
  weightDecay?: Hyperparam | Schedule;
  /**
   * Which parameters to decay: a tree of booleans shaped like the params (or a prefix of them) or a
   * function of the params returning one. Default: all. Adamax itself still applies to every parameter.
   */
  mask?: Mask | null;
}

/** The state of {@link adamaxw}: `[scaleByAdamax state, addDecayedWeights state, learning-rate state]`. */
export type AdamaxwState = [ScaleByAdamaxState, AddDecayedWeightsState, EmptyState | ScaleByScheduleState];

/**
 * Adamax with decoupled weight decay (optax's `adamaxw`, after Loshchilov & Hutter, 2019):
 * `chain(scaleByAdamax({ b1, b2, eps }), addDecayedWeights(weightDecay, { mask }), scaleByLearningRate(learningRate))`.
 *
 * ```
 * m_t = b1 * m_{t-1} + (1 - b1) * g_t
 * v_t = max(|g_t| + eps, b2 * v_{t-1})
 * u_t = -lr_t * ((m_t / (1 - b1^t)) / v_t + wd * p_t)
 * ```
 *
 * As in optax (and PyTorch), the weight decay is multiplied by the learning rate.
 *
 * @param learningRate - a number >= 0 or a schedule of the step count.
 * @param options - `b1` (0.9), `b2` (0.999), `eps` (1e-8), `weightDecay` (1e-4), `mask` (none).
 *
 * @example
 * ```ts
 * import { adamaxw, applyUpdates } from 'optax-ts';
 * const optimizer = adamaxw(0.1, { weightDecay: 0.5 });
 * let params = { w: new Float64Array([1, -1]) };
 * const state = optimizer.init(params);
 * const [updates] = optimizer.update({ w: new Float64Array([0, 0]) }, state, params);
 * console.log(updates.w); // Float64Array(2) [ -0.05, 0.05 ]
 * ```
 */
export function adamaxw(learningRate: ScalarOrSchedule, options: AdamaxwOptions = {}): GradientTransformation<AdamaxwState> {
  const { b1, b2, eps, weightDecay = 1e-4, mask = null } = readOptions('adamaxw', options, { b1: true, b2: true, eps: true, weightDecay: true, mask: true });
  return recordCall(chain(
    scaleByAdamax({ b1, b2, eps }),
    addDecayedWeights(weightDecay, { mask }),
    scaleByLearningRate(learningRate),
  ) as unknown as GradientTransformation<AdamaxwState>, 'adamaxw', [learningRate, options]);
}

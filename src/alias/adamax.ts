import type { ScalarOrSchedule } from '../core/schedule.js';
import type { EmptyState, GradientTransformation } from '../core/transformation.js';
import { chain } from '../transforms/chain.js';
import { type ScaleByAdamaxOptions, type ScaleByAdamaxState, scaleByAdamax } from '../transforms/scale-by-adamax.js';
import { scaleByLearningRate } from '../transforms/scale-by-learning-rate.js';
import type { ScaleByScheduleState } from '../transforms/scale-by-schedule.js';
import { recordCall } from '../spec/record.js';

/** The state of {@link adamax}: `[scaleByAdamax state, learning-rate state]`, as optax lays it out. */
export type AdamaxState = [ScaleByAdamaxState, EmptyState | ScaleByScheduleState];

/**
 * The Adamax optimizer (Kingma & Ba, 2014), exactly as optax defines it:
 * `chain(scaleByAdamax({ b1, b2, eps }), scaleByLearningRate(learningRate))`.
 *
 * ```
 * m_t = b1 * m_{t-1} + (1 - b1) * g_t
 * v_t = max(|g_t| + eps, b2 * v_{t-1})
 * u_t = -lr_t * (m_t / (1 - b1^t)) / v_t
 * ```
 *
 * @param learningRate - a number >= 0 or a schedule of the step count.
 * @param options - `b1` (0.9), `b2` (0.999), `eps` (1e-8), each a number or a broadcastable array.
 *
 * @example
 * ```ts
 * import { adamax, applyUpdates } from 'optax-ts';
 * const f = (x: Float32Array) => x.reduce((s, v) => s + v * v, 0); // sum of squares
 * let params = { x: new Float32Array([1, 2, 3]) };
 * const optimizer = adamax(0.003);
 * let state = optimizer.init(params);
 * for (let i = 0; i < 3; i++) {
 *   const grads = { x: params.x.map((v) => 2 * v) };
 *   const [updates, next] = optimizer.update(grads, state, params);
 *   params = applyUpdates(params, updates);
 *   state = next;
 * }
 * console.log(f(params.x).toFixed(4)); // 13.8922
 * ```
 */
export function adamax(learningRate: ScalarOrSchedule, options: ScaleByAdamaxOptions = {}): GradientTransformation<AdamaxState> {
  return recordCall(chain(scaleByAdamax(options), scaleByLearningRate(learningRate)) as unknown as GradientTransformation<AdamaxState>, 'adamax', [learningRate, options]);
}

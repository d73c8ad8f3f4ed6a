import { OptaxError } from '../core/errors.js';
import type { ScalarOrSchedule } from '../core/schedule.js';
import type { GradientTransformation } from '../core/transformation.js';
import { scale } from './scale.js';
import { scaleBySchedule } from './scale-by-schedule.js';
import { callSchedule } from '../core/schedule.js';
import { readOptions } from '../core/options.js';
import { describe } from '../tree/node.js';
import { mapSchedule, scheduleInfo } from '../schedules/typed.js';
import { recordCall } from '../spec/record.js';
import { type CompiledElementwise, type InjectableScalars, withInjectable } from '../kernel/elementwise.js';

/** Options of {@link scaleByLearningRate}. */
export interface ScaleByLearningRateOptions {
  /** Multiply by `-lr` (gradient descent) when true, by `lr` (ascent) when false. Default true. */
  flipSign?: boolean;
}

function checkLearningRate(value: number): string | undefined {
  const scratch = new Float64Array([value]);
  return learningRateProblemAt(scratch, 0, 1);
}

/**
 * Why `m * values[at]` is not a valid learning rate (undefined when it is one): read from an array, as
 * the fused engine checks a schedule's value at every step (a double passed to a call V8 does not
 * inline would be a new heap number).
 */
function learningRateProblemAt(values: Float64Array, at: number, m: number): string | undefined {
  const value = m * values[at];
  // The common case first, with no use of `value` that would box it.
  if (value >= 0 && value < Infinity) return undefined;
  return learningRateProblem(value);
}

function learningRateProblem(value: number): string {
  return Number.isFinite(value) ? `learning rate must be >= 0, got ${value}` : `learning rate must be finite, got ${value}`;
}

/**
 * Scales updates by the learning rate: `u = -lr * g` (or `lr * g` with `flipSign: false`). A number
 * gives optax's `scale(-lr)`; a schedule gives `scaleBySchedule(count => -lr(count))`, so its state
 * counts steps.
 *
 * @param learningRate - a finite number >= 0, or a schedule of the step count (each value it returns
 *   is checked the same way when the step runs).
 *
 * @example
 * ```ts
 * import { scaleByLearningRate } from 'optax-ts';
 * const tx = scaleByLearningRate(0.5);
 * const [u] = tx.update({ w: new Float32Array([2]) }, tx.init({ w: new Float32Array(1) }));
 * console.log(u.w); // Float32Array(1) [ -1 ]
 * ```
 */
export function scaleByLearningRate(learningRate: ScalarOrSchedule, options: ScaleByLearningRateOptions = {}): GradientTransformation<any> {
  const { flipSign = true } = readOptions('scale_by_learning_rate', options, { flipSign: true });
  if (typeof flipSign !== 'boolean') throw new OptaxError(`scale_by_learning_rate: flipSign must be a boolean, got ${describe(flipSign)}`);
  const m = flipSign ? -1 : 1;
  if (typeof learningRate === 'function') {
    // optax: `scale_by_schedule(lambda count: m * learning_rate(count))`; multiplying by +-1 is exact,
    // so the traced form (inside apply_if_finite / MultiSteps) is `m` times the traced schedule.
    const signed = mapSchedule(learningRate, (s, count) => m * callSchedule('scale_by_learning_rate', s, count), (v, arith) => (m === 1 ? v : arith.neg(v)));
    return recordCall(scaleBySchedule(signed, {
      name: 'scale_by_learning_rate',
      constant: scheduleInfo(learningRate)?.kind === 'python',
      checkAt: (values, at) => learningRateProblemAt(values, at, m),
    }), 'scale_by_learning_rate', [learningRate, options]);
  }
  if (typeof learningRate !== 'number') throw new OptaxError(`scale_by_learning_rate: learning rate must be a number or a schedule, got ${typeof learningRate}`);
  const problem = checkLearningRate(learningRate);
  if (problem) throw new OptaxError(`scale_by_learning_rate: ${problem}`);
  // optax's `scale(m * learning_rate)`; injected (an array of inject_hyperparams' state), the step size
  // is computed from `learning_rate` (negation is exact).
  const tx = scale(m * learningRate);
  const def = tx.elementwise!;
  const injectable: InjectableScalars = {
    hyperparams: { learning_rate: learningRate },
    scalars: (h, _count, d, a) => ({ step_size: m === 1 ? a.cast(d, h.learning_rate) : a.neg(a.cast(d, h.learning_rate)) }),
    accepts: { learning_rate: (values, at) => learningRateProblemAt(values, at, 1) === undefined },
  };
  return recordCall({ ...tx, elementwise: withInjectable(def as CompiledElementwise<Record<string, unknown>>, injectable) }, 'scale_by_learning_rate', [learningRate, options]);
}

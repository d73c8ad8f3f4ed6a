import { roundInPlace } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { safeIncrement } from '../core/numerics.js';
import type { Schedule } from '../core/schedule.js';
import type { GradientTransformation } from '../core/transformation.js';
import { elementwise } from '../kernel/elementwise.js';
import { type CountState, advanceCount, checkCount } from './count.js';
import { STEP_SIZE, scaleKernel } from './scale.js';
import { ScheduleEvaluator } from '../schedules/program.js';
import { readOptions } from '../core/options.js';
import { scheduleInfo } from '../schedules/typed.js';
import { recordCall } from '../spec/record.js';

/** The state of {@link scaleBySchedule}: the step count the schedule is evaluated at. */
export interface ScaleByScheduleState {
  /** Steps taken: int32, saturating at 2^31-1. */
  count: number;
}

/** Options of {@link scaleBySchedule}. */
export interface ScaleByScheduleOptions {
  /**
   * Checks each value the schedule returns (throwing an OptaxError before anything is computed);
   * `scaleByLearningRate` uses it to reject a negative or non-finite learning rate.
   */
  check?: (value: number, count: number) => string | undefined;
  /**
   * `check` reading the value from `values[at]`, used instead of it: no double crosses the call, which
   * the fused engine makes at every step (a double passed to a call V8 does not inline is a new heap
   * number). @internal
   */
  checkAt?: (values: Float64Array, at: number, count: number) => string | undefined;
  /** The name in error messages (default `scale_by_schedule`). */
  name?: string;
  /**
   * Whether the schedule returns a Python float (e.g. `constant_schedule`), which `jnp.array(step_size)`
   * turns into a constant when optax's update is traced (see transforms/traced.ts). Default: what
   * optax-ts knows of its own schedules (a value kind of `'python'`), false for any other function.
   */
  constant?: boolean;
}

/**
 * Scales updates by a schedule of the step count: `u_t = schedule(t) * g_t`, with `t` counting from 0
 * (the count *before* this step, as optax evaluates it). The schedule's value is cast to each leaf's
 * dtype, as optax's `jnp.array(step_size, dtype=g.dtype)` does.
 *
 * @example
 * ```ts
 * import { scaleBySchedule } from 'optax-ts';
 * const tx = scaleBySchedule((count) => 1 / (count + 1));
 * let state = tx.init({ w: new Float64Array(1) });
 * let u;
 * [u, state] = tx.update({ w: new Float64Array([1]) }, state);
 * [u, state] = tx.update({ w: new Float64Array([1]) }, state);
 * console.log(u.w[0], state.count); // 0.5 2
 * ```
 */
export function scaleBySchedule(schedule: Schedule, options: ScaleByScheduleOptions = {}): GradientTransformation<ScaleByScheduleState> {
  if (typeof schedule !== 'function') throw new OptaxError(`scale_by_schedule: schedule must be a function of the step count, got ${typeof schedule}`);
  options = readOptions('scale_by_schedule', options, { check: true, checkAt: true, name: true, constant: true });
  const name = options.name ?? 'scale_by_schedule';
  const evaluator = new ScheduleEvaluator(name, schedule);
  return recordCall(elementwise<CountState, ScaleByScheduleState>({
    name,
    kernel: scaleKernel,
    stateLeaves: [],
    initControl: () => ({ count: 0 }),
    checkControl: checkCount(name),
    advance: advanceCount,
    scalarNames: STEP_SIZE,
    // The schedule's value at the count, cast to the leaf dtype: the jax-js adapter's in-graph form.
    countScalars: (count, dtype, a) => ({ step_size: a.cast(dtype, a.call(schedule, count)) }),
    writeScalars: (sink, { count }, dtype, _extraArgs, traced) => {
      // Inside apply_if_finite / MultiSteps optax evaluates the schedule in the traced computation.
      // A program of the schedule (compiled on first use) writes its value: nothing is allocated.
      evaluator.writeInto(sink.values, 0, count, traced === true);
      const problem = options.checkAt ? options.checkAt(sink.values, 0, count) : options.check?.(sink.values[0], count);
      if (problem) throw new OptaxError(`${name}: ${problem}`);
      roundInPlace(dtype, sink.values, 0);
    },
    constantScalars: (options.constant ?? scheduleInfo(schedule)?.kind === 'python') ? ['step_size'] : [],
  }), 'scale_by_schedule', [schedule, options]);
}

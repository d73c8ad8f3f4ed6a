/**
 * A schedule maps the step count (an int32, starting at 0) to a hyperparameter value, usually the
 * learning rate. optax evaluates schedules in float32 (or float64 under x64) with an int32 step;
 * optax-ts schedules return a JS number whose value is exactly the one optax computes in that dtype.
 *
 * @example
 * ```ts
 * import type { Schedule } from 'optax-ts';
 * const halve: Schedule = (count) => 0.1 * 0.5 ** count;
 * console.log(halve(2)); // 0.025
 * ```
 */
export type Schedule = (count: number) => number;

/** A hyperparameter that is either fixed or a schedule of the step count. */
export type ScalarOrSchedule = number | Schedule;

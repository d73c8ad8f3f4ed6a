import { OptaxError } from './errors.js';
import { describe } from '../tree/node.js';

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

/**
 * Calls a caller's schedule at `count` and checks that it returned a number (a string such as `"0.1"`
 * would otherwise be coerced by the arithmetic after it). Every transformation calls schedules through
 * this. @internal
 */
export function callSchedule(owner: string, schedule: Schedule, count: number): number {
  const value: unknown = schedule(count);
  if (typeof value !== 'number') {
    throw new OptaxError(`${owner}: the schedule returned ${describe(value)} at step ${count}, expected a number`);
  }
  return value;
}

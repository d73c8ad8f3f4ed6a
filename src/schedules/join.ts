import { OptaxError } from '../core/errors.js';
import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { type ValueKind, convertKind, defineSchedule, promoteKinds, scheduleInfo } from './typed.js';
import { checkDtype, checkOptions, checkSteps } from './validate.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link joinSchedules}. */
export interface JoinSchedulesOptions {
  /** The schedules to apply in turn (at least one). Each gets the steps since its boundary. */
  schedules: readonly Schedule[];
  /** When to switch to the next schedule: `schedules.length - 1` strictly increasing steps `>= 0`. */
  boundaries: readonly number[];
  /**
   * `'float32'` (JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). Default: the mode of the optax-ts
   * schedules joined, else `'float32'`. It only matters when every joined value is a Python float.
   */
  dtype?: Dtype;
}

/**
 * Applies schedules one after another (optax's `join_schedules`): with boundaries `b_1 < ... < b_n`,
 *
 * ```text
 * schedule(t) = schedules[0](t)              if t < b_1
 *               schedules[i](t - b_i)        if b_i <= t < b_(i+1)
 *               schedules[n](t - b_n)        if t >= b_n
 * ```
 *
 * optax folds `output = jnp.where(t < b_i, output, schedules[i](t - b_i))`, and `jnp.where` promotes
 * the two branches to a common type, which can round the chosen value: under x64 a float32 schedule
 * (linear, exponential) joined with a float64 one (cosine decay, whose value is weakly typed) gives
 * float32, so the cosine part is computed in float64 and then rounded to float32 -- as
 * `warmupCosineDecaySchedule` does. optax-ts schedules carry their type, so this is reproduced exactly;
 * any other function is treated as returning a Python float. Only the chosen schedule is called.
 *
 * Rejected (OptaxError): an empty `schedules` list, a non-function in it,
 * `boundaries.length !== schedules.length - 1`, boundaries that are negative, non-integer, beyond int32
 * or not strictly increasing, schedules built for different dtypes (or a `dtype` that contradicts
 * them); and, when called, a step count that is not an int32.
 *
 * @param options - `schedules`, `boundaries` (required); `dtype` (default: the joined schedules' mode, else `'float32'`). See {@link JoinSchedulesOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { constantSchedule, joinSchedules, linearSchedule } from 'optax-ts';
 * const schedule = joinSchedules({
 *   schedules: [linearSchedule({ initValue: 0, endValue: 1, transitionSteps: 10 }), constantSchedule({ value: 0.5 })],
 *   boundaries: [10],
 * });
 * console.log(schedule(3), schedule(10), schedule(50)); // 0.30000001192092896 0.5 0.5
 * ```
 */
export function joinSchedules(options: JoinSchedulesOptions): Schedule {
  return recordCall(joinCore('joinSchedules', options), 'join_schedules', [options]);
}

/** {@link joinSchedules}, with `fn` naming the public factory in error messages (e.g. sgdrSchedule). */
export function joinCore(fn: string, options: JoinSchedulesOptions): Schedule {
  checkOptions(fn, options, ['schedules', 'boundaries', 'dtype']);
  const { schedules, boundaries } = options;
  if (!Array.isArray(schedules)) throw new OptaxError(`${fn}: schedules must be an array of schedules, got ${typeof schedules}`);
  if (schedules.length === 0) throw new OptaxError(`${fn}: schedules must not be empty`);
  if (!Array.isArray(boundaries)) throw new OptaxError(`${fn}: boundaries must be an array of steps, got ${typeof boundaries}`);
  if (boundaries.length !== schedules.length - 1) {
    throw new OptaxError(`${fn}: boundaries must have schedules.length - 1 = ${schedules.length - 1} entries, got ${boundaries.length}`);
  }
  schedules.forEach((s, i) => {
    if (typeof s !== 'function') throw new OptaxError(`${fn}: schedules[${i}] must be a function of the step count, got ${s === null ? 'null' : typeof s}`);
  });
  boundaries.forEach((b, i) => {
    checkSteps(fn, `boundaries[${i}]`, b);
    if (i > 0 && !(b > boundaries[i - 1])) {
      throw new OptaxError(`${fn}: boundaries must be strictly increasing, got boundaries[${i - 1}] = ${boundaries[i - 1]} then boundaries[${i}] = ${b}`);
    }
  });

  // The JAX mode: from the optax-ts schedules (they must agree), else the option, else float32.
  let mode: Dtype | undefined = options.dtype === undefined ? undefined : checkDtype(fn, options.dtype);
  const kinds: ValueKind[] = schedules.map((s, i) => {
    const info = scheduleInfo(s);
    if (info === undefined) return 'python';
    if (mode !== undefined && info.mode !== mode) {
      throw new OptaxError(`${fn}: schedules[${i}] was built with dtype '${info.mode}' but the join is '${mode}'; JAX's x64 mode is global, so all must agree`);
    }
    mode = info.mode;
    return info.kind;
  });
  const jaxMode: Dtype = mode ?? 'float32';

  // promoted[i]: the type of `output` after the i-th where (promoted[0]: schedules[0]'s own type).
  const promoted: ValueKind[] = [kinds[0]];
  for (let i = 1; i < kinds.length; i++) promoted.push(promoteKinds(promoted[i - 1], kinds[i]));
  const subs = schedules.slice();
  const bounds = boundaries.slice();
  // Traced, the join itself adds no float arithmetic (int32 subtractions, wheres): it calls the traced
  // form of each joined schedule (a foreign function runs as it is either way).

  return defineSchedule(fn, jaxMode, promoted[promoted.length - 1], (step, a) => {
    // optax: output = schedules[0](step); for each boundary, output = where(step < b, output,
    // schedules[i](step - b)), each where promoting both branches to the common type. Only the
    // selected branch is computed by a number interpretation; in the graph, both.
    type Value = ReturnType<typeof a.add>;
    const branch = (j: number): Value => {
      let value = a.call(subs[j], j === 0 ? step : a.subInt(step, bounds[j - 1]));
      if (!a.isValue(value)) throw new OptaxError(`${fn}: schedules[${j}] returned ${typeof value}, expected a number`);
      if (j > 0) value = convertKind(a, jaxMode, kinds[j], promoted[j], value);
      return value;
    };
    // Thunks, so that a number interpretation computes only the selected schedule.
    let output = (): Value => branch(0);
    for (let i = 1; i < subs.length; i++) {
      const previous = output;
      output = () => a.select(a.lt(step, bounds[i - 1]), () => convertKind(a, jaxMode, promoted[i - 1], promoted[i], previous()), () => branch(i));
    }
    return output();
  });
}

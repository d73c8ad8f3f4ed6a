/**
 * What JAX type a schedule's value has, so that `joinSchedules` can promote like `jnp.where` does.
 *
 * optax's schedules do not all return the same type, and which one decides the bits:
 * - `'python'`: a Python float returned as is (`constant_schedule`, and the fallbacks that return
 *   `init_value`), never rounded: even in 32-bit mode it is the double.
 * - `'weak'`: a weakly typed array of JAX's default float dtype (float32, or float64 with x64). An int32
 *   count meeting a Python float (`jnp.minimum(count, float(decay_steps))`) gives this.
 * - `'float32'`: a strongly typed float32 array, in both modes. `count / transition_steps` with an int32
 *   count is float32 even under x64 (jnp's true_divide turns int32 into float32), so every schedule
 *   built on such a ratio is float32.
 * - `'float64'`: a strongly typed float64 array (x64 mode only): `piecewise_interpolate_schedule`'s
 *   `jnp.cumprod` drops weak typing.
 *
 * `jnp.where(c, a, b)` promotes: python+python -> weak; python+X -> X; weak+float32 -> float32 (so an
 * x64 weak float64 value is rounded to float32); weak+float64 -> float64; float32+float64 -> float64.
 *
 * @internal
 */
import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { type ScheduleArith, type ScheduleFormula, eagerArith, setTracedFormLookup, tracedArith } from './arith.js';
import { toDtype } from './float.js';
import { checkCount } from './validate.js';

/** The JAX type of a schedule's value (see the module comment). */
export type ValueKind = 'python' | 'weak' | 'float32' | 'float64';

/** What optax-ts knows about one of its own schedules. */
export interface ScheduleInfo {
  /** The JAX mode it was built for. */
  readonly mode: Dtype;
  /** The type of its value. */
  readonly kind: ValueKind;
}

/**
 * The traced form of each schedule that has one (optax-ts schedules, and functions of them): the
 * schedule as optax computes it inside `apply_if_finite`'s or `MultiSteps`' `lax.cond` (./arith.ts).
 */
const tracedForms = new WeakMap<Schedule, Schedule>();

const registry = new WeakMap<Schedule, ScheduleInfo>();

/** The formula of each optax-ts schedule (and function of one), for other interpretations (the jax-js adapter's). */
const formulas = new WeakMap<Schedule, ScheduleFormula>();

/**
 * Wraps a formula (which may assume an int32 count) into a public schedule that checks its count, and
 * records its type for {@link joinSchedules} and its formula for {@link scheduleFormula}. The formula
 * does its arithmetic through the {@link ScheduleArith} it is given, so the same formula also gives the
 * traced schedule ({@link tracedSchedule}) and the jax-js adapter's in-graph one.
 */
export function defineSchedule(name: string, mode: Dtype, kind: ValueKind, formula: ScheduleFormula): Schedule {
  const schedule: Schedule = (count: number) => formula(checkCount(name, count), eagerArith) as number;
  registry.set(schedule, { mode, kind });
  formulas.set(schedule, formula);
  tracedForms.set(schedule, (count: number) => formula(checkCount(name, count), tracedArith) as number);
  return schedule;
}

/** The formula of an optax-ts schedule (see {@link defineSchedule}), or undefined for any other function. */
export function scheduleFormula(schedule: Schedule): ScheduleFormula | undefined {
  return formulas.get(schedule);
}

/**
 * The schedule as optax evaluates it inside a traced computation (`apply_if_finite`, `MultiSteps`):
 * the traced form of an optax-ts schedule (or of a function of one, {@link mapSchedule}); the schedule
 * itself for any other function (a JS function is opaque).
 */
export function tracedSchedule(schedule: Schedule): Schedule {
  return tracedForms.get(schedule) ?? schedule;
}
setTracedFormLookup(tracedSchedule);

/** Whether `schedule` has a traced form of its own (see {@link tracedSchedule}). */
export function hasTracedForm(schedule: Schedule): boolean {
  return tracedForms.has(schedule);
}

/**
 * `count => f(schedule, count)`, keeping the traced form: its traced form is `f(traced, count)` with
 * the schedule's traced form. For `f` whose own arithmetic is the same traced or not (e.g. optax's
 * `m * learning_rate(count)` with `m = ±1`, exact either way). `g` is `f` on the schedule's value in
 * any interpretation (`g(value, arith)`), which keeps the formula for the jax-js adapter.
 */
export function mapSchedule(schedule: Schedule, f: (schedule: Schedule, count: number) => number, g?: <V, B>(value: V | number, arith: ScheduleArith<V, B>) => V | number): Schedule {
  const mapped: Schedule = (count: number) => f(schedule, count);
  const traced = tracedForms.get(schedule);
  if (traced) tracedForms.set(mapped, (count: number) => f(traced, count));
  const formula = formulas.get(schedule);
  if (formula && g) formulas.set(mapped, (count, arith) => g(formula(count, arith), arith));
  return mapped;
}

/** The recorded type of an optax-ts schedule, or undefined for any other function. */
export function scheduleInfo(schedule: Schedule): ScheduleInfo | undefined {
  return registry.get(schedule);
}

/** The type of `jnp.where(c, a, b)` for values of types `a` and `b`. */
export function promoteKinds(a: ValueKind, b: ValueKind): ValueKind {
  if (a === 'python' && b === 'python') return 'weak';
  if (a === b) return a;
  if (a === 'python') return b;
  if (b === 'python') return a;
  if (a === 'float64' || b === 'float64') return 'float64';
  return 'float32'; // weak + float32
}

/** The dtype a value of `kind` is stored in (`undefined` for a Python float: a double, never rounded). */
export function kindDtype(mode: Dtype, kind: ValueKind): Dtype | undefined {
  if (kind === 'python') return undefined;
  if (kind === 'weak') return mode;
  return kind;
}

/**
 * Converts a value of type `from` to type `to`. A Python float is cast on the host (numpy: plain
 * rounding); an array is converted by XLA (rounding, then flush-to-zero).
 */
export function convertKind<V, B>(arith: ScheduleArith<V, B>, mode: Dtype, from: ValueKind, to: ValueKind, x: V | number): V | number {
  const d = kindDtype(mode, to);
  if (d === undefined) return x;
  return from === 'python' && typeof x === 'number' ? toDtype(d, x) : arith.convert(d, x);
}

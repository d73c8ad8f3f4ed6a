import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { fromInt, toDtype } from './float.js';
import { defineSchedule } from './typed.js';
import { warn } from '../core/warnings.js';
import { checkBoolean, checkDtype, checkFinite, checkOptionalFinite, checkOptions, checkPositive, checkTransitionBegin, checkTransitionSteps, optaxName } from './validate.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link exponentialDecay}. */
export interface ExponentialDecayOptions {
  /** The initial value. */
  initValue: number;
  /**
   * The steps `T` per factor of `decayRate` (an integer in `[1, 2^31-1]`). Any number `<= 0` gives the
   * constant schedule `initValue`, with a warning, as optax does.
   */
  transitionSteps: number;
  /**
   * The decay rate `r` (finite, `> 0`; `> 1` makes it a growth). `0` gives the constant schedule
   * `initValue`, with a warning, as optax does.
   */
  decayRate: number;
  /**
   * Steps `B` before decaying starts, the value being held at `initValue` (default 0). A negative one
   * falls back to 0 with a warning, as in optax.
   */
  transitionBegin?: number;
  /** If true, decay in discrete steps: the exponent is `floor((t - B) / T)` (default false). */
  staircase?: boolean;
  /**
   * Where the decay stops (default: none): a floor when `decayRate < 1`, a ceiling otherwise.
   */
  endValue?: number;
  /** `'float32'` (default: JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). */
  dtype?: Dtype;
}

/**
 * Exponential decay (optax's `exponential_decay`):
 *
 * ```text
 * schedule(t) = initValue                                    if t <= B
 *               initValue * decayRate ** ((t - B) / T)       otherwise
 * ```
 *
 * with `B = transitionBegin`, `T = transitionSteps`; with `staircase` the exponent is
 * `floor((t - B) / T)`. With `endValue`, the result is `max(value, endValue)` when `decayRate < 1`
 * and `min(value, endValue)` otherwise.
 *
 * Computed in float32 in both modes, as optax does: the exponent `(t - B) / T` of an int32 count is a
 * float32 even under x64, and every Python float meeting it is cast to float32 (so `endValue: 0.05`
 * comes back as 0.05000000074505806). `decayRate ** p` is float32 `pow`.
 *
 * Accepted with a warning, as optax logs and carries on (see `setWarningHandler`): `transitionSteps <= 0`
 * or `decayRate === 0` give the constant schedule `initValue`, unrounded (optax returns the Python
 * float); a negative `transitionBegin` is taken as 0.
 *
 * Rejected (OptaxError): non-finite `initValue`/`decayRate`/`endValue`, `decayRate < 0`
 * (optax gives NaNs), a positive `transitionSteps` or a `transitionBegin` that is non-integer or beyond
 * int32, a non-boolean `staircase`, an unknown `dtype`; and, when called, a step count that is not an
 * int32.
 *
 * @param options - `initValue`, `transitionSteps`, `decayRate` (required); `transitionBegin` (default 0), `staircase` (default false), `endValue` (default none), `dtype` (default `'float32'`). See {@link ExponentialDecayOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { exponentialDecay } from 'optax-ts';
 * const schedule = exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: 0.5, endValue: 0.1 });
 * console.log(schedule(0), schedule(5), schedule(7), schedule(100)); // 1 0.5 0.37892913818359375 0.10000000149011612
 * ```
 *
 * A zero `decayRate` (or `transitionSteps <= 0`) is accepted, as optax accepts it, with a warning:
 * ```ts
 * import { exponentialDecay, setWarningHandler } from 'optax-ts';
 * const warnings: string[] = [];
 * const previous = setWarningHandler((w) => warnings.push(`${w.source}: ${w.message}`));
 * const constant = exponentialDecay({ initValue: 0.3, transitionSteps: 5, decayRate: 0 });
 * setWarningHandler(previous);
 * console.log(constant(0), constant(100), warnings); // 0.3 0.3 [ 'exponential_decay: decayRate is 0: the schedule is the constant initValue (0.3)' ]
 * ```
 */
export function exponentialDecay(options: ExponentialDecayOptions): Schedule {
  const fn = 'exponentialDecay';
  checkOptions(fn, options, ['initValue', 'transitionSteps', 'decayRate', 'transitionBegin', 'staircase', 'endValue', 'dtype']);
  const initValue = checkFinite(fn, 'initValue', options.initValue);
  const staircase = checkBoolean(fn, 'staircase', options.staircase ?? false);
  const endValue = checkOptionalFinite(fn, 'endValue', options.endValue);
  const mode = checkDtype(fn, options.dtype);

  // optax checks, in this order: `transition_steps <= 0`, then `decay_rate == 0` (each: log, and return
  // the constant schedule `lambda count: init_value` -- the Python float itself), then a negative
  // `transition_begin` (log, and use 0).
  const constant = (): Schedule => {
    checkOptionalFinite(fn, 'transitionBegin', options.transitionBegin);
    return defineSchedule(fn, mode, 'python', () => initValue);
  };
  const steps = checkTransitionSteps(fn, 'transitionSteps', options.transitionSteps, initValue);
  if (steps === undefined) {
    checkFinite(fn, 'decayRate', options.decayRate);
    return constant();
  }
  if (options.decayRate === 0) {
    warn(optaxName(fn), `decayRate is 0: the schedule is the constant initValue (${initValue})`);
    return constant();
  }
  const rate = checkPositive(fn, 'decayRate', options.decayRate, ' (optax gives NaN for a negative rate)');
  const begin = checkTransitionBegin(fn, options.transitionBegin ?? 0);

  const d: Dtype = 'float32'; // int32 / int -> float32, in both modes
  const init = toDtype(d, initValue);
  const rateF = toDtype(d, rate);
  const stepsF = fromInt(d, steps);
  const end = endValue === undefined ? undefined : toDtype(d, endValue);
  const floor = rate < 1; // optax: clip_fn = jnp.maximum if decay_rate < 1.0 else jnp.minimum
  return recordCall(defineSchedule(fn, mode, 'float32', (count, arith) => {
    const decreased = arith.subInt(count, begin); // int32 arithmetic (it wraps)
    let p = arith.divConst(d, arith.fromInt(d, decreased), stepsF); // traced: times float32(1 / T)
    if (staircase) p = arith.floor(p);
    // jnp.where(decreased_count <= 0, init_value, init_value * decay_rate ** p): both branches are
    // float32 (the Python init_value is cast by the where).
    const value = arith.select(arith.le(decreased, 0), () => init, () => arith.mul(d, init, arith.pow(d, rateF, p)));
    if (end === undefined) return value;
    return floor ? arith.max(value, end) : arith.min(value, end);
  }), 'exponential_decay', [options]);
}

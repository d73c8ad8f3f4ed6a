import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { fromInt, toDtype } from './float.js';
import { defineSchedule } from './typed.js';
import { checkAtLeast, checkDtype, checkFinite, checkLongSteps, checkOptions } from './validate.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link cosineDecaySchedule}. */
export interface CosineDecayScheduleOptions {
  /** The initial value `I`. */
  initValue: number;
  /**
   * The number of steps `T` to decay over: an integer `>= 1`, not bounded by int32 (optax converts it to
   * a float, so `1e10` works; it is then rounded to the schedule's dtype, like every Python float).
   */
  decaySteps: number;
  /** The minimum multiplier `alpha`: the value ends at `alpha * I` (default 0). */
  alpha?: number;
  /** The exponent `p` applied to the cosine factor (finite, `>= 0`; default 1), taken as a Python float (`pow`). */
  exponent?: number;
  /** `'float32'` (default: JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). */
  dtype?: Dtype;
}

/**
 * Cosine decay (optax's `cosine_decay_schedule`, from Loshchilov & Hutter's SGDR):
 *
 * ```text
 * schedule(t) = alpha * I + (1 - alpha) * I * (0.5 * (1 + cos(pi * t / T)))^p   if t <= T
 *               alpha * I                                                   if t > T
 * ```
 *
 * computed as optax does: `I * ((1 - alpha) * (0.5 * (1 + cos(pi * min(t, T) / T)))^p + alpha)`.
 * This one is computed in JAX's *default* float dtype: `jnp.minimum(count, float(decay_steps))` mixes
 * the int32 count with a Python float, which gives a weakly typed default float -- float32 in 32-bit
 * mode, float64 under x64 (unlike the linear and exponential schedules, which are float32 in both).
 * `exponent` is taken as a Python float, like optax's default `1.0`: the power is `pow` (for an
 * exponent of 3, optax with a Python int `3` would multiply instead and can differ by an ulp).
 *
 * `decaySteps` may exceed int32: optax converts a Python int `decay_steps` to a float "to avoid
 * int -> int32 overflow", so with `decaySteps: 1e10` the schedule at count 1e9 is
 * `1000 * 0.5 * (1 + cos(pi * 1e9 / 1e10))`, each operation rounded to the dtype.
 *
 * Rejected (OptaxError): `decaySteps` that is not an integer `>= 1` (optax raises for
 * `decay_steps <= 0` too), non-finite `initValue`/`alpha`/`exponent`, a negative `exponent`
 * (infinite at `t = T`), an unknown `dtype`; and, when called, a step count that is not an int32.
 *
 * @param options - `initValue`, `decaySteps` (required); `alpha` (default 0), `exponent` (default 1, a Python float), `dtype` (default `'float32'`). See {@link CosineDecayScheduleOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { cosineDecaySchedule } from 'optax-ts';
 * const schedule = cosineDecaySchedule({ initValue: 1, decaySteps: 20, alpha: 0.1 });
 * console.log(schedule(10), schedule(10000)); // 0.5499999523162842 0.10000000149011612
 * const x64 = cosineDecaySchedule({ initValue: 1, decaySteps: 20, alpha: 0.1, dtype: 'float64' });
 * console.log(x64(10), x64(10000)); // 0.55 0.1
 * const giant = cosineDecaySchedule({ initValue: 1000, decaySteps: 1e10 }); // optax's own test
 * console.log(giant(1e9)); // 975.5282592773438
 * ```
 */
export function cosineDecaySchedule(options: CosineDecayScheduleOptions): Schedule {
  const fn = 'cosineDecaySchedule';
  checkOptions(fn, options, ['initValue', 'decaySteps', 'alpha', 'exponent', 'dtype']);
  const initValue = checkFinite(fn, 'initValue', options.initValue);
  const decaySteps = checkLongSteps(fn, 'decaySteps', options.decaySteps, 1);
  const alpha = checkFinite(fn, 'alpha', options.alpha ?? 0);
  const exponent = checkAtLeast(fn, 'exponent', options.exponent ?? 1, 0, ' (a negative exponent is infinite at t = decaySteps)');
  const mode = checkDtype(fn, options.dtype);

  const d = mode; // the default float dtype: the value is weakly typed
  const steps = toDtype(d, decaySteps); // float(decay_steps), cast to d
  const pi = toDtype(d, Math.PI); // jnp.pi (a Python float)
  const oneMinusAlpha = toDtype(d, 1 - alpha); // Python arithmetic, then cast
  const alphaD = toDtype(d, alpha);
  const init = toDtype(d, initValue);
  // optax's exponent is a Python float (default 1.0), so `cosine_decay**exponent` is lax.pow (libm
  // pow), not lax.integer_pow: pow(x, 3.0) differs from (x*x)*x by an ulp at some steps.
  const exponentD = toDtype(d, exponent);
  return recordCall(defineSchedule(fn, mode, 'weak', (count, arith) => {
    const t = arith.min(arith.fromInt(d, count), steps);
    // `jnp.pi * count / decay_steps`: traced, `t * fold(pi * (1 / T))` (schedules/arith.ts).
    const cosine = arith.mul(d, 0.5, arith.add(d, 1, arith.cos(d, arith.scaleDivConst(d, pi, t, steps))));
    const powered = arith.powConst(d, cosine, exponentD);
    // Traced with exponent 1, XLA also folds `(1 - alpha) * (0.5 * x)` into `x * (0.5 * (1 - alpha))`:
    // the same bits, since multiplying by 0.5 is exact.
    return arith.mul(d, init, arith.mulAdd(d, oneMinusAlpha, powered, alphaD));
  }), 'cosine_decay_schedule', [options]);
}

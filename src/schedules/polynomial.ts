import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { fromInt, toDtype } from './float.js';
import { intPow } from './arith.js';
import { defineSchedule } from './typed.js';
import { checkAtLeast, checkDtype, checkFinite, checkOptionalFinite, checkOptions, checkTransitionBegin, checkTransitionSteps } from './validate.js';
import { recordCall } from '../spec/record.js';

/** Options of {@link polynomialSchedule}. */
export interface PolynomialScheduleOptions {
  /** Initial value of the scalar to be annealed. */
  initValue: number;
  /** End value of the scalar to be annealed. */
  endValue: number;
  /**
   * The power `P` of the polynomial used to transition from init to end (finite, `>= 0`). An
   * integer-valued power is taken as a Python int, as in optax's `power=2`: it is evaluated by repeated
   * float32 products (`lax.integer_pow`); any other power with float32 `pow`.
   */
  power: number;
  /**
   * Number of steps `T` over which annealing takes place (an integer in `[1, 2^31-1]`). Any number
   * `<= 0` disables annealing, as in optax: a warning (see `setWarningHandler`), then the schedule
   * returns `initValue` for every step.
   */
  transitionSteps: number;
  /**
   * Steps `B` before annealing starts, the value being held at `initValue` (default 0). A negative one
   * falls back to 0 with a warning, as in optax.
   */
  transitionBegin?: number;
  /** `'float32'` (default: JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). */
  dtype?: Dtype;
}

/** The shared implementation of polynomialSchedule / linearSchedule (`fn` names the caller in errors). */
export function polynomialCore(fn: string, options: PolynomialScheduleOptions, stepsName = 'transitionSteps'): Schedule {
  checkOptions(fn, options, ['initValue', 'endValue', 'power', 'transitionSteps', 'transitionBegin', 'dtype']);
  const initValue = checkFinite(fn, 'initValue', options.initValue);
  const endValue = checkFinite(fn, 'endValue', options.endValue);
  const power = checkAtLeast(fn, 'power', options.power, 0, ' (a negative power is infinite at the end of the transition)');
  const mode = checkDtype(fn, options.dtype);
  // optax: `if transition_steps <= 0: logging.info(...); return lambda count: init_value` -- the Python
  // float itself, before transition_begin is looked at.
  const steps = checkTransitionSteps(fn, stepsName, options.transitionSteps, initValue);
  if (steps === undefined) {
    checkOptionalFinite(fn, 'transitionBegin', options.transitionBegin);
    return defineSchedule(fn, mode, 'python', () => initValue);
  }
  const begin = checkTransitionBegin(fn, options.transitionBegin ?? 0);

  // Always float32, in both modes: `count / transition_steps` divides an int32 array by a Python int,
  // and jnp.true_divide promotes int32 to float32 (not to the default float), even under x64. Every
  // Python float that meets that float32 array is cast to float32.
  const d: Dtype = 'float32';
  const scale = toDtype(d, initValue - endValue); // (init_value - end_value) is Python arithmetic
  const end = toDtype(d, endValue);
  const stepsF = fromInt(d, steps);
  // A Python int power (the natural reading of an integer-valued number) goes through
  // lax.integer_pow (repeated float32 products); any other power through lax.pow.
  const integerPower = Number.isSafeInteger(power);
  const powerF = toDtype(d, power);
  return defineSchedule(fn, mode, 'float32', (count, arith) => {
    // count = clip(count - transition_begin, 0, transition_steps): int32 arithmetic (it wraps).
    const c = arith.clampInt(arith.subInt(count, begin), 0, steps);
    // Traced: `1 - c * (1 / T)`, contracted into one fused multiply-add (schedules/arith.ts).
    const frac = arith.oneMinusDivConst(d, arith.fromInt(d, c), stepsF);
    // integer_pow is lowered to the same multiplications traced or not (`frac ** 1` is `frac`).
    const p = integerPower ? intPow(arith, d, frac, power) : arith.powConst(d, frac, powerF);
    return arith.mulAdd(d, scale, p, end);
  });
}

/**
 * A schedule with a polynomial transition from `initValue` to `endValue` (optax's
 * `polynomial_schedule`). With `I = initValue`, `E = endValue`, `B = transitionBegin`,
 * `T = transitionSteps`, `P = power`:
 *
 * ```text
 * schedule(t) = I                                  if t < B
 *               (I - E) * (1 - (t - B) / T)^P + E   if B <= t < B + T
 *               E                                  if t >= B + T
 * ```
 *
 * Computed in float32 in both modes (see the source: the ratio `(t - B) / T` of an int32 count is
 * float32 even under x64), one rounding per operation in optax's order; an integer `power` is
 * evaluated by repeated multiplication, as `lax.integer_pow` does for a Python int power.
 *
 * Accepted with a warning, as optax logs and carries on (see `setWarningHandler`): `transitionSteps <= 0`
 * gives the constant schedule `initValue`, unrounded (optax returns the Python float); a negative
 * `transitionBegin` is taken as 0.
 *
 * Rejected (OptaxError): non-finite `initValue`/`endValue`/`power`, a negative `power`,
 * a positive `transitionSteps` or a `transitionBegin` that is non-integer or beyond int32, an unknown
 * `dtype`; and, when called, a step count that is not an int32.
 *
 * @param options - `initValue`, `endValue`, `power`, `transitionSteps` (required); `transitionBegin` (default 0); `dtype` (default `'float32'`). An integer-valued `power` is taken as a Python int (optax's `power=2`). See {@link PolynomialScheduleOptions}.
 * @returns The schedule: a function of the int32 step count.
 *
 * @example
 * ```ts
 * import { polynomialSchedule } from 'optax-ts';
 * const schedule = polynomialSchedule({ initValue: 1, endValue: 0.01, power: 2, transitionSteps: 100 });
 * console.log(schedule(0), schedule(50), schedule(100)); // 1 0.2574999928474426 0.009999999776482582
 * ```
 *
 * `transitionSteps <= 0` is accepted, as optax accepts it, with a warning:
 * ```ts
 * import { polynomialSchedule, setWarningHandler } from 'optax-ts';
 * const warnings: string[] = [];
 * const previous = setWarningHandler((w) => warnings.push(w.message));
 * const constant = polynomialSchedule({ initValue: 1, endValue: 0.01, power: 2, transitionSteps: -1 });
 * setWarningHandler(previous);
 * console.log(constant(50), warnings); // 1 [ 'transitionSteps is -1 (<= 0): the schedule is the constant initValue (1)' ]
 * ```
 */
export function polynomialSchedule(options: PolynomialScheduleOptions): Schedule {
  return recordCall(polynomialCore('polynomialSchedule', options), 'polynomial_schedule', [options]);
}

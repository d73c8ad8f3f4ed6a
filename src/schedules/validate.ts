/**
 * Argument checks shared by the schedule factories. Every message names the factory, the argument and
 * the bad value, e.g. `linearSchedule: transitionSteps must be an integer >= 0, got -3`.
 *
 * @internal
 */
import { OptaxError } from '../core/errors.js';
import { describe, isDictNode } from '../tree/node.js';
import type { Dtype } from '../core/dtype.js';
import { warn } from '../core/warnings.js';

const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;

function show(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x);
  if (typeof x === 'number' && Object.is(x, -0)) return '-0';
  if (typeof x === 'object' && x !== null) return Array.isArray(x) ? 'an array' : 'an object';
  return String(x);
}

/**
 * The options object itself: a plain object, holding none but the schedule's own `keys` (a misspelt
 * option such as `decaySteps` for `transitionSteps` would otherwise be silently ignored).
 */
export function checkOptions(fn: string, options: unknown, keys: readonly string[]): void {
  if (!isDictNode(options)) {
    throw new OptaxError(`${fn}: expected an options object, got ${describe(options)}`);
  }
  for (const k of Object.keys(options)) {
    if (!keys.includes(k)) throw new OptaxError(`${fn}: unknown option ${JSON.stringify(k)}; the options are ${keys.join(', ')}`);
  }
}

/** `dtype`: `'float32'` (the default, JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). */
export function checkDtype(fn: string, dtype: unknown): Dtype {
  if (dtype === undefined) return 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new OptaxError(`${fn}: dtype must be 'float32' or 'float64', got ${show(dtype)}`);
  }
  return dtype;
}

/** A finite number (NaN and infinities are rejected: they would silently poison every value). */
export function checkFinite(fn: string, name: string, x: unknown): number {
  if (typeof x !== 'number') throw new OptaxError(`${fn}: ${name} must be a number, got ${x === undefined ? 'undefined' : typeof x === 'object' ? show(x) : `${typeof x} ${show(x)}`}`);
  if (!Number.isFinite(x)) throw new OptaxError(`${fn}: ${name} must be finite, got ${show(x)}`);
  return x;
}

/** A finite number, or undefined (the option is absent). */
export function checkOptionalFinite(fn: string, name: string, x: unknown): number | undefined {
  return x === undefined ? undefined : checkFinite(fn, name, x);
}

/** A finite number `>= min`. */
export function checkAtLeast(fn: string, name: string, x: unknown, min: number, why = ''): number {
  const v = checkFinite(fn, name, x);
  if (!(v >= min)) throw new OptaxError(`${fn}: ${name} must be >= ${min}${why}, got ${show(v)}`);
  return v;
}

/** A finite number `> 0`. */
export function checkPositive(fn: string, name: string, x: unknown, why = ''): number {
  const v = checkFinite(fn, name, x);
  if (!(v > 0)) throw new OptaxError(`${fn}: ${name} must be > 0${why}, got ${show(v)}`);
  return v;
}

/**
 * A step number: an integer in `[min, 2^31-1]`. optax's counts are int32 and jnp raises an overflow
 * error for a Python int step beyond int32 when it meets the int32 count.
 */
export function checkSteps(fn: string, name: string, x: unknown, min = 0): number {
  if (typeof x !== 'number') throw new OptaxError(`${fn}: ${name} must be an integer number of steps, got ${x === undefined ? 'undefined' : `${typeof x} ${show(x)}`}`);
  if (!Number.isInteger(x)) throw new OptaxError(`${fn}: ${name} must be an integer number of steps, got ${show(x)}`);
  if (x < min || x > INT32_MAX) throw new OptaxError(`${fn}: ${name} must be an integer in [${min}, ${INT32_MAX}], got ${show(x)}`);
  return x;
}

/** A boolean option. */
export function checkBoolean(fn: string, name: string, x: unknown): boolean {
  if (typeof x !== 'boolean') throw new OptaxError(`${fn}: ${name} must be a boolean, got ${typeof x} ${show(x)}`);
  return x;
}

/** The step count a schedule is called with: an int32, like optax's count. */
export function checkCount(fn: string, count: unknown): number {
  if (typeof count !== 'number') throw new OptaxError(`${fn}: the step count must be a number, got ${typeof count}`);
  if (!Number.isInteger(count) || count < INT32_MIN || count > INT32_MAX) {
    throw new OptaxError(`${fn}: the step count must be an int32 integer, got ${show(count)}`);
  }
  return count;
}

/** Re-throws a nested factory's error with a prefix naming where it came from. */
export function rethrowWithin(prefix: string, e: unknown): never {
  if (e instanceof OptaxError) throw new OptaxError(`${prefix}: ${e.message}`);
  throw e;
}

/** optax's name of a factory: `polynomialSchedule` → `polynomial_schedule`. */
export function optaxName(fn: string): string {
  return fn.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * A transition length as optax reads it: any number `<= 0` (optax: `if transition_steps <= 0:` log, and
 * return the constant schedule `init_value`) warns and gives `undefined`, meaning "constant"; anything
 * else must be a step number in `[1, 2^31-1]`. NaN is rejected (optax would build a NaN schedule).
 */
export function checkTransitionSteps(fn: string, name: string, x: unknown, initValue: number): number | undefined {
  if (typeof x === 'number' && x <= 0) {
    warn(optaxName(fn), `${name} is ${show(x)} (<= 0): the schedule is the constant initValue (${initValue})`);
    return undefined;
  }
  return checkSteps(fn, name, x, 1);
}

/**
 * A `transitionBegin` as optax reads it: a negative number warns and falls back to 0 (optax logs and
 * sets `transition_begin = 0`); otherwise a step number in `[0, 2^31-1]`.
 */
export function checkTransitionBegin(fn: string, x: unknown): number {
  if (typeof x === 'number' && x < 0) {
    warn(optaxName(fn), `transitionBegin is ${show(x)} (< 0): it falls back to 0`);
    return 0;
  }
  return checkSteps(fn, 'transitionBegin', x);
}

/**
 * A step length that never meets the int32 count as an integer, so it is not bounded by int32 (optax's
 * `cosine_decay_schedule` turns a Python int `decay_steps` into a float "to avoid int -> int32
 * overflow"): an integer `>= min`, as large as a double holds.
 */
export function checkLongSteps(fn: string, name: string, x: unknown, min: number): number {
  if (typeof x !== 'number') throw new OptaxError(`${fn}: ${name} must be an integer number of steps, got ${x === undefined ? 'undefined' : `${typeof x} ${show(x)}`}`);
  if (!Number.isInteger(x) || x < min) throw new OptaxError(`${fn}: ${name} must be an integer >= ${min}, got ${show(x)}`);
  return x;
}

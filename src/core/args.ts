import { OptaxError } from './errors.js';
import { describe } from '../tree/node.js';

/**
 * Argument checks for the public helpers that take lists, functions, shapes and dtypes: each throws an
 * OptaxError naming the function and the argument, so that a wrong call never surfaces as a raw
 * TypeError from deep inside. (Trees and options have their own single checks: validateTree,
 * readOptions.)
 */

/** `x` must be a list (an Array). */
export function expectList(owner: string, name: string, x: unknown): asserts x is readonly unknown[] {
  if (!Array.isArray(x)) throw new OptaxError(`${owner}: ${name} must be a list, got ${describe(x)}`);
}

/** `x` must be a function. */
export function expectFunction(owner: string, name: string, x: unknown): asserts x is (...args: never[]) => unknown {
  if (typeof x !== 'function') throw new OptaxError(`${owner}: ${name} must be a function, got ${describe(x)}`);
}

/** `x` must be a string. */
export function expectString(owner: string, name: string, x: unknown): asserts x is string {
  if (typeof x !== 'string') throw new OptaxError(`${owner}: ${name} must be a string, got ${describe(x)}`);
}

/** `x` must be a Float32Array or Float64Array. */
export function expectFloatArray(owner: string, name: string, x: unknown): asserts x is Float32Array | Float64Array {
  if (!(x instanceof Float32Array || x instanceof Float64Array)) throw new OptaxError(`${owner}: ${name} must be a Float32Array or Float64Array, got ${describe(x)}`);
}

/** `x` must be a shape: a list of at most 64 non-negative safe integers whose product is a safe integer. */
export function expectShape(owner: string, name: string, x: unknown): asserts x is readonly number[] {
  expectList(owner, name, x);
  let size = 1;
  const ok = x.length <= 64 && x.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0 && Number.isSafeInteger((size *= d)));
  if (!ok) throw new OptaxError(`${owner}: ${name} must be a shape (at most 64 non-negative integers), got ${describe(x)}`);
}

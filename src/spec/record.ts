/**
 * Which factory call made a transformation or schedule: what {@link toSpec} reads to describe it as
 * data. Each of the library's factories records its own call as it returns; a transformation or
 * function made any other way has no record and cannot be described.
 * @internal
 */

/** A recorded call: optax's name for the factory, and the arguments it was given. */
export interface RecordedCall {
  readonly name: string;
  readonly args: readonly unknown[];
}

const calls = new WeakMap<object, RecordedCall>();

/**
 * Records that `value` was returned by the factory optax calls `name`, called with `args`, and
 * returns `value`. Options objects are copied (shallowly) so that a caller changing its options
 * object afterwards does not change what the transformation says it is. A combinator that returns
 * what an inner factory built records over the inner record: the outermost call describes it.
 */
export function recordCall<T extends object>(value: T, name: string, args: readonly unknown[]): T {
  calls.set(value, { name, args: args.map(copyOptions) });
  return value;
}

/** The call recorded for `value`, if any. */
export function recordedCall(value: unknown): RecordedCall | undefined {
  return (typeof value === 'object' && value !== null) || typeof value === 'function' ? calls.get(value as object) : undefined;
}

function copyOptions(arg: unknown): unknown {
  // A transformation is a plain object too: it must keep its identity (and its own record).
  return arg !== null && !calls.has(arg as object) && typeof arg === 'object' && Object.getPrototypeOf(arg) === Object.prototype ? { ...arg } : arg;
}

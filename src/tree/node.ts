import type { PathEntry } from './path.js';

/** What a tree node is: dict nodes, own properties, and describing any value for an error message. */

/** Own-property test (never `in`: `constructor` and `toString` are not a tree's keys). */
export const hasOwn = (obj: object, key: PropertyKey): boolean => Object.prototype.hasOwnProperty.call(obj, key);

const typedArrayLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Float32Array.prototype), 'length')!.get!;

/** A typed array's real element count, read through the intrinsic getter (an own `length` property cannot fake it). */
export function intrinsicLength(x: ArrayBufferView): number {
  return typedArrayLength.call(x) as number;
}

/**
 * Sets an own, enumerable property: unlike assignment, a `__proto__` key (a user's label, a
 * variable's name, a key `JSON.parse` made) becomes an ordinary key (an assignment would replace the
 * object's prototype instead).
 *
 * @internal
 */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  // Only `__proto__` has a setter on a plain object; plain assignment is much faster for every other key.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/**
 * A plain object used as a dict node (not a class instance, not an array).
 *
 * @example
 * ```ts
 * import { isDictNode } from 'optax-ts';
 * console.log(isDictNode({ w: 1 }), isDictNode(Object.create(null)), isDictNode([1]), isDictNode(new Map()), isDictNode(null)); // true true false false false
 * ```
 */
export function isDictNode(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** Quotes a key for a message as {@link formatPath} does (JSON-escaped unless an identifier), so no key can forge text. */
export function showKey(k: PathEntry): string {
  return typeof k === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : JSON.stringify(k);
}

/** At most `max` keys for a message, then how many there are in all: a message stays short whatever the input. */
export function showKeys(keys: readonly PathEntry[], max = 8): string {
  const shown = keys.slice(0, max).map(showKey).join(', ');
  return keys.length > max ? `${shown}, ... (${keys.length} in all)` : shown;
}

/** Describes a value for an error message: `Float32Array(12)`, `number`, `dict {a, b}`. Runs no caller code. */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (x instanceof Float32Array || x instanceof Float64Array) return `${x instanceof Float32Array ? 'Float32Array' : 'Float64Array'}(${x.length})`;
  if (ArrayBuffer.isView(x)) return `${Object.prototype.toString.call(x).slice(8, -1)} (only Float32Array and Float64Array leaves are supported)`;
  if (Array.isArray(x)) return `list of ${x.length}`;
  if (isDictNode(x)) return `dict {${showKeys(Object.keys(x))}}`;
  if (typeof x === 'object') {
    const proto = Object.getPrototypeOf(x) as { constructor?: unknown } | null;
    const ctor = proto && Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
    return typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name ? showKey(ctor.name) : 'object';
  }
  if (typeof x === 'string') return `string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x)}`;
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint') return `${typeof x} ${String(x)}`;
  return typeof x;
}

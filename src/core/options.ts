import { OptaxError } from './errors.js';
import { describe, hasOwn, isDictNode, showKey, showKeys } from '../tree/node.js';

/**
 * The one check every options object goes through: `undefined` (all defaults) or a plain object whose
 * own keys are all known and hold plain values. A misspelt option (`beta1` for `b1`), a class instance,
 * `null`, a getter, or a key inherited from a polluted `Object.prototype` never passes silently.
 *
 * `keys` lists every option of `T` (the compiler checks that none is missing). The result holds only
 * the known own keys, so reading it can never reach a prototype.
 */
export function readOptions<T extends object>(owner: string, options: T | undefined, keys: Record<keyof T, true>): T {
  if (options === undefined) return Object.create(null) as T;
  if (!isDictNode(options)) throw new OptaxError(`${owner}: options must be a plain object, got ${describe(options)}`);
  const known = Object.keys(keys);
  // No prototype: an option left out reads undefined even when Object.prototype is polluted.
  const out: Record<string, unknown> = Object.create(null);
  for (const k of Object.keys(options)) {
    if (!hasOwn(keys, k)) throw new OptaxError(`${owner}: unknown option ${showKey(k)}; the options are ${showKeys(known, known.length)}`);
    const d = Object.getOwnPropertyDescriptor(options, k)!;
    if (!hasOwn(d, 'value')) throw new OptaxError(`${owner}: option ${showKey(k)} is a getter or setter; pass a plain value`);
    Object.defineProperty(out, k, { value: d.value, enumerable: true, writable: true, configurable: true });
  }
  return out as T;
}

import { OptaxError } from '../core/errors.js';
import { describe } from './node.js';

/** One step of a path into a tree: a dict key or a list index. */
export type PathEntry = string | number;

/** A path into a tree, from the root. */
export type TreePath = readonly PathEntry[];

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** The most path entries a message shows (the first and last halves); `error.path` keeps them all. */
const SHOWN_ENTRIES = 24;
/** The most characters of one key a message shows. */
const SHOWN_KEY = 64;

/**
 * Checks a tree path given as an argument to a public function: a plain array of string keys and
 * non-negative integer indices, else an `OptaxError` naming the function. Returns it.
 *
 * @internal
 */
export function checkPathArgument(path: unknown, fn: string): TreePath {
  const ok = Array.isArray(path) && path.length <= 1 << 16 && Object.keys(path).length === path.length
    && path.every((p) => typeof p === 'string' || (Number.isSafeInteger(p) && (p as number) >= 0));
  if (!ok) throw new OptaxError(`${fn}: expected a path (a list of string keys and non-negative integer indices), got ${describe(path)}`);
  return path as TreePath;
}

/**
 * Formats a tree path the way a JS reader would index it: `params.layers[0].w`, `params["my key"]`.
 * Keys that are not identifiers are JSON-quoted (control characters escaped). So that a message stays
 * short whatever the input, a key is cut after 64 characters and a path of more than 24 entries shows
 * its first and last 12 (the full path is in `OptaxError.path`).
 *
 * @example
 * ```ts
 * import { formatPath } from 'optax-ts';
 * console.log(formatPath(['layers', 0, 'w'])); // params.layers[0].w
 * console.log(formatPath(['odd key', 'x'.repeat(100)]).length); // 88
 * ```
 */
export function formatPath(path: TreePath, root = 'params'): string {
  if (!Array.isArray(path) || typeof root !== 'string') throw new OptaxError(`formatPath: expected a list of keys and indices and a root name, got ${describe(path)} and ${describe(root)}`);
  const entry = (p: PathEntry): string => {
    if (typeof p === 'number') return `[${p}]`;
    if (typeof p !== 'string') return `[${describe(p)}]`;
    if (IDENT.test(p) && p.length <= SHOWN_KEY) return `.${p}`;
    return `[${JSON.stringify(p.length > SHOWN_KEY ? `${p.slice(0, SHOWN_KEY)}...` : p)}]`;
  };
  if (path.length <= SHOWN_ENTRIES) return root + path.map(entry).join('');
  const half = SHOWN_ENTRIES / 2;
  return `${root}${path.slice(0, half).map(entry).join('')}...(${path.length - SHOWN_ENTRIES} more)...${path.slice(-half).map(entry).join('')}`;
}

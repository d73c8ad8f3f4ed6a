/** One step of a path into a tree: a dict key or a list index. */
export type PathEntry = string | number;

/** A path into a tree, from the root. */
export type TreePath = readonly PathEntry[];

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Formats a tree path the way a JS reader would index it: `params.layers[0].w`, `params['my key']`.
 *
 * @example
 * ```ts
 * import { formatPath } from 'optax-ts';
 * console.log(formatPath(['layers', 0, 'w'])); // params.layers[0].w
 * ```
 */
export function formatPath(path: TreePath, root = 'params'): string {
  let s = root;
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else if (IDENT.test(p)) s += `.${p}`;
    else s += `[${JSON.stringify(p)}]`;
  }
  return s;
}

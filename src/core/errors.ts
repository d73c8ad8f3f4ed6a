import { type TreePath, formatPath } from '../tree/path.js';

/**
 * The error optax-ts throws for bad input. `path` names the tree location (when the problem is at a
 * leaf or node), so `error.message` reads like `params.layers[0].w: expected 12 elements, got 10`.
 * Nothing has been changed when it is thrown: every check runs before any state is written.
 */
export class OptaxError extends Error {
  /** Where in the tree the problem is, or undefined for a problem with an argument. */
  readonly path: TreePath | undefined;

  constructor(message: string, path?: TreePath, root?: string) {
    super(path === undefined ? message : `${formatPath(path, root)}: ${message}`);
    this.name = 'OptaxError';
    this.path = path;
  }
}

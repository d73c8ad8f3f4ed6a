import { type TreePath, formatPath } from '../tree/path.js';

/**
 * The error optax-ts throws for bad input. `path` names the tree location (when the problem is at a
 * leaf or node), so `error.message` reads like `params.layers[0].w: expected 12 elements, got 10`.
 * Nothing has been changed when it is thrown: every check runs before any state is written.
 *
 * @example
 * ```ts
 * import { OptaxError, scaleByAdamax } from 'optax-ts';
 * const tx = scaleByAdamax();
 * const state = tx.init({ layers: [{ w: new Float32Array(3) }] });
 * try {
 *   tx.update({ layers: [{ w: new Float32Array(2) }] }, state);
 * } catch (e) {
 *   if (!(e instanceof OptaxError)) throw e;
 *   console.log(e.path, e.message); // [ 'layers', 0, 'w' ] grads.layers[0].w: shape mismatch: grads leaf has shape [2], state.mu leaf has shape [3]
 * }
 * ```
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

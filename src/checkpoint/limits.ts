import { MAX_TREE_DEPTH } from '../tree/validate.js';

/**
 * How deep a checkpoint's tree may nest: a params tree may nest up to {@link MAX_TREE_DEPTH} levels,
 * and a checkpoint wraps it in `{params, state}` and the optimizer state's own levels (chain, masked,
 * inject_hyperparams, MultiSteps, ...), for which 64 more levels leave ample room. Reading or writing a
 * deeper tree (or a cyclic one) throws an `OptaxError` naming the path where the limit was reached,
 * before any stack could overflow.
 *
 * @example
 * ```ts
 * import { MAX_CHECKPOINT_DEPTH, MAX_TREE_DEPTH } from 'optax-ts';
 * console.log(MAX_CHECKPOINT_DEPTH, MAX_CHECKPOINT_DEPTH - MAX_TREE_DEPTH); // 576 64
 * ```
 */
export const MAX_CHECKPOINT_DEPTH = MAX_TREE_DEPTH + 64;

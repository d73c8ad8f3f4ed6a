/**
 * How deep a checkpoint's tree may nest: optax states nest a few levels per combinator, params a few
 * more; anything deeper than this is not a training state but an attempt to exhaust the stack.
 * Reading or writing a deeper tree throws an `OptaxError` naming the path where the limit was reached.
 *
 * @example
 * ```ts
 * import { MAX_CHECKPOINT_DEPTH } from 'optax-ts';
 * console.log(MAX_CHECKPOINT_DEPTH); // 200
 * ```
 */
export const MAX_CHECKPOINT_DEPTH = 200;

import { OptaxError } from '../core/errors.js';
import type { ExtraArgs, GradientTransformation } from '../core/transformation.js';
import { describe } from '../tree/structure.js';
import type { Params, Updates } from '../tree/tree.js';
import { recordCall } from '../spec/record.js';

/** The state of `chain(...transforms)`: the tuple of its parts' states, in order. */
export type ChainState<T extends readonly GradientTransformation<any>[]> = { -readonly [K in keyof T]: T[K] extends GradientTransformation<infer S> ? S : never };

/**
 * Applies transformations in sequence (optax's `chain`): the updates of one are the input of the next.
 * The state is the list of their states, in order. Extra arguments are passed to every part.
 *
 * @example
 * ```ts
 * import { chain, scaleByAdamax, scaleByLearningRate } from 'optax-ts';
 * const tx = chain(scaleByAdamax(), scaleByLearningRate(0.1));
 * const state = tx.init({ w: new Float32Array(1) });
 * const [u] = tx.update({ w: new Float32Array([5]) }, state);
 * // Not exactly -0.1: as in optax, the bias correction 1 - 0.9^1 is computed in float32 (0.100000024).
 * console.log(u.w, state.length); // Float32Array(1) [ -0.09999998658895493 ] 2
 * ```
 */
export function chain<T extends readonly GradientTransformation<any>[]>(...transforms: T): GradientTransformation<ChainState<T>> {
  transforms.forEach((t, i) => {
    if (!t || typeof t.init !== 'function' || typeof t.update !== 'function') {
      throw new OptaxError(`chain: argument ${i} is not a gradient transformation (got ${describe(t)})`);
    }
  });
  return recordCall({
    name: 'chain',
    parts: transforms,
    init: (params: Params) => transforms.map((t) => t.init(params)) as unknown as ChainState<T>,
    update<U extends Updates>(updates: U, state: ChainState<T>, params?: Params | null, extraArgs?: ExtraArgs): [U, ChainState<T>] {
      if (!Array.isArray(state) || state.length !== transforms.length) {
        throw new OptaxError(`chain: this state does not belong to this chain: expected a list of ${transforms.length} states, got ${describe(state)}`);
      }
      const next: unknown[] = [];
      let u: Updates = updates;
      transforms.forEach((t, i) => {
        const [nu, ns] = t.update(u, (state as readonly unknown[])[i], params, extraArgs);
        u = nu;
        next.push(ns);
      });
      return [u as U, next as unknown as ChainState<T>];
    },
  }, 'chain', transforms);
}

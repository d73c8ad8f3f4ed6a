/**
 * optax-ts inside jax-js: any optax-ts transformation over pytrees of jax-js arrays, usable in `jit`.
 * Needs `@jax-js/jax` (an optional peer dependency).
 * @packageDocumentation
 */
import type { GradientTransformation } from '../core/transformation.js';
import { type JaxJsTransformation, applyUpdates, lower, wrap } from './transformation.js';
import { MAX_TABLE_STEPS, scheduleSettle } from './count-scalars.js';
import type { JaxArray, JaxTree } from './leaf.js';

export { type JaxJsTransformation, type JaxArray, type JaxTree, applyUpdates, MAX_TABLE_STEPS, scheduleSettle };

/**
 * Runs an optax-ts transformation on jax-js arrays, as jax-js operations on whichever jax-js device
 * is active: `init(params)` and `update(updates, state, params)` as optax has them, usable inside
 * `jax.jit` (a jitted training step never reads back to JavaScript).
 *
 * - **The math** is the transformation's own `ex.*` graph (the one the pure path interprets and the
 *   fused engine compiles), each node lowered to one jax-js op.
 * - **The count** stays an int32 scalar array in the state, incremented in the graph (saturating at
 *   2^31-1). **Per-step scalars** that depend on it (adamax's bias correction `1 - b1^t`, a schedule's
 *   learning rate or weight decay) are tables of the exact values the pure path computes, built once
 *   here and read with `take(table, min(count, S))` in the graph, where S is the count at which they
 *   stop changing (adamax: when `1 - b1^t` rounds to 1, after 164 steps for b1 = 0.9, 17,320 for 0.999; a schedule: the
 *   end of its last transition). So schedules, cosine ones included, give the pure path's exact
 *   values; a schedule must be one of optax-ts's, settle within {@link MAX_TABLE_STEPS} steps, and
 *   have a known end (exponential decays are not supported yet).
 * - **Ownership** (jax-js's, as `@jax-js/optax`): `init` consumes `params`; `update` consumes
 *   `updates`, `state` and `params`. Pass `params.ref` (a tree: `jax.tree.ref(params)`) to keep them.
 * - **Parity** on the wasm device, float32: bit-identical to the pure path (`tx.update` then
 *   `applyUpdates`) for elementwise chains such as adamax and adamaxw (tested over random trees);
 *   `clipByGlobalNorm`'s sum of squares is jax-js's reduction, whose summation order differs from
 *   XLA's sequential one (see the README for the measured difference).
 * - **Supported**: `chain`, `clipByGlobalNorm`, and elementwise transformations with number
 *   hyperparameters (`scaleByAdamax`, `scale`, `scaleByLearningRate` and `scaleBySchedule` with a
 *   number or a schedule, `addDecayedWeights` without a mask, so `adamax` and `adamaxw`), float32
 *   leaves. Anything else throws an OptaxError naming the transformation.
 *
 * @param tx - an optax-ts transformation.
 *
 * @example
 * ```ts
 * import * as jax from '@jax-js/jax';
 * import { adamax } from 'optax-ts';
 * import { applyUpdates, toJaxJs } from 'optax-ts/jax-js';
 * await jax.init('wasm');
 * jax.defaultDevice('wasm');
 * const np = jax.numpy;
 * const opt = toJaxJs(adamax(0.1));
 * const loss = (p: jax.numpy.Array) => np.sum(np.square(p));
 * const step = jax.jit((p: jax.numpy.Array, state: any): [jax.numpy.Array, any] => {
 *   const [u, next] = opt.update(jax.grad(loss)(p.ref), state, p.ref);
 *   return [applyUpdates(p, u), next];
 * });
 * let params = np.array([1, 2, 3]);
 * let state = opt.init(params.ref);
 * for (let i = 0; i < 50; i++) [params, state] = step(params, state);
 * console.log((await loss(params).data())[0].toFixed(4), (await state[0].count.data())[0]); // 0.0571 50
 * ```
 */
export function toJaxJs(tx: GradientTransformation<any>): JaxJsTransformation {
  return wrap(tx, lower(tx));
}

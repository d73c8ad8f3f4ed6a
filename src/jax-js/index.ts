/**
 * optax-ts inside jax-js: any optax-ts transformation over pytrees of jax-js arrays, usable in `jit`.
 * Needs `@jax-js/jax` (an optional peer dependency).
 * @packageDocumentation
 */
import type { GradientTransformation } from '../core/transformation.js';
import { type JaxJsTransformation, type ToJaxJsOptions, applyUpdates, lower, wrap } from './transformation.js';
import { MAX_TABLE_STEPS, scheduleSettle } from './count-scalars.js';
import type { JaxArray, JaxTree } from './leaf.js';
import { type JaxJsSchedule, toJaxJsSchedule } from './schedule.js';
import { setHyperparams } from './set-hyperparams.js';

export { type JaxJsSchedule, toJaxJsSchedule, type JaxJsTransformation, type ToJaxJsOptions, type JaxArray, type JaxTree, applyUpdates, MAX_TABLE_STEPS, scheduleSettle, setHyperparams };

/**
 * Runs an optax-ts transformation on jax-js arrays, as jax-js operations on whichever jax-js device
 * is active: `init(params)` and `update(updates, state, params)` as optax has them, usable inside
 * `jax.jit` (a jitted training step never reads back to JavaScript).
 *
 * - **The math** is the transformation's own `ex.*` graph (the one the pure path interprets and the
 *   fused engine compiles), each node lowered to one jax-js op.
 * - **The count** stays an int32 scalar array in the state, incremented in the graph (saturating at
 *   2^31-1). **Per-step scalars** that depend on it (adamax's bias correction `1 - b1^t`, a schedule's
 *   learning rate or weight decay) are read in the graph at the count from a table of the pure path's
 *   values where they settle within 2^16 steps (one gather per step), and
 *   otherwise evaluated from it in the graph, from the same formula the pure path evaluates (see
 *   {@link toJaxJsSchedule}): bit-identical on the wasm device for every float32 schedule (measured
 *   over every count 0..100,000 and large ones: the README). On WebGPU and WebGL (no float64) they
 *   are read from tables (`countScalars: 'table'`, see {@link ToJaxJsOptions}).
 * - **Ownership** (jax-js's, as `@jax-js/optax`): `init` consumes `params`; `update` consumes
 *   `updates`, `state` and `params`. Pass `params.ref` (a tree: `jax.tree.ref(params)`) to keep them.
 *   A leaf already freed (consumed by an earlier call, or disposed) or not a jax-js array (a
 *   Float32Array) in any of them is an OptaxError naming its path, thrown before anything is consumed
 *   (a freed *input* of a jitted function is reported by jax-js's `jit` itself, before the step runs).
 * - **Parity** on the wasm device, float32 and float64: bit-identical to the pure path (`tx.update`
 *   then `applyUpdates`) for elementwise chains such as adamax and adamaxw (tested over random trees);
 *   `clipByGlobalNorm`'s sum of squares is jax-js's reduction (measured in XLA:CPU's order on the
 *   trees tested; see the README); `applyIfFinite`, `multiSteps` (updates, zeros' signs included)
 *   and `injectHyperparams` bit-identical too, jitted and eagerly, with NaN and infinite steps.
 * - **Supported**: `chain`, `masked` (a masked-out node is `{}` in the state: jax-js's pytrees take no
 *   null), `partition`, `clipByGlobalNorm`, `applyIfFinite` (the finiteness reduced and the step
 *   selected with `where` in the graph; its inner step traced as optax's `lax.cond` runs it, XLA's
 *   fused multiply-adds built exactly from other operations: float32 ones from float64 operations on
 *   wasm and cpu, from float32 operations only on webgl and webgpu, float64 ones from float64
 *   operations), `multiSteps` (a number `everyKSchedule`; the running mean, the emit and
 *   `skipNotFinite` / `skipLargeUpdates` all in the graph, selected with `where`, the zeros of a
 *   silent mini-step with the pure path's signs; the accumulator in `accumulatorDtype`), those three
 *   on float32 and float64 leaves, `injectHyperparams` of optax-ts's own elementwise
 *   factories (the hyperparameters scalar arrays of the state, of the pure path's hyperparameter dtype
 *   for any mix of float32 and float64 leaves, read by the inner
 *   transformation's scalars in the graph, so settable between steps by replacing them; a scheduled one
 *   evaluated in the graph at its count; a decay inside a bias correction, e.g. adamax's `b1`, must be a
 *   `staticArgs`), and elementwise transformations with number or array hyperparameters (an array
 *   broadcast against each leaf by numpy's rules; `scaleByAdamax`, `scale`, `scaleByLearningRate` and
 *   `scaleBySchedule` with a number or an optax-ts schedule, `addDecayedWeights`, `clip`, `ema` (also
 *   with an `accumulatorDtype`), `identity`, `setToZero`, so `adamax` and `adamaxw`), on float32 and
 *   float64 leaves (x64; float64 needs the wasm or cpu device, where its division is corrected to the
 *   IEEE quotient, see the README). Per-step scalars the graph does not evaluate (x64 cosines and
 *   powers, an array decay's bias correction) are read from a table of the pure path's values where
 *   they settle. Anything else throws an OptaxError naming the transformation.
 * - **WebGL**: jax-js's GLSL repeats a shared subexpression at every use, so a fused kernel's shader
 *   is its expression's size as a tree. Inside `jit` on jax-js's `webgl` device the adapter traces
 *   the update once more on its own, sizes each kernel as jax-js fuses it, and materializes shared
 *   intermediates where a kernel would exceed a budget (an exact copy, a kernel of its own: the graph
 *   on other devices is unchanged): `applyIfFinite` and `multiSteps`, whose traced inner steps build
 *   exact fused multiply-adds from float32 operations there (about 1e11 nodes a kernel uncut, a shader
 *   of hundreds of megabytes), run jitted on WebGL. What still exceeds 2^16 nodes is an OptaxError
 *   naming the transformation, the output's path and the alternatives, thrown when the step is
 *   traced, before anything is consumed.
 *
 * @param tx - an optax-ts transformation.
 * @param options - `countScalars`: `'auto'` (default), `'graph'` or `'table'` (see {@link ToJaxJsOptions}).
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
export function toJaxJs(tx: GradientTransformation<any>, options: ToJaxJsOptions = {}): JaxJsTransformation {
  return wrap(tx, lower(tx, options));
}

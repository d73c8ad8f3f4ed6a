import { numpy as np } from '@jax-js/jax';
import { type Dtype, roundTo } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { checkNotNaN, toSnakeCase } from '../transforms/inject-hyperparams.js';
import { describe, isDictNode } from '../tree/structure.js';
import { float64Array } from './constants.js';
import { type JaxArray, isJaxLeaf } from './leaf.js';

/**
 * Returns the state of a `toJaxJs(injectHyperparams(...))` transformation with some hyperparameters
 * replaced, as optax-ts's `setHyperparams` does on the pure path's state: by optax's snake_case name or
 * the camelCase one, each value a number, held as a scalar array of the dtype of the array it replaces
 * (the hyperparameter dtype), taking effect at the next `update`. Checked before anything changes: an
 * unknown name, a scheduled hyperparameter (setting it would have no effect), a value that is not a
 * number, and a NaN (which would make every update NaN) throw an OptaxError naming the hyperparameter.
 * Infinities and negative values are the factory's to judge, as on the pure path.
 *
 * Ownership (jax-js's): consumes `state`; the replaced arrays are disposed, the others move into the
 * returned state. Inside `jit`, assign a traced array to `state.hyperparams[name]` instead (a value
 * computed in the graph cannot be checked without reading it back).
 *
 * @example
 * ```ts
 * import * as jax from '@jax-js/jax';
 * import { injectHyperparams, adamax } from 'optax-ts';
 * import { setHyperparams, toJaxJs } from 'optax-ts/jax-js';
 * await jax.init('wasm');
 * jax.defaultDevice('wasm');
 * const opt = toJaxJs(injectHyperparams(adamax)(0.1));
 * let state = opt.init({ w: jax.numpy.zeros([2]) });
 * state = setHyperparams(state, { learningRate: 0.5 });
 * console.log((await state.hyperparams.learning_rate.data())[0]); // 0.5
 * try { setHyperparams(state, { b1: NaN }); } catch (e) { console.log((e as Error).message.split(';')[0]); } // setHyperparams: hyperparameter 'b1' is NaN
 * ```
 */
export function setHyperparams<S>(state: S, values: Readonly<Record<string, unknown>>): S {
  const s = state as { hyperparams?: unknown; hyperparams_states?: unknown };
  if (!isDictNode(s) || !isDictNode(s.hyperparams) || !isDictNode(s.hyperparams_states)) {
    throw new OptaxError(`setHyperparams: expected the state of toJaxJs(injectHyperparams(...)), {count, hyperparams, hyperparams_states, inner_state}, got ${describe(state)}`);
  }
  if (!isDictNode(values)) throw new OptaxError(`setHyperparams: values must be an object of numbers by hyperparameter name, got ${describe(values)}`);
  const hyperparams = s.hyperparams as Record<string, unknown>;
  const replaced: [string, Dtype, number][] = [];
  for (const [key, value] of Object.entries(values)) {
    const name = toSnakeCase(key);
    if (!Object.hasOwn(hyperparams, name)) throw new OptaxError(`setHyperparams: unknown hyperparameter '${key}'; the state has ${Object.keys(hyperparams).join(', ')}`);
    if (Object.hasOwn(s.hyperparams_states, name)) throw new OptaxError(`setHyperparams: '${name}' follows a schedule; setting it would have no effect`);
    if (typeof value !== 'number') throw new OptaxError(`setHyperparams: ${name} must be a number, got ${describe(value)} (inside jit, assign a traced array to state.hyperparams.${name})`);
    checkNotNaN('setHyperparams', name, value);
    const old = hyperparams[name];
    if (!isJaxLeaf(old) || old.shape.length !== 0 || (old.dtype !== 'float32' && old.dtype !== 'float64')) {
      throw new OptaxError(`setHyperparams: state.hyperparams.${name} must be a float32 or float64 scalar jax-js array, got ${isJaxLeaf(old) ? `${old.dtype}[${old.shape.join(', ')}]` : describe(old)}`);
    }
    replaced.push([name, old.dtype, value]);
  }
  const next: Record<string, unknown> = { ...hyperparams };
  for (const [name, dtype, value] of replaced) {
    (hyperparams[name] as JaxArray).dispose();
    // float64 through float64Array (a number reaches jax-js as a float32 literal: see there).
    next[name] = dtype === 'float64' ? float64Array([value], []) : np.array(roundTo('float32', value), { dtype: np.float32 });
  }
  return { ...s, hyperparams: next } as S;
}

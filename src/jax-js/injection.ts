import type { CompiledElementwise } from '../kernel/elementwise.js';
import type { JaxArray } from './leaf.js';

/**
 * The hyperparameters an `injectHyperparams` step holds as arrays of its state, for the elementwise
 * stages of its inner transformation to read while that step is lowered (set by the step, read by
 * their per-step scalars, cleared after): `values` by optax's names, `count` the injection's int32
 * count (the anchor of the in-graph arithmetic for stages that keep no count).
 */
export interface Injection {
  readonly names: ReadonlySet<string>;
  current: { readonly values: Readonly<Record<string, JaxArray>>; readonly count: JaxArray } | null;
}

const injections = new WeakMap<CompiledElementwise<any>, Injection>();

/** Marks `def` (a stage of an injected inner transformation) as reading its hyperparameters from `injection`. */
export function injectInto(def: CompiledElementwise<any>, injection: Injection): void {
  injections.set(def, injection);
}

/** The injection `def` reads its hyperparameters from, if any. */
export function injectionOf(def: CompiledElementwise<any>): Injection | undefined {
  return injections.get(def);
}

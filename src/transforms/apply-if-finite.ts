import { OptaxError } from '../core/errors.js';
import { INT32_MAX, isStepCount, safeIncrement } from '../core/numerics.js';
import type { ExtraArgs, GradientTransformation } from '../core/transformation.js';
import { type ArrayLeaf, leafData } from '../tree/leaf.js';
import { treeLeaves } from '../tree/map.js';
import { describe, isDictNode } from '../tree/structure.js';
import type { Params, Updates } from '../tree/tree.js';
import { treeZerosLike } from '../tree/zeros.js';
import { tracedUpdate } from './traced.js';
import { recordCall } from '../spec/record.js';
import { readOptions } from '../core/options.js';
import { hasExactKeys } from '../tree/validate.js';

/** The state of {@link applyIfFinite} (optax's `ApplyIfFiniteState`). */
export interface ApplyIfFiniteState<S = unknown> {
  /** Consecutive steps with a NaN or infinity in the updates (int32); reset to 0 by a finite step. */
  notfinite_count: number;
  /** Whether the last step's updates were all finite. */
  last_finite: boolean;
  /** Steps with a NaN or infinity since `init` (int32, never reset). */
  total_notfinite: number;
  /** The inner transformation's state (unchanged by a skipped step). */
  inner_state: S;
}

/** Options of {@link applyIfFinite}. */
export interface ApplyIfFiniteOptions {
  /**
   * How many consecutive non-finite steps are skipped before giving up: an integer >= 0. The
   * (`maxConsecutiveErrors + 1`)-th consecutive one is applied, and so is every further one until a
   * finite step resets the count (optax 0.2.8 does not reset the count when it gives up; see below).
   */
  maxConsecutiveErrors: number;
}

/** True when every element of every leaf is finite (an empty tree is finite). */
function allFinite(updates: Updates): boolean {
  return allArraysFinite(treeLeaves<ArrayLeaf>(updates).leaves.map(leafData));
}

/** True when every element of every array is finite. @internal */
export function allArraysFinite(arrays: readonly ArrayLike<number>[]): boolean {
  for (const d of arrays) {
    for (let i = 0; i < d.length; i++) if (d[i] - d[i] !== 0) return false; // NaN or ±Infinity
  }
  return true;
}

/** The counters of {@link ApplyIfFiniteState}, without the inner state. */
export type ApplyIfFiniteCounters = Omit<ApplyIfFiniteState, 'inner_state'>;

/**
 * One step of the guard (the reference path and the fused engine both use it): the new counters, and
 * whether the inner transformation's update is applied.
 * @internal
 */
export function guardStep(counters: ApplyIfFiniteCounters, finite: boolean, maxConsecutiveErrors: number): { counters: ApplyIfFiniteCounters; apply: boolean } {
  const next: ApplyIfFiniteCounters = { notfinite_count: 0, last_finite: finite, total_notfinite: 0 };
  advanceGuardCounters(next, counters, finite);
  return { counters: next, apply: guardApplies(next.notfinite_count, finite, maxConsecutiveErrors) };
}

/**
 * The guard's counters after a step, written into `out` (which may be `counters` itself: the fused
 * engine advances its counters in place, so that a step allocates nothing). @internal
 */
export function advanceGuardCounters(out: ApplyIfFiniteCounters, counters: ApplyIfFiniteCounters, finite: boolean): void {
  out.notfinite_count = nextNotfiniteCount(counters, finite);
  out.last_finite = finite;
  out.total_notfinite = finite ? counters.total_notfinite : safeIncrement(counters.total_notfinite);
}

/** `notfinite_count` after a step. @internal */
export function nextNotfiniteCount(counters: ApplyIfFiniteCounters, finite: boolean): number {
  return finite ? 0 : safeIncrement(counters.notfinite_count);
}

/** Whether the inner update is applied, given `notfinite_count` after the step. @internal */
export function guardApplies(notfiniteCount: number, finite: boolean, maxConsecutiveErrors: number): boolean {
  return finite || notfiniteCount > maxConsecutiveErrors;
}

/** Throws unless `state` has the counters of {@link ApplyIfFiniteState} (and an `inner_state`). @internal */
export function checkApplyIfFiniteState(state: unknown): asserts state is ApplyIfFiniteState {
  const ok = isDictNode(state) && hasExactKeys(state, ['notfinite_count', 'last_finite', 'total_notfinite', 'inner_state']) && isStepCount(state.notfinite_count)
    && isStepCount(state.total_notfinite) && typeof state.last_finite === 'boolean';
  if (!ok) throw new OptaxError(`apply_if_finite: this state does not belong to apply_if_finite: expected {notfinite_count, last_finite, total_notfinite, inner_state}, got ${describe(state)}`);
}

/**
 * Makes a transformation robust to a few NaNs or infinities (optax's `apply_if_finite`): a step whose
 * updates contain one is skipped (the updates become zeros and the inner state is kept), unless it is
 * more than `maxConsecutiveErrors` in a row, in which case it is applied.
 *
 * ```
 * notfinite_count = finite ? 0 : notfinite_count + 1
 * apply = finite || notfinite_count > maxConsecutiveErrors
 * ```
 *
 * As in optax 0.2.8, the count is *not* reset when the wrapper gives up (optax#1746 proposes that
 * reset): with `maxConsecutiveErrors: 2`, bad steps 1 and 2 of a streak are skipped and bad steps 3,
 * 4, ... are all applied until a finite step arrives. The counters are int32 and saturate at 2^31-1.
 *
 * @param inner - the transformation to protect.
 * @param options - `maxConsecutiveErrors` (required): an integer >= 0.
 *
 * @example
 * ```ts
 * import { applyIfFinite, scale } from 'optax-ts';
 * const tx = applyIfFinite(scale(-1), { maxConsecutiveErrors: 1 });
 * const [u, state] = tx.update({ w: new Float32Array([NaN, 2]) }, tx.init({ w: new Float32Array(2) }));
 * console.log(u.w, state.notfinite_count, state.last_finite); // Float32Array(2) [ 0, 0 ] 1 false
 * ```
 */
export function applyIfFinite<S>(inner: GradientTransformation<S>, options: ApplyIfFiniteOptions): GradientTransformation<ApplyIfFiniteState<S>> {
  if (!inner || typeof inner.init !== 'function' || typeof inner.update !== 'function') {
    throw new OptaxError(`apply_if_finite: inner is not a gradient transformation (got ${describe(inner)})`);
  }
  if (options === undefined) throw new OptaxError('apply_if_finite: options {maxConsecutiveErrors} are required');
  options = readOptions('apply_if_finite', options, { maxConsecutiveErrors: true });
  const max = options?.maxConsecutiveErrors;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 0 || max > INT32_MAX) {
    throw new OptaxError(`apply_if_finite: maxConsecutiveErrors must be an integer >= 0, got ${String(max)}`);
  }
  return recordCall({
    name: 'apply_if_finite',
    combinator: { kind: 'applyIfFinite', inner, maxConsecutiveErrors: max },
    init: (params: Params): ApplyIfFiniteState<S> => ({
      notfinite_count: 0,
      last_finite: true,
      total_notfinite: 0,
      inner_state: inner.init(params),
    }),
    update<U extends Updates>(updates: U, state: ApplyIfFiniteState<S>, params?: Params | null, extraArgs?: ExtraArgs): [U, ApplyIfFiniteState<S>] {
      checkApplyIfFiniteState(state);
      const finite = allFinite(updates);
      const { counters, apply } = guardStep(state, finite, max);
      // optax runs the inner update inside lax.cond, i.e. compiled as one XLA computation.
      const traced = apply ? tracedUpdate(inner, updates, state.inner_state, params, extraArgs) : undefined;
      const newUpdates = traced ? traced.updates : treeZerosLike(updates);
      const inner_state = (traced ? traced.state : state.inner_state) as S;
      return [newUpdates, { ...counters, inner_state }];
    },
  }, 'apply_if_finite', [inner, options]);
}

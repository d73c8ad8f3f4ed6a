import { type Dtype, roundTo } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { type ArrayLeaf, leafData, leafDtype } from '../tree/leaf.js';
import { treeLeaves } from '../tree/map.js';
import type { Updates } from '../tree/tree.js';
import { leafSumOfSquares } from './clip-by-global-norm.js';
import { valueTerms, xlaReduceSum } from '../core/xla-reduce-sum.js';
import type { ShouldSkipUpdateFunction } from './multi-steps.js';

/**
 * What a built-in skip function tests, for the fused engine to recognise it as a reduction (a
 * function of your own has none and runs as written).
 */
export type SkipRule =
  | { readonly kind: 'not_finite' }
  | { readonly kind: 'large_updates'; readonly maxSquaredNorm: number };

/** A built-in skip function: a {@link ShouldSkipUpdateFunction} that says what it tests. */
export type SkipFunction<A> = ((...args: Parameters<ShouldSkipUpdateFunction>) => [boolean, A]) & { readonly skipRule: SkipRule };

/** The skip state of {@link skipNotFinite} (optax's dict, same keys). */
export interface SkipNotFiniteState {
  /** True iff the updates hold an infinity or a NaN. */
  should_skip: boolean;
  /** How many elements of the updates are infinite or NaN. */
  num_not_finite: number;
}

/** The skip state of {@link skipLargeUpdates} (optax's dict, same keys). */
export interface SkipLargeUpdatesState {
  /** True iff `norm_squared < maxSquaredNorm` does not hold (so also when it is NaN). */
  should_skip: boolean;
  /** The squared global norm of the updates, in the highest dtype of their leaves (float32 for none). */
  norm_squared: number;
}

function leavesOf(fn: string, updates: Updates): ArrayLeaf[] {
  try {
    return treeLeaves<ArrayLeaf>(updates).leaves;
  } catch (e) {
    if (e instanceof OptaxError) throw new OptaxError(`${fn}: ${e.message}`);
    throw e;
  }
}

/**
 * Skips a mini-step whose updates hold an infinity or a NaN (optax's `skip_not_finite`), for
 * `multiSteps(opt, { shouldSkipUpdateFn: skipNotFinite })`:
 *
 * ```text
 * num_not_finite = sum over leaves of count(!isfinite(u))     should_skip = num_not_finite > 0
 * ```
 *
 * Returns `[should_skip, { should_skip, num_not_finite }]`, the second kept in the MultiSteps state's
 * `skip_state`. `gradientStep` and `params` are not used. A compiled stepper (`compile`) computes it
 * itself on its gradient views, with the same result and nothing allocated per step.
 *
 * @param updates - The mini-step's updates (any tree).
 * @returns `[should_skip, { should_skip, num_not_finite }]`.
 *
 * @example
 * ```ts
 * import { multiSteps, scale, skipNotFinite } from 'optax-ts';
 * console.log(skipNotFinite([new Float32Array([Infinity, 1, NaN])], 0, null)); // [ true, { should_skip: true, num_not_finite: 2 } ]
 * const tx = multiSteps(scale(-1), { everyKSchedule: 2, shouldSkipUpdateFn: skipNotFinite });
 * let state = tx.init({ a: new Float32Array(1) });
 * let u;
 * [u, state] = tx.update({ a: new Float32Array([NaN]) }, state);
 * console.log(u.a, state.mini_step, state.skip_state); // Float32Array(1) [ 0 ] 0 { should_skip: true, num_not_finite: 1 }
 * ```
 */
export const skipNotFinite: SkipFunction<SkipNotFiniteState> = Object.assign(
  (updates: Updates, _gradientStep?: number, _params?: unknown): [boolean, SkipNotFiniteState] => {
    let count = 0;
    for (const leaf of leavesOf('skip_not_finite', updates)) {
      const data = leafData(leaf);
      for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) count++;
    }
    const should_skip = count > 0;
    return [should_skip, { should_skip, num_not_finite: count }];
  },
  { skipRule: { kind: 'not_finite' } as const },
);

/**
 * Skips a mini-step whose updates have a squared global norm that is not below `maxSquaredNorm`
 * (optax's `skip_large_updates`; optax binds `max_squared_norm` with `functools.partial`, optax-ts
 * with this factory): `multiSteps(opt, { shouldSkipUpdateFn: skipLargeUpdates(100) })`.
 *
 * ```text
 * norm_squared = sum over leaves of sum(u ** 2)     should_skip = !(norm_squared < maxSquaredNorm)
 * ```
 *
 * Computed as optax computes it: each leaf's `jnp.sum(u ** 2)` in the leaf's dtype (the same
 * reduction as `clipByGlobalNorm`'s, {@link leafSumOfSquares}), the per-leaf sums stacked by `jnp.array`
 * (converted to the highest dtype of the leaves; float32 for a tree without leaves) and summed there by
 * one more XLA reduce (in order up to 32 leaves; in windows of 32 beyond, `xlaReduceSum`); `maxSquaredNorm`, a Python float, is rounded to that dtype before the
 * comparison. A NaN norm is skipped (the comparison is false). A compiled stepper computes it itself
 * on its gradient views (the leaf sums clip_by_global_norm's), with the same result and nothing
 * allocated per step.
 *
 * @param maxSquaredNorm - The largest squared norm that is accepted (exclusive); a number, not NaN.
 * @returns A {@link ShouldSkipUpdateFunction} returning `[should_skip, { should_skip, norm_squared }]`.
 *
 * @example
 * ```ts
 * import { skipLargeUpdates } from 'optax-ts';
 * const skip = skipLargeUpdates(100);
 * console.log(skip([new Float32Array([11]), new Float32Array([0])], 0, null)); // [ true, { should_skip: true, norm_squared: 121 } ]
 * console.log(skip({ w: new Float32Array([6, 7]) }, 0, null)); // [ false, { should_skip: false, norm_squared: 85 } ]
 * ```
 */
export function skipLargeUpdates(maxSquaredNorm: number): SkipFunction<SkipLargeUpdatesState> {
  if (typeof maxSquaredNorm !== 'number' || Number.isNaN(maxSquaredNorm)) {
    throw new OptaxError(`skip_large_updates: maxSquaredNorm must be a number, got ${typeof maxSquaredNorm === 'number' ? 'NaN' : typeof maxSquaredNorm}`);
  }
  return Object.assign(
    (updates: Updates, _gradientStep?: number, _params?: unknown): [boolean, SkipLargeUpdatesState] => {
      const leaves = leavesOf('skip_large_updates', updates);
      const dtype: Dtype = leaves.some((l) => leafDtype(l) === 'float64') ? 'float64' : 'float32';
      // Each per-leaf sum is of its leaf's dtype; jnp.array converts them (exactly, to a wider or the
      // same dtype) into a vector, which jnp.sum reduces like any other.
      const sums = leaves.map(leafSumOfSquares);
      const total = xlaReduceSum(valueTerms(dtype, sums), [sums.length]);
      const should_skip = !(total < roundTo(dtype, maxSquaredNorm));
      return [should_skip, { should_skip, norm_squared: total }];
    },
    { skipRule: { kind: 'large_updates', maxSquaredNorm } as const },
  );
}

/** The rule of a built-in skip function (undefined for a function of your own). @internal */
export function builtInSkipRule(fn: unknown): SkipRule | undefined {
  return typeof fn === 'function' ? (fn as Partial<SkipFunction<unknown>>).skipRule : undefined;
}

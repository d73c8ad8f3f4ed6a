import { type Hyperparam, acceptsRange, checkHyperparam, constantScalars, hyperNumber, writeHyper } from '../core/hyperparams.js';
import type { EmptyState, GradientTransformation } from '../core/transformation.js';
import { ex } from '../kernel/expr.js';
import { elementwise } from '../kernel/elementwise.js';
import { noControl } from './count.js';
import { recordCall } from '../spec/record.js';

/**
 * `u = min(max(g, -maxDelta), maxDelta)`, in `jnp.clip`'s order (`maximum(lo, x)` then
 * `minimum(hi, x)`): NaN stays NaN.
 */
export const clipKernel = {
  updates: ex.min(ex.max(ex.updates, ex.scalar('neg_max_delta')), ex.scalar('max_delta')),
  state: {},
};

const CLIP_SCALARS = ['neg_max_delta', 'max_delta'] as const;
const negate = (x: number): number => -x;

/** clip's range for max_delta (Infinity disables clipping): checked when built, and for a scheduled value at each fused step. */
const MAX_DELTA_RANGE = { min: 0, finite: false };
const ACCEPTS = { max_delta: acceptsRange(MAX_DELTA_RANGE) };

/**
 * Clips updates elementwise to `[-maxDelta, maxDelta]` (optax's `clip`):
 *
 * ```
 * u = min(max(g, -maxDelta), maxDelta)
 * ```
 *
 * `maxDelta` is rounded to each leaf's dtype (`-maxDelta` is its exact negation). NaN updates stay
 * NaN, as with `jnp.clip`.
 *
 * @param maxDelta - the largest magnitude of an update: a number >= 0 (`Infinity` disables clipping),
 *   or an array broadcast against each leaf. NaN and negative values throw an OptaxError.
 *
 * @example
 * ```ts
 * import { clip } from 'optax-ts';
 * const tx = clip(1);
 * const [u] = tx.update({ w: new Float64Array([-3, 0.5, 2]) }, tx.init({ w: new Float64Array(3) }));
 * console.log(u.w); // Float64Array(3) [ -1, 0.5, 1 ]
 * ```
 */
export function clip(maxDelta: Hyperparam): GradientTransformation<EmptyState> {
  checkHyperparam('clip', 'max_delta', maxDelta, MAX_DELTA_RANGE);
  const constants = constantScalars(2, (sink, dtype) => {
    writeHyper(sink, 0, maxDelta, dtype, negate);
    writeHyper(sink, 1, maxDelta, dtype);
  });
  return recordCall(elementwise<Record<string, never>, EmptyState>({
    name: 'clip',
    kernel: clipKernel,
    stateLeaves: [],
    ...noControl,
    scalarNames: CLIP_SCALARS,
    writeScalars: (sink, _c, dtype) => constants(sink, dtype),
    injectable: hyperNumber(maxDelta) === undefined ? undefined : {
      hyperparams: { max_delta: hyperNumber(maxDelta)! },
      scalars: (h, _count, d, a) => ({ neg_max_delta: a.neg(a.cast(d, h.max_delta)), max_delta: a.cast(d, h.max_delta) }),
      accepts: ACCEPTS,
    },
  }), 'clip', [maxDelta]);
}

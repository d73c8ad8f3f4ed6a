import { type Hyperparam, acceptsRange, checkHyperparam, constantScalars, hyperNumber, writeHyper } from '../core/hyperparams.js';
import type { EmptyState, GradientTransformation } from '../core/transformation.js';
import { ex } from '../kernel/expr.js';
import { elementwise } from '../kernel/elementwise.js';
import { noControl } from './count.js';
import { recordCall } from '../spec/record.js';

/** `u = step * g`, the rule shared by {@link scale} and `scaleBySchedule`. */
export const scaleKernel = { updates: ex.mul(ex.scalar('step_size'), ex.updates), state: {} };

/** The one scalar of `scale` and `scale_by_schedule`. */
export const STEP_SIZE = ['step_size'] as const;
/** scale's range (any finite number): checked when built, and for a scheduled (injected) value at each fused step. */
const STEP_RANGE = {};
const ACCEPTS = { step_size: acceptsRange(STEP_RANGE) };

/**
 * Scales updates by a fixed factor: `u = stepSize * g` (optax's `scale`). The factor is rounded to each
 * leaf's dtype first, as JAX does with a python float.
 *
 * @param stepSize - any finite number (negative for descent), or an array broadcast against each
 *   leaf (optax's `step_size` may be a `jnp` array). NaN and infinities throw an OptaxError.
 *
 * @example
 * ```ts
 * import { scale } from 'optax-ts';
 * const tx = scale(-0.1);
 * const [u] = tx.update({ w: new Float64Array([1, 2]) }, tx.init({ w: new Float64Array(2) }));
 * console.log(u.w); // Float64Array(2) [ -0.1, -0.2 ]
 * ```
 */
export function scale(stepSize: Hyperparam): GradientTransformation<EmptyState> {
  checkHyperparam('scale', 'step_size', stepSize, STEP_RANGE);
  const constants = constantScalars(1, (sink, dtype) => writeHyper(sink, 0, stepSize, dtype));
  const step = hyperNumber(stepSize);
  return recordCall(elementwise<Record<string, never>, EmptyState>({
    name: 'scale',
    kernel: scaleKernel,
    stateLeaves: [],
    ...noControl,
    scalarNames: STEP_SIZE,
    writeScalars: (sink, _c, dtype) => constants(sink, dtype),
    // optax's step_size is a Python float: a constant in a traced computation.
    constantScalars: ['step_size'],
    injectable: step === undefined ? undefined : { hyperparams: { step_size: step }, scalars: (h, _count, d, a) => ({ step_size: a.cast(d, h.step_size) }), accepts: ACCEPTS },
  }), 'scale', [stepSize]);
}

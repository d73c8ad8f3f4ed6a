import type { EmptyState, GradientTransformation } from '../core/transformation.js';
import { ex } from '../kernel/expr.js';
import { elementwise } from '../kernel/elementwise.js';
import { noControl } from './count.js';
import { recordCall } from '../spec/record.js';

const ZERO = ['zero'] as const;

/**
 * Replaces every update with zeros (optax's `set_to_zero`): `u = 0`. With `partition`, it freezes the
 * parameters of a label.
 *
 * @example
 * ```ts
 * import { setToZero } from 'optax-ts';
 * const tx = setToZero();
 * const [u] = tx.update({ w: new Float32Array([3, -1]) }, tx.init({ w: new Float32Array(2) }));
 * console.log(u.w); // Float32Array(2) [ 0, 0 ]
 * ```
 */
export function setToZero(): GradientTransformation<EmptyState> {
  return recordCall(elementwise<Record<string, never>, EmptyState>({
    name: 'set_to_zero',
    kernel: { updates: ex.scalar('zero'), state: {} },
    stateLeaves: [],
    ...noControl,
    scalarNames: ZERO,
    writeScalars: (sink) => { sink.values[0] = 0; },
  }), 'set_to_zero', []);
}

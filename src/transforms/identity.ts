import type { EmptyState, GradientTransformation } from '../core/transformation.js';
import { ex } from '../kernel/expr.js';
import { elementwise } from '../kernel/elementwise.js';
import { noControl } from './count.js';
import { recordCall } from '../spec/record.js';

/**
 * Leaves updates unchanged (optax's `identity`): `u = g`. Useful as a placeholder in `partition`.
 *
 * @example
 * ```ts
 * import { identity } from 'optax-ts';
 * const tx = identity();
 * const [u] = tx.update({ w: new Float32Array([3]) }, tx.init({ w: new Float32Array(1) }));
 * console.log(u.w); // Float32Array(1) [ 3 ]
 * ```
 */
export function identity(): GradientTransformation<EmptyState> {
  return recordCall(elementwise<Record<string, never>, EmptyState>({
    name: 'identity',
    kernel: { updates: ex.updates, state: {} },
    stateLeaves: [],
    ...noControl,
    scalarNames: [],
    writeScalars: () => {},
  }), 'identity', []);
}

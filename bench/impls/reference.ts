import { adamax } from '../../src/alias/adamax.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import { applyUpdates } from '../../src/transforms/apply-updates.js';
import type { Params } from '../../src/tree/tree.js';
import { HYPER } from '../config.js';
import type { Problem } from '../problem.js';
import type { Implementation, Runner } from './types.js';

/** The optimizer every implementation of this library runs: `adamax(1e-3)`, optax's defaults. */
export function benchOptimizer(): GradientTransformation<unknown> {
  return adamax(HYPER.learningRate, { b1: HYPER.b1, b2: HYPER.b2, eps: HYPER.eps }) as GradientTransformation<unknown>;
}

/** The library's reference path: pure `update` then `applyUpdates`, new trees every step. */
export const reference: Implementation = {
  id: 'reference',
  label: 'reference',
  dtypes: ['float32', 'float64'],
  prepare: async () => null,
  async setup(problem: Problem): Promise<Runner> {
    const tx = benchOptimizer();
    let params: Params = problem.params;
    let state = tx.init(params);
    return {
      run(steps) {
        for (let i = 0; i < steps; i++) {
          const [updates, next] = tx.update(problem.grads, state, params);
          params = applyUpdates(params, updates);
          state = next;
        }
      },
      dispose() {},
    };
  },
};

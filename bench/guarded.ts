import { applyIfFinite } from '../src/transforms/apply-if-finite.js';
import { applyUpdates } from '../src/transforms/apply-updates.js';
import type { GradientTransformation } from '../src/core/transformation.js';
import type { Params } from '../src/tree/tree.js';
import { type BenchConfig, paramCount } from './config.js';
import type { FusedStepper } from './engine.js';
import { compileStepper, fillGrads } from './impls/fused.js';
import { benchOptimizer } from './impls/reference.js';
import { interleavedBest } from './layout-cost.js';
import { makeProblem } from './problem.js';

/** `applyIfFinite(adamax(1e-3), {maxConsecutiveErrors: 3})`, the NaN-skipping variant of the bench's optimizer. */
export function guardedOptimizer(): GradientTransformation<unknown> {
  return applyIfFinite(benchOptimizer(), { maxConsecutiveErrors: 3 }) as GradientTransformation<unknown>;
}

/** ns/param of one fused backend: plain adamax and applyIfFinite(adamax), stepped in turn. */
export interface GuardedResult {
  readonly label: string;
  readonly plain: number;
  readonly guarded: number;
}

/**
 * The cost of `applyIfFinite` around adamax on the medium tree (one leaf): its finiteness pass and the
 * traced numerics (emulated fused multiply-adds), measured interleaved with plain adamax per fused
 * backend; and the reference path's applyIfFinite(adamax), on its own (it is slow).
 */
export async function measureGuarded(config: BenchConfig, backends: readonly { backend: 'js' | 'wasm'; threads: number }[]): Promise<{ fused: GuardedResult[]; reference: number }> {
  const layout = config.layoutCost.one;
  const n = paramCount(layout);
  const fused: GuardedResult[] = [];
  for (const { backend, threads } of backends) {
    const steppers: FusedStepper[] = [];
    try {
      for (const tx of [benchOptimizer(), guardedOptimizer()]) {
        const problem = makeProblem(layout);
        const stepper = await compileStepper(problem, { backend, threads }, tx);
        steppers.push(stepper);
        fillGrads(stepper, problem);
      }
      const [plain, guarded] = interleavedBest(steppers.map((s) => () => s.step()), config.layoutCost.seconds / 2).map((ms) => (ms * 1e6) / n);
      fused.push({ label: `fused ${backend} ${threads}t`, plain, guarded });
    } finally {
      for (const s of steppers) s.dispose();
    }
  }
  const problem = makeProblem(layout);
  const tx = guardedOptimizer();
  let params: Params = problem.params;
  let state = tx.init(params);
  const [ms] = interleavedBest([() => {
    const [u, next] = tx.update(problem.grads, state, params);
    params = applyUpdates(params, u);
    state = next;
  }], config.quick ? 0.05 : 1);
  return { fused, reference: (ms * 1e6) / n };
}

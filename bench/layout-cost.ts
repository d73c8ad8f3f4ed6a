import { type BenchConfig, type Layout, paramCount } from './config.js';
import { type FusedStepper } from './engine.js';
import { compileStepper, fillGrads } from './impls/fused.js';
import { makeProblem } from './problem.js';

/** One fused backend's ns/param on the same number of params as one leaf, two leaves and many. */
export interface LayoutCostResult {
  readonly backend: 'js' | 'wasm';
  readonly threads: number;
  /** ns/param, in the order of `layouts`. */
  readonly ns: readonly number[];
  readonly layouts: readonly string[];
}

/**
 * The cost of a tree's leaf layout, measured interleaved: steppers for the same params split into
 * 1, 2 and many leaves step in turn, round after round, and each keeps its best round. The rows of the
 * main table are measured minutes apart, and on a shared machine a load change between them is as
 * large as the difference sought; here every sample of the three trees is taken within a second.
 *
 * One leaf and two leaves differ by optax's numerics only (XLA divides by the bias correction on a
 * tree of several leaves, and multiplies by its reciprocal on one leaf: a division per element less);
 * two leaves and many differ by the layout only.
 */
export async function measureLayoutCost(config: BenchConfig, backend: 'js' | 'wasm', threads: number): Promise<LayoutCostResult> {
  const layouts: Layout[] = [config.layoutCost.one, config.layoutCost.two, config.layoutCost.many];
  const steppers: FusedStepper[] = [];
  try {
    for (const layout of layouts) {
      const problem = makeProblem(layout);
      const stepper = await compileStepper(problem, { backend, threads });
      steppers.push(stepper);
      fillGrads(stepper, problem);
    }
    const best = interleavedBest(steppers.map((s) => () => s.step()), config.layoutCost.seconds);
    const n = paramCount(layouts[0]);
    return { backend, threads, ns: best.map((ms) => (ms * 1e6) / n), layouts: layouts.map((l) => l.label) };
  } finally {
    for (const s of steppers) s.dispose();
  }
}

/**
 * Runs each step function in turn, round after round (at least 3, then until `seconds` have passed),
 * each sample about 20 ms of the slowest and a whole number of `cycle` steps (a sample of
 * `multiSteps(k = 4)` must hold as many emitting steps as every other, else the best sample is the
 * one with fewer); returns each one's best milliseconds per step.
 */
export function interleavedBest(steps: readonly (() => void)[], seconds: number, cycle = 1): number[] {
  const time = (step: () => void, k: number): number => {
    const t0 = performance.now();
    for (let i = 0; i < k; i++) step();
    return (performance.now() - t0) / k;
  };
  let slowest = 0;
  for (const step of steps) slowest = Math.max(slowest, time(step, 3));
  const k = cycle * Math.max(1, Math.round(20 / Math.max(slowest, 1e-3) / cycle));
  const best = steps.map(() => Infinity);
  const deadline = performance.now() + seconds * 1e3;
  for (let round = 0; round < 3 || (round < 200 && performance.now() < deadline); round++) {
    steps.forEach((step, j) => { best[j] = Math.min(best[j], time(step, k)); });
  }
  return best;
}

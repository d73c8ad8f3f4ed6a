import type { TimingBudget } from './config.js';
import type { CellResult, Runner } from './impls/types.js';

/** Seconds elapsed running `runner.run(steps)`. */
async function timeSteps(runner: Runner, steps: number): Promise<number> {
  const t0 = performance.now();
  await runner.run(steps);
  return (performance.now() - t0) / 1e3;
}

/**
 * Times a runner: one untimed first step (compilation, first touch of memory), a warm-up, then
 * `repeats` timed batches of k steps; the result is the best batch's time per step per parameter.
 * Slow implementations get fewer repeats (at least 2 batches of 1 step) to stay within
 * `maxCellSeconds`.
 */
export async function timeRunner(runner: Runner, params: number, budget: TimingBudget): Promise<CellResult> {
  await runner.run(1);
  let perStep = await timeSteps(runner, 1);
  let warmed = perStep;
  while (warmed < budget.warmupSeconds) {
    const k = Math.max(1, Math.ceil(Math.min(budget.warmupSeconds - warmed, budget.warmupSeconds / 4) / perStep));
    const dt = await timeSteps(runner, k);
    perStep = Math.min(perStep, dt / k);
    warmed += dt;
  }
  const stepsPerRepeat = Math.max(1, Math.round(budget.cellSeconds / budget.repeats / perStep));
  const affordable = Math.floor(budget.maxCellSeconds / (perStep * stepsPerRepeat));
  const repeats = Math.max(2, Math.min(budget.repeats, affordable));
  let best = perStep;
  for (let r = 0; r < repeats; r++) best = Math.min(best, (await timeSteps(runner, stepsPerRepeat)) / stepsPerRepeat);
  return { ns: (best * 1e9) / params, steps: repeats * stepsPerRepeat, ...(runner.note ? { note: runner.note } : {}) };
}

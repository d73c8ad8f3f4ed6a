import { leafData } from '../../src/tree/leaf.js';
import { treeLeaves } from '../../src/tree/map.js';
import type { ArrayLeaf } from '../../src/tree/leaf.js';
import { type EngineCompile, type EngineOptions, type FusedStepper, loadEngine } from '../engine.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import type { Problem } from '../problem.js';
import { benchOptimizer } from './reference.js';
import type { Implementation, Runner } from './types.js';

let engine: Promise<EngineCompile | string> | undefined;

/** Copies the fixed gradients into the stepper's gradient views (once, before timing). */
export function fillGrads(stepper: FusedStepper, problem: Problem): void {
  const views = treeLeaves<ArrayLeaf>(stepper.grads).leaves;
  if (views.length !== problem.gradLeaves.length) throw new Error(`stepper.grads has ${views.length} leaves, expected ${problem.gradLeaves.length}`);
  views.forEach((view, i) => leafData(view).set(problem.gradLeaves[i]));
}

/** Compiles `tx` (default `adamax(1e-3)`) for a problem with the engine. */
export async function compileStepper(problem: Problem, options: EngineOptions, tx: GradientTransformation<unknown> = benchOptimizer()): Promise<FusedStepper> {
  const compile = await (engine ??= loadEngine());
  if (typeof compile === 'string') throw new Error(compile);
  return await compile(tx, problem.params, options);
}

/** A column of the fused engine: one backend, one thread count. */
export function fused(backend: 'js' | 'wasm', threads: number): Implementation {
  return {
    id: `fused-${backend}-${threads}`,
    label: `fused ${backend} ${threads}t`,
    dtypes: ['float32', 'float64'],
    async prepare() {
      const compile = await (engine ??= loadEngine());
      return typeof compile === 'string' ? compile : null;
    },
    async setup(problem: Problem): Promise<Runner> {
      const stepper = await compileStepper(problem, { backend, threads });
      fillGrads(stepper, problem);
      // The engine's step is synchronous; await only if a future version returns a promise.
      const first = stepper.step();
      const async = typeof (first as { then?: unknown } | undefined)?.then === 'function';
      if (async) await first;
      const ran = stepper.threads;
      return {
        ...(ran !== undefined && ran !== threads ? { note: `the engine ran ${ran} thread(s), not ${threads}` } : {}),
        ...(stepper.backend !== undefined && stepper.backend !== backend ? { note: `the engine ran its ${stepper.backend} path` } : {}),
        run: async
          ? async (steps) => { for (let i = 0; i < steps; i++) await stepper.step(); }
          : (steps) => { for (let i = 0; i < steps; i++) stepper.step(); },
        dispose: () => stepper.dispose(),
      };
    },
  };
}

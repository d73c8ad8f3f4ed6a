import { type BenchConfig, HYPER, type Layout } from './config.js';
import { compileStepper } from './impls/fused.js';
import { benchOptimizer } from './impls/reference.js';
import { makeProblem } from './problem.js';
import type { GradientTransformation } from '../src/core/transformation.js';
import { adamax } from '../src/alias/adamax.js';
import { chain } from '../src/transforms/chain.js';
import { clipByGlobalNorm } from '../src/transforms/clip-by-global-norm.js';

/**
 * `compile` time on a large tree: `chain(clipByGlobalNorm(1), adamax)` next to plain adamax, fused
 * WASM on all threads, alternated over a few rounds (the best of each). The global norm adds
 * compile-time work over every 32 gradients (the plan of XLA's summation windows, engine/norm-plan.ts):
 * it must stay a small multiple of what compiling adamax costs anyway (copying the params in, starting
 * the workers, generating the kernels), not the 20 s it once took on 80 million parameters.
 */
export interface CompileTimeResult {
  readonly layout: string;
  readonly backend: string;
  /** Best compile time of plain adamax, ms. */
  readonly plainMs: number;
  /** Best compile time of clipByGlobalNorm(1) then adamax, ms. */
  readonly clipMs: number;
}

/** The large tree the compile times are taken on (five leaves, as a small model's big matrices). */
export function compileTimeLayout(config: BenchConfig): Layout {
  return config.quick ? { label: '5×2e4', leaves: 5, leafSize: 2e4, dtype: 'float32' } : { label: '5×4e6', leaves: 5, leafSize: 4e6, dtype: 'float32' };
}

export async function measureCompileTime(config: BenchConfig, threads: number): Promise<CompileTimeResult> {
  const layout = compileTimeLayout(config);
  const rounds = config.quick ? 1 : 3;
  const { learningRate, b1, b2, eps } = HYPER;
  const makers: (() => GradientTransformation<unknown>)[] = [
    () => benchOptimizer(),
    () => chain(clipByGlobalNorm(1), adamax(learningRate, { b1, b2, eps })) as GradientTransformation<unknown>,
  ];
  const best = [Infinity, Infinity];
  const problem = makeProblem(layout);
  let backend = '';
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < makers.length; k++) {
      const tx = makers[k]();
      const started = performance.now();
      const stepper = await compileStepper(problem, { backend: 'wasm', threads }, tx);
      best[k] = Math.min(best[k], performance.now() - started);
      backend = `wasm ${stepper.threads ?? threads}t`;
      stepper.dispose();
    }
  }
  return { layout: layout.label, backend, plainMs: best[0], clipMs: best[1] };
}

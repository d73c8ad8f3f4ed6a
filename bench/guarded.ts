import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { applyIfFinite } from '../src/transforms/apply-if-finite.js';
import { relaxedMaddFused } from '../src/engine/wasm/relaxed-madd.js';
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
 * traced numerics (fused multiply-adds), measured interleaved with plain adamax per fused backend;
 * and the reference path's applyIfFinite(adamax), on its own (it is slow).
 *
 * WebAssembly rows say how the float32 fmas ran: emulated, or `relaxed_madd` where this runtime has
 * relaxed SIMD and fuses it (engine/wasm/relaxed-madd.ts). Where it has not (Node 20 without
 * `--experimental-wasm-relaxed-simd`), the WebAssembly rows are measured again in a child process
 * with that flag, so that the table shows both modes when the CPU fuses.
 */
export async function measureGuarded(config: BenchConfig, backends: readonly { backend: 'js' | 'wasm'; threads: number }[]): Promise<{ fused: GuardedResult[]; reference: number }> {
  const layout = config.layoutCost.one;
  const n = paramCount(layout);
  const fused = await measureFused(config, backends);
  const wasm = backends.filter((b) => b.backend === 'wasm');
  if (wasm.length > 0 && !relaxedMaddFused()) fused.push(...relaxedRows(config, wasm));
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

/** The fused rows of {@link measureGuarded}, in this process. */
async function measureFused(config: BenchConfig, backends: readonly { backend: 'js' | 'wasm'; threads: number }[]): Promise<GuardedResult[]> {
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
      const fma = backend === 'js' ? '' : relaxedMaddFused() ? ', relaxed_madd fma' : ', emulated fma';
      fused.push({ label: `fused ${backend} ${threads}t${fma}`, plain, guarded });
    } finally {
      for (const s of steppers) s.dispose();
    }
  }
  return fused;
}

const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';

/**
 * The WebAssembly rows measured in a child process run with {@link RELAXED_FLAG} (none where the
 * child's runtime does not fuse relaxed_madd either, e.g. a CPU without FMA3, or where it fails).
 */
function relaxedRows(config: BenchConfig, backends: readonly { backend: 'js' | 'wasm'; threads: number }[]): GuardedResult[] {
  const args = [RELAXED_FLAG, '--import', 'tsx', fileURLToPath(import.meta.url), 'relaxed-child', ...(config.quick ? ['--quick'] : []), JSON.stringify(backends)];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return [];
  const rows = JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]') as GuardedResult[];
  return rows.map((row) => ({ ...row, label: `${row.label} (${RELAXED_FLAG})` }));
}

// The child of relaxedRows: `tsx bench/guarded.ts relaxed-child [--quick] BACKENDS_JSON`, run with the flag.
if (process.argv[2] === 'relaxed-child' && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { parseConfig } = await import('./config.js');
  const config = parseConfig(process.argv.slice(3, -1));
  const backends = JSON.parse(process.argv[process.argv.length - 1]) as { backend: 'js' | 'wasm'; threads: number }[];
  process.stdout.write(`${JSON.stringify(relaxedMaddFused() ? await measureFused(config, backends) : [])}\n`);
  process.exit(0);
}

import type { Dtype, FloatArray } from '../core/dtype.js';
import { xlaReduceSumPlan } from '../core/xla-reduce-sum.js';
import { type LeafSum, type LeafSumTable, squareTerms } from '../transforms/clip-by-global-norm.js';
import type { ExtraPass } from './executor.js';
import type { EngineMemory } from './memory.js';
import { type DtypePlan, type PlanLeaf, normRegionBytes, planNormTables, writeNormTables } from './norm-plan.js';
import { normTableRunner } from './norm-runner.js';
import type { KernelFunction } from './program.js';
import { NORM_EXPORT, emitNormModule } from './wasm/norm-module.js';
import { requestTierUp } from './wasm/tier-up.js';

/**
 * The leaf sums of the global norm of `clipByGlobalNorm` at the start of a chain, bit-exact to
 * `leafSumOfSquares` (src/transforms/clip-by-global-norm.ts): the squares added in XLA:CPU's order
 * (`xlaReduceWindows`, core/xla-reduce-sum.ts). The engine's gradients have fixed shapes and places, so
 * their windows become tables of window operations once, at compile time (norm-plan.ts), run by one
 * call per step and dtype: WebAssembly SIMD (wasm/norm-module.ts) on the wasm backend, whose first
 * level (nearly all the work) the worker threads share, or a JS loop.
 */

export type { LeafSum };
export { combineLeafSums } from '../transforms/clip-by-global-norm.js';

/** Leaf sums in JS over any arrays (e.g. gradients not in the engine's memory): the reference terms themselves. */
export function jsLeafSums(grads: readonly FloatArray[], shapes: readonly (readonly number[])[], flush: boolean): LeafSum {
  const plans = grads.map((g, i) => xlaReduceSumPlan(squareTerms(g, flush), shapes[i]));
  return (i) => plans[i]();
}

const leavesOf = (grads: readonly FloatArray[], shapes: readonly (readonly number[])[]): PlanLeaf[] =>
  grads.map((g, i) => ({ pointer: g.byteOffset, dtype: g instanceof Float32Array ? 'float32' : 'float64', shape: shapes[i] }));

/** Bytes of memory {@link planLeafSums} needs for these gradient views and threads (at a 16-byte aligned offset). */
export function leafSumsRegionBytes(grads: readonly FloatArray[], shapes: readonly (readonly number[])[], threads = 1): number {
  return normRegionBytes(leavesOf(grads, shapes), threads);
}

/** Leaf sums planned by {@link planLeafSums}. */
export interface PlannedLeafSums {
  /** The first level as an executor pass for the threads (WebAssembly, more than one thread; kernel k is the dtypes' k-th present), else undefined. */
  readonly pass: ExtraPass | undefined;
  /**
   * The leaf sums. `runPass`, when given, runs {@link PlannedLeafSums.pass} on the threads (an
   * executor's pass); else the calling thread runs the first level itself. The sums of all leaves are
   * computed together when leaf 0's is asked for (`combineLeafSums` asks for each leaf's in order,
   * once per step); the others are then read.
   */
  leafSums(runPass?: () => void): LeafSum;
}

/**
 * The leaf sums of gradient views that lie in `memory`, from tables at byte `offset` of it
 * (`leafSumsRegionBytes(grads, shapes, threads)` bytes there are the plan's: scratch, sums, tables):
 * in WebAssembly with `wasm` (it throws when WebAssembly cannot run it; the JS tables give the same
 * bits), else in generated JS (norm-runner.ts: it throws where code cannot be generated; its first
 * level is then one share: `threads` must be 1).
 */
export function planLeafSums(grads: readonly FloatArray[], shapes: readonly (readonly number[])[], flush: boolean, memory: EngineMemory, offset: number, wasm: boolean, threads = 1): PlannedLeafSums {
  const plan = planNormTables(leavesOf(grads, shapes), offset, threads);
  const dtypes = (['float32', 'float64'] as const).filter((d) => plan.plans[d].shares.some((s) => s.operations) || plan.plans[d].rest.operations);
  let run: (dtype: Dtype, p: DtypePlan) => () => void;
  const modules: WebAssembly.Module[] = [], kernels: KernelFunction[] = [];
  if (wasm) {
    if (!memory.wasm) throw new Error('WebAssembly.Memory is unavailable');
    for (const dtype of dtypes) {
      const bytes = emitNormModule(dtype, flush, { shared: memory.shared, initialPages: memory.pages, maximumPages: memory.pages });
      modules.push(new WebAssembly.Module(bytes));
      const kernel = new WebAssembly.Instance(modules[modules.length - 1], { env: { memory: memory.wasm } }).exports[NORM_EXPORT] as KernelFunction;
      // Its optimized code asked for now, not during the first steps (wasm/tier-up.ts): over 0
      // operations the kernel reads no table and touches no memory.
      requestTierUp(kernel, [0, 0], bytes.length);
      kernels.push(kernel);
    }
    run = (dtype, p) => {
      const norm = kernels[dtypes.indexOf(dtype)];
      return () => norm(p.operations, p.tablePointer);
    };
  } else {
    if (threads !== 1) throw new RangeError(`JS leaf sums run on one thread, got ${threads}`);
    run = (dtype, p) => normTableRunner(p, dtype, memory.buffer, flush);
  }
  writeNormTables(plan, memory.buffer);
  const firstLevel = dtypes.flatMap((d) => plan.plans[d].shares.filter((s) => s.operations).map((s) => run(d, s)));
  const rest = dtypes.flatMap((d) => (plan.plans[d].rest.operations ? [run(d, plan.plans[d].rest)] : []));
  const pass: ExtraPass | undefined = wasm && threads > 1
    ? {
      shares: Array.from({ length: threads }, (_, t) => dtypes.flatMap((d, k) => {
        const share = plan.plans[d].shares[t];
        return share.operations ? [{ kernel: k, n: share.operations, pointers: [share.tablePointer] }] : [];
      })),
      kernels,
      modules,
    }
    : undefined;
  const views: Record<Dtype, FloatArray> = { float32: new Float32Array(memory.buffer), float64: new Float64Array(memory.buffer) };
  const sums = grads.map((g, i) => {
    const view = g instanceof Float32Array ? views.float32 : views.float64;
    return { view, index: plan.sumPointers[i] / view.BYTES_PER_ELEMENT };
  });
  const table: LeafSumTable = { float32: views.float32 as Float32Array, float64: views.float64 as Float64Array, index: Int32Array.from(sums, (s) => s.index) };
  return {
    pass,
    leafSums(runPass) {
      const run = (i: number): void => {
        if (i === 0) {
          if (runPass) runPass();
          else for (let r = 0; r < firstLevel.length; r++) firstLevel[r]();
          for (let r = 0; r < rest.length; r++) rest[r]();
        }
      };
      return Object.assign((i: number) => {
        run(i);
        return sums[i].view[sums[i].index];
      }, {
        // The same written to a cell: no double crosses a call at a step (see LeafSum.into).
        into: (i: number, cells: Float64Array, at: number) => {
          run(i);
          cells[at] = sums[i].view[sums[i].index];
        },
        all: () => {
          run(0);
          return table;
        },
      });
    },
  };
}

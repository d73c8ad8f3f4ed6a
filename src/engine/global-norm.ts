import type { Dtype, FloatArray } from '../core/dtype.js';
import { xlaReduceSumPlan } from '../core/xla-reduce-sum.js';
import { type LeafSum, squareTerms } from '../transforms/clip-by-global-norm.js';
import type { EngineMemory } from './memory.js';
import { type PlanLeaf, normRegionBytes, normTableRunner, planNormTables, writeNormTables } from './norm-plan.js';
import { NORM_EXPORT, emitNormModule } from './wasm/norm-module.js';

/**
 * The leaf sums of the global norm of `clipByGlobalNorm` at the start of a chain, bit-exact to
 * `leafSumOfSquares` (src/transforms/clip-by-global-norm.ts): the squares added in XLA:CPU's order
 * (`xlaReduceWindows`, core/xla-reduce-sum.ts). The engine's gradients have fixed shapes and places, so
 * their windows become a table of window operations once, at compile time (norm-plan.ts), run by one
 * call per step: WebAssembly SIMD (wasm/norm-module.ts) on the wasm backend, a JS loop otherwise.
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

/** Bytes of memory {@link plannedLeafSums} needs for these gradient views (at a 16-byte aligned offset). */
export function leafSumsRegionBytes(grads: readonly FloatArray[], shapes: readonly (readonly number[])[]): number {
  return normRegionBytes(leavesOf(grads, shapes));
}

/**
 * The leaf sums of gradient views that lie in `memory`, run from a table at byte `offset` of it
 * (`leafSumsRegionBytes` bytes there are the plan's: scratch, sums, tables): in WebAssembly with
 * `wasm` (it throws when WebAssembly cannot run it; the JS tables give the same bits), else in JS.
 * The sums of all leaves are computed together when leaf 0's is asked for (`combineLeafSums` asks for
 * each leaf's in order, once per step); the others are then read.
 */
export function plannedLeafSums(grads: readonly FloatArray[], shapes: readonly (readonly number[])[], flush: boolean, memory: EngineMemory, offset: number, wasm: boolean): LeafSum {
  const plan = planNormTables(leavesOf(grads, shapes), offset);
  const runs: (() => void)[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    const { operations, tablePointer } = plan.plans[dtype];
    if (!operations) continue;
    if (wasm) {
      if (!memory.wasm) throw new Error('WebAssembly.Memory is unavailable');
      const bytes = emitNormModule(dtype, flush, { shared: memory.shared, initialPages: memory.pages, maximumPages: memory.pages });
      const norm = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: memory.wasm } }).exports[NORM_EXPORT] as (n: number, table: number) => void;
      runs.push(() => norm(operations, tablePointer));
    } else runs.push(normTableRunner(plan.plans[dtype], dtype, memory.buffer, flush));
  }
  writeNormTables(plan, memory.buffer);
  const views: Record<Dtype, FloatArray> = { float32: new Float32Array(memory.buffer), float64: new Float64Array(memory.buffer) };
  const sums = grads.map((g, i) => {
    const view = g instanceof Float32Array ? views.float32 : views.float64;
    return { view, index: plan.sumPointers[i] / view.BYTES_PER_ELEMENT };
  });
  return (i) => {
    if (i === 0) for (let r = 0; r < runs.length; r++) runs[r]();
    return sums[i].view[sums[i].index];
  };
}

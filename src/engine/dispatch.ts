import type { Dtype } from '../core/dtype.js';
import type { Stage } from './analyze.js';
import { scalarName } from './compose.js';
import { type Group, type Layout, kernelScalars, scalarKey } from './layout.js';
import { type FusedProgram, type KernelFunction, bytesPerElement } from './program.js';
import type { CallSpec } from './worker-source.js';

/**
 * Turning compiled programs into kernel calls: which pointers and scalar slots each call of each
 * group gets, for the whole group or for one thread's share of it, and running a list of calls with
 * the step's scalars. All of it is fixed at compile time; a step only refreshes the scalar arguments
 * in place, so it allocates nothing.
 */

/** The scalar-block slot of each scalar of `program` (whose names come from `scalarName`). */
export function programSlots(program: FusedProgram, group: Group, stages: readonly Stage[], layout: Layout): number[] {
  const byName = new Map<string, number>();
  for (const k of group.stages) {
    for (const n of kernelScalars(stages[k])) byName.set(scalarName(k, n), layout.scalarSlots.get(scalarKey(k, group.dtype, n))!);
  }
  return program.scalars.map((s) => byName.get(s)!);
}

/** The byte pointer of element `lo` of each stream of `program` in `group` (`updates` is the grads). */
export function programPointers(program: FusedProgram, group: Group, lo: number): number[] {
  const bpe = bytesPerElement(group.dtype);
  return program.streams.map((s) => group.streams.get(s === 'updates' ? 'grads' : s)! + lo * bpe);
}

/** Elements per 64-byte line: shares start on a line, so threads never write the same cache line. */
function elementsPerLine(dtype: Dtype): number {
  return 64 / bytesPerElement(dtype);
}

/**
 * Splits every group's call into `threads` shares of whole cache lines; returns each thread's calls
 * (thread 0 is the main thread). `slots[g]` are the scalar slots of group g's program.
 */
export function splitCalls(groups: readonly Group[], programs: readonly FusedProgram[], slots: readonly number[][], threads: number): CallSpec[][] {
  const shares: CallSpec[][] = Array.from({ length: threads }, () => []);
  groups.forEach((group, g) => {
    if (group.length === 0) return;
    const line = elementsPerLine(group.dtype);
    const chunk = Math.ceil(group.length / threads / line) * line;
    for (let t = 0; t < threads; t++) {
      const lo = Math.min(group.length, t * chunk);
      const hi = Math.min(group.length, lo + chunk);
      if (hi > lo) shares[t].push({ kernel: g, n: hi - lo, pointers: programPointers(programs[g], group, lo), slots: slots[g] });
    }
  });
  return shares;
}

/** A call ready to run: its argument list is reused every step. */
interface BoundCall {
  readonly fn: KernelFunction;
  readonly args: number[];
  readonly slots: readonly number[];
  readonly start: number;
}

/** A list of calls bound to kernels, run with the scalars of the scalar block. */
export class CallList {
  private readonly calls: BoundCall[];

  constructor(specs: readonly CallSpec[], kernels: readonly KernelFunction[], private readonly scalars: Float64Array) {
    this.calls = specs.map((c) => ({
      fn: kernels[c.kernel],
      args: [c.n, ...c.pointers, ...c.slots.map(() => 0)],
      slots: c.slots,
      start: 1 + c.pointers.length,
    }));
  }

  run(): void {
    const S = this.scalars;
    for (const c of this.calls) {
      for (let j = 0; j < c.slots.length; j++) c.args[c.start + j] = S[c.slots[j]];
      c.fn.apply(undefined, c.args);
    }
  }
}

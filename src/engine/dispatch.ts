import type { Dtype } from '../core/dtype.js';
import type { Stage } from './analyze.js';
import { scalarName } from './compose.js';
import { type Group, type Layout, kernelScalars, scalarKey } from './layout.js';
import { type FusedProgram, type KernelFunction, bytesPerElement, streamDtype } from './program.js';
import type { CallSpec } from './worker-source.js';

/**
 * Turning compiled programs into kernel calls: which pointers each call of each group gets, for the
 * whole group or for one thread's share of it, where its scalars are, and running a list of calls.
 * All of it is fixed at compile time; a step writes the scalars into the scalar block and runs the
 * calls, allocating nothing.
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
  return program.streams.map((s) => group.streams.get(s === 'updates' ? 'grads' : s)! + lo * bytesPerElement(streamDtype(program, s)));
}

/** Elements per 64-byte line: shares start on a line, so threads never write the same cache line. */
function elementsPerLine(dtype: Dtype): number {
  return 64 / bytesPerElement(dtype);
}

/** Byte offsets of the scalar-block slots `slots` (the kernels read their scalars there). */
export function scalarOffsets(layout: Layout, slots: readonly number[]): number[] {
  return slots.map((slot) => layout.scalarOffset + 8 * slot);
}

/**
 * Splits every group's call into `threads` shares of whole cache lines; returns each thread's calls
 * (thread 0 is the main thread). Group g's kernel is `kernelOffset + g`.
 */
export function splitCalls(groups: readonly Group[], programs: readonly FusedProgram[], threads: number, kernelOffset = 0): CallSpec[][] {
  return shareRanges(groups, threads).map((ranges) => ranges.map(({ group, lo, hi }) => ({ kernel: kernelOffset + group, n: hi - lo, pointers: programPointers(programs[group], groups[group], lo) })));
}

/** Each thread's element ranges `[lo, hi)` of each group (whole cache lines; empty ones left out). */
export function shareRanges(groups: readonly Group[], threads: number): { group: number; lo: number; hi: number }[][] {
  const shares: { group: number; lo: number; hi: number }[][] = Array.from({ length: threads }, () => []);
  groups.forEach((group, g) => {
    if (group.length === 0) return;
    const line = elementsPerLine(group.dtype);
    const chunk = Math.ceil(group.length / threads / line) * line;
    for (let t = 0; t < threads; t++) {
      const lo = Math.min(group.length, t * chunk);
      const hi = Math.min(group.length, lo + chunk);
      if (hi > lo) shares[t].push({ group: g, lo, hi });
    }
  });
  return shares;
}

/**
 * A list of calls bound to kernels. The kernels read the step's scalars from the scalar block, so a
 * call passes integers only (element count, pointers), fixed at compile time: running the list
 * allocates nothing (doubles passed through `apply` would each be boxed).
 */
export class CallList {
  private readonly calls: { readonly fn: KernelFunction; readonly args: readonly number[] }[];

  constructor(specs: readonly CallSpec[], kernels: readonly KernelFunction[]) {
    this.calls = specs.map((c) => ({ fn: kernels[c.kernel], args: [c.n, ...c.pointers] }));
  }

  run(): void {
    const calls = this.calls;
    for (let i = 0; i < calls.length; i++) calls[i].fn.apply(undefined, calls[i].args as number[]);
  }
}

import type { Dtype } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { topologicalOrder } from '../kernel/expr.js';
import type { Stage } from './analyze.js';
import { scalarStreamName, stateStreamName } from './compose.js';
import type { LeafInfo, LeafTable } from './leaves.js';
import { bytesPerElement } from './program.js';

/**
 * The arena: where every leaf of every tree lives in the engine's one memory.
 *
 * Leaves that run the same stages (a "group": same dtype, same variant of the chain) are laid out
 * back to back, each 64-byte aligned, in one region per stream (params, grads, and each per-element
 * state leaf of each stage). A leaf has the same offset in every stream of its group, so one kernel
 * call over the group's region processes every leaf of it: 2000 leaves cost what one leaf of the same
 * total size costs. The padding between leaves is computed on too (harmlessly: nothing reads it back).
 *
 * ```
 * [ control block | scalar block | group 0: params, grads, s0.mu, s0.nu, ... | group 1: ... ]
 * ```
 */

/** Alignment of every leaf and region, in bytes (a cache line; also a multiple of any SIMD width). */
export const ALIGN = 64;
/** Bytes of the control block (Atomics words shared with the worker threads). */
export const CONTROL_BYTES = 512; // worker-source.ts: CONTROL_WORDS Int32 words
/**
 * Stream regions of a group start at different offsets within a span of this many bytes (a page):
 * see {@link staggeredStart}.
 */
export const STAGGER_SPAN = 4096;
/** The largest memory a WebAssembly (wasm32) memory can have, in 64 KiB pages. */
export const MAX_PAGES = 65536;
export const PAGE = 65536;

/** Leaves of one dtype running the same stages. */
export interface Group {
  readonly index: number;
  readonly dtype: Dtype;
  /** The stages every leaf of the group runs, in chain order. */
  readonly stages: readonly number[];
  readonly leaves: readonly number[];
  /** Elements in each of the group's regions, padding included (a multiple of 64 bytes). */
  readonly length: number;
  /** Byte offset of the group's region of each stream it has. */
  readonly streams: ReadonlyMap<string, number>;
  /** The element type of each stream (the group's dtype, or a stage's narrower `stateDtype`). */
  readonly streamDtypes: ReadonlyMap<string, Dtype>;
  /** The class its leaves share (see {@link planLayout}; '' when none is given). */
  readonly leafClass: string;
}

/** Where everything is. */
export interface Layout {
  readonly groups: readonly Group[];
  /** The group of each leaf. */
  readonly leafGroup: readonly number[];
  /** The element offset of each leaf inside its group's regions. */
  readonly leafOffset: readonly number[];
  /** Byte offset of the scalar block (a Float64Array of `scalarSlots.size` values). */
  readonly scalarOffset: number;
  /** The slot of each stage scalar: key `${stage}:${dtype}:${name}`. */
  readonly scalarSlots: ReadonlyMap<string, number>;
  /** Total bytes used. */
  readonly bytes: number;
}

/** The key of a stage scalar in {@link Layout.scalarSlots}. */
export function scalarKey(stage: number, dtype: Dtype, name: string): string {
  return `${stage}:${dtype}:${name}`;
}

/** The scalars a stage's kernel reads from the scalar block (its array scalars are streams). */
export function kernelScalars(stage: Stage): string[] {
  const names: string[] = [];
  const roots = [stage.kernel.updates, ...stage.stateLeaves.map((k) => stage.kernel.state[k])];
  const arrays = stage.arrayScalars ?? [];
  for (const e of topologicalOrder(roots)) if (e.kind === 'scalar' && !names.includes(e.name) && !arrays.includes(e.name)) names.push(e.name);
  for (const name of stage.extraScalars ?? []) if (!names.includes(name)) names.push(name);
  return names;
}

const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;

/**
 * Lays out the leaves of `table` for `stages`. `leafClass`: leaves of different classes never share a
 * group (a program may depend on it: MultiSteps' silent update differs for one-element leaves).
 */
export function planLayout(table: LeafTable, stages: readonly Stage[], leafClass?: (leaf: LeafInfo) => string): Layout {
  const variant: number[][] = table.leaves.map(() => []);
  for (const s of stages) for (const i of s.leaves) variant[i].push(s.index);
  // Group leaves by (dtype, variant): float32 groups first, each in order of first appearance.
  const keys: string[] = [];
  const members = new Map<string, number[]>();
  for (const dtype of ['float32', 'float64'] as const) {
    for (const leaf of table.leaves) {
      if (leaf.dtype !== dtype) continue;
      const key = `${dtype}|${variant[leaf.index].join(',')}|${leafClass?.(leaf) ?? ''}`;
      if (!members.has(key)) { members.set(key, []); keys.push(key); }
      members.get(key)!.push(leaf.index);
    }
  }
  const scalarSlots = new Map<string, number>();
  for (const s of stages) for (const d of s.dtypes) for (const n of kernelScalars(s)) scalarSlots.set(scalarKey(s.index, d, n), scalarSlots.size);
  const scalarOffset = CONTROL_BYTES;
  let cursor = alignUp(scalarOffset + 8 * scalarSlots.size, ALIGN);
  const leafGroup: number[] = new Array(table.leaves.length).fill(-1);
  const leafOffset: number[] = new Array(table.leaves.length).fill(0);
  const groups: Group[] = keys.map((key, g) => {
    const leaves = members.get(key)!;
    const dtype = table.leaves[leaves[0]].dtype;
    const per = ALIGN / bytesPerElement(dtype);
    let length = 0;
    for (const i of leaves) {
      leafGroup[i] = g;
      leafOffset[i] = length;
      length += alignUp(table.leaves[i].length, per);
    }
    const groupStages = variant[leaves[0]];
    const streamDtypes = new Map<string, Dtype>([['params', dtype], ['grads', dtype]]);
    for (const k of groupStages) {
      for (const leafName of stages[k].stateLeaves) streamDtypes.set(stateStreamName(k, leafName), stages[k].stateDtype ?? dtype);
      for (const name of stages[k].arrayScalars ?? []) streamDtypes.set(scalarStreamName(k, name), dtype);
    }
    const streams = new Map<string, number>();
    for (const [name, streamDtype] of streamDtypes) {
      cursor = staggeredStart(cursor, streams.size, streamDtypes.size);
      streams.set(name, cursor);
      // A narrower stream's region is shorter: the next one starts on a line again.
      cursor = alignUp(cursor + length * bytesPerElement(streamDtype), ALIGN);
    }
    return { index: g, dtype, stages: groupStages, leaves, length, streams, streamDtypes, leafClass: key.slice(key.lastIndexOf('|') + 1) };
  });
  if (cursor > MAX_PAGES * PAGE) {
    throw new OptaxError(`compile: the parameters, gradients and state need ${cursor} bytes, more than the 4 GiB a WebAssembly memory can hold`);
  }
  return { groups, leafGroup, leafOffset, scalarOffset, scalarSlots, bytes: cursor };
}

/**
 * Where the region of stream `k` of a group of `count` streams starts: the first line at or after
 * `cursor` whose offset within a {@link STAGGER_SPAN} is `k` times `count`'s share of the span's lines
 * (streams as far apart as the span allows).
 *
 * Why: a kernel reads element `i` of every stream of its group together and writes most of them back.
 * Regions laid back to back are as far apart as their length, which for many lengths is a multiple
 * of 4 KiB (2000 leaves of 500 float32 elements, each padded to 512: 4,096,000 bytes): the lines of
 * element `i` of every stream then fall in one set of the level-1 data cache (4 KiB of sets on common
 * x64 and Arm cores: 32-48 KiB, 8-12 ways), and a kernel of five streams or more, with the lines its
 * prefetcher brings ahead of each, evicts lines it is still using. Measured (one thread, both layouts
 * compiled in one process and stepped in turn, 10th percentiles of 400-600 samples, six runs, Node 20
 * and 24, loaded and quiet 2-core machine): `chain(ema(0.9), adamax)` over 2000 leaves of 500 went
 * from 1.44-1.62x of plain adamax to 1.23-1.46x, over 4000 leaves of 250 from 1.43-1.67x to
 * 1.29-1.39x; plain adamax (four streams) did not change beyond run-to-run noise. The padding costs
 * less than a span per stream.
 */
export function staggeredStart(cursor: number, k: number, count: number): number {
  const lines = STAGGER_SPAN / ALIGN;
  const want = (k * Math.max(1, Math.floor(lines / count)) * ALIGN) % STAGGER_SPAN;
  return cursor + ((((want - (cursor % STAGGER_SPAN)) % STAGGER_SPAN) + STAGGER_SPAN) % STAGGER_SPAN);
}

/** The byte offset of element 0 of leaf `leaf` in `stream`, and the stream's element type. */
export function leafPointer(layout: Layout, stream: string, leaf: number): { pointer: number; dtype: Dtype } {
  const group = layout.groups[layout.leafGroup[leaf]];
  const base = group.streams.get(stream);
  if (base === undefined) throw new OptaxError(`internal: leaf ${leaf} has no stream '${stream}'`);
  const dtype = group.streamDtypes.get(stream)!;
  return { pointer: base + layout.leafOffset[leaf] * bytesPerElement(dtype), dtype };
}

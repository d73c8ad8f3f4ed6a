import type { Dtype } from '../core/dtype.js';
import { type ReduceWindowLevel, xlaReduceWindows } from '../core/xla-reduce-sum.js';

/**
 * The leaf sums of a global norm as a table of *window operations* built once at compile time and run
 * by one call per step (generated JS: norm-runner.ts, or WebAssembly: wasm/norm-module.ts), instead of a chain of
 * calls per leaf.
 *
 * The order is XLA:CPU's (`xlaReduceWindows`, core/xla-reduce-sum.ts; docs/numerics.md §3): each
 * level of 32-wide windows sums each window's in-bounds elements in row-major order from 0 (each
 * addition rounded to the dtype), the window sums, row-major over the windows, are the next level's
 * elements, and the last level's sums (or the leaf, when no dimension exceeds 32) are added in order.
 * Here each level's window sums are *materialized* in a scratch region of the engine's memory (stored
 * in the dtype, so exactly the values the next addition reads): the same additions in the same order
 * as the reference's lazy evaluation, but the windows of a level are independent of each other, so a
 * kernel may sum many windows side by side (vector lanes, interleaved chains) and still add each
 * window's elements strictly in order. Windows of the same extent, of every leaf, share one
 * operation (2000 leaves of 500 elements: one operation for their 28000 inner windows, one for each
 * padded edge, one for the 2000 final sums).
 *
 * One operation: a header of `HEADER_WORDS` int32 words, then `count` pairs of byte pointers:
 *
 *     flags, count, rows, rowStride, len, first, src_0, dst_0, src_1, dst_1, ...
 *
 * For each window `k < count`: `s = (flags & ACCUMULATE) ? *dst_k : 0`; for each row `r < rows`, for
 * each `e < len` in order: `s = s + term(src_k + r * rowStride + e * size)`; then `*dst_k = s`. With
 * `flags & LANES` (a level whose last dimension is padded) each row is instead added in lanes,
 * `s = laneRowSum(dtype, s, first, len, ...)` (core/xla-reduce-sum.ts), its elements being window
 * positions `first .. first + len - 1`. A term
 * is the element itself, or with `flags & SQUARES` its square rounded to the dtype (and, in XLA's
 * subnormal mode, 0 when below the smallest normal: FTZ/DAZ). ACCUMULATE continues a window whose
 * earlier rows an earlier operation summed (windows spanning three dimensions or more, whose rows are
 * not one strided run); the partial sum is stored in the dtype, so continuing from it is the same
 * chain of additions. The windows of one operation are distinct, so they may run in any order.
 */

/** Int32 words of an operation's header. */
export const HEADER_WORDS = 6;
/** Flag: the terms are the squares of the source elements (else the elements). */
export const FLAG_SQUARES = 1;
/** Flag: each window continues from its current `dst` value (else from 0). */
export const FLAG_ACCUMULATE = 2;
/** Flag: each row is added in lanes (`laneRowSum`), its first element at window position `first`. */
export const FLAG_LANES = 4;
/** Byte alignment of the region and of each dtype's parts in it. */
const REGION_ALIGN = 16;

/** A gradient leaf the plan sums: where its elements are (a byte offset), its dtype and shape. */
export interface PlanLeaf {
  readonly pointer: number;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
}

/** Operations of one dtype, and where they live. */
export interface DtypePlan {
  /** The operations (headers and pointers), in an order that respects their dependencies. */
  readonly table: Int32Array;
  /** How many operations the table holds. */
  readonly operations: number;
  /** Byte offset of the table in the memory (where {@link writeNormTables} puts it). */
  readonly tablePointer: number;
}

/**
 * The operations of one dtype in two phases: the first level's windows (squares of the gradients,
 * nearly all the work), split into one table per thread, and the rest (the levels above and the
 * final sums, which read what the first phase wrote), run after it by one thread. A window's
 * operations (its slabs) all go to the same thread.
 */
export interface PhasedPlan {
  readonly shares: readonly DtypePlan[];
  readonly rest: DtypePlan;
}

/** Every dtype's operations, the leaf sums' addresses, and the region's size. */
export interface NormPlan {
  readonly plans: Readonly<Record<Dtype, PhasedPlan>>;
  /** Byte offset of each leaf's sum (an element of the leaf's dtype). */
  readonly sumPointers: readonly number[];
  /** Bytes of the region, from its offset (scratch, sums and tables). */
  readonly bytes: number;
}

const bytesOf = (dtype: Dtype): number => (dtype === 'float32' ? 4 : 8);
const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;
const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Bytes {@link planNormTables} needs for these leaves and threads (the same at any region offset that is a multiple of 16). */
export function normRegionBytes(leaves: readonly PlanLeaf[], threads = 1): number {
  return planAtZero(leaves, threads).bytes;
}

/**
 * Plans laid out at offset 0 lately, by leaves and threads: compile asks for the region's size (at 1
 * and at its threads), then for the plan at the region's offset, and a plan is compile-time work over
 * every first-level window (2.5 million for 80 million gradients). Held weakly: nothing is kept alive
 * once the compile that asked is done with it.
 */
const recentPlans: { readonly key: string; readonly plan: WeakRef<NormPlan> }[] = [];
const RECENT_PLANS = 2;

function planAtZero(leaves: readonly PlanLeaf[], threads: number): NormPlan {
  const key = `${threads}|${leaves.map((l) => `${l.pointer} ${l.dtype} ${l.shape.join(',')}`).join('|')}`;
  for (const r of recentPlans) {
    const plan = r.key === key ? r.plan.deref() : undefined;
    if (plan) return plan;
  }
  const plan = buildPlan(leaves, threads);
  recentPlans.unshift({ key, plan: new WeakRef(plan) });
  recentPlans.length = Math.min(recentPlans.length, RECENT_PLANS);
  return plan;
}

/**
 * `plan` (laid out at offset 0) moved to byte `offset`: every pointer into the region (sums, scratch,
 * tables) moves by `offset`; the first level's sources are the gradients, outside the region (the
 * operations that square their terms, FLAG_SQUARES, are exactly the first level's), and stay.
 */
function relocate(plan: NormPlan, offset: number): NormPlan {
  if (offset === 0) return plan;
  const move = (p: DtypePlan): DtypePlan => {
    const table = p.table.slice();
    for (let at = 0; at < table.length;) {
      const flags = table[at], count = table[at + 1];
      at += HEADER_WORDS;
      const region = (flags & FLAG_SQUARES) === 0;
      for (let k = 0; k < count; k++, at += 2) {
        if (region) table[at] += offset;
        table[at + 1] += offset;
      }
    }
    return { table, operations: p.operations, tablePointer: p.tablePointer + offset };
  };
  const plans = {} as Record<Dtype, PhasedPlan>;
  for (const dtype of ['float32', 'float64'] as const) plans[dtype] = { shares: plan.plans[dtype].shares.map(move), rest: move(plan.plans[dtype].rest) };
  return { plans, sumPointers: plan.sumPointers.map((p) => p + offset), bytes: plan.bytes };
}

/**
 * Windows' parts of operations (see levelWindows), as columns: for the k-th, its slab, kind fields
 * (flags, rows, row stride, length, first) and pointers. A first level has one window per 32
 * gradients (2.5 million for 80 million): no object per window.
 */
class WindowList {
  length = 0;
  slab: Int32Array = new Int32Array(16);
  flags: Int32Array = new Int32Array(16);
  rows: Int32Array = new Int32Array(16);
  rowStride: Float64Array = new Float64Array(16);
  len: Int32Array = new Int32Array(16);
  first: Int32Array = new Int32Array(16);
  src: Float64Array = new Float64Array(16);
  dst: Float64Array = new Float64Array(16);

  push(slab: number, flags: number, rows: number, rowStride: number, len: number, first: number, src: number, dst: number): void {
    if (this.length === this.slab.length) this.grow();
    const k = this.length++;
    this.slab[k] = slab; this.flags[k] = flags; this.rows[k] = rows; this.rowStride[k] = rowStride;
    this.len[k] = len; this.first[k] = first; this.src[k] = src; this.dst[k] = dst;
  }

  /** Whether windows j and k belong to the same operation kind and slab. */
  sameKind(j: number, k: number): boolean {
    return this.slab[j] === this.slab[k] && this.flags[j] === this.flags[k] && this.rows[j] === this.rows[k] && this.rowStride[j] === this.rowStride[k] && this.len[j] === this.len[k] && this.first[j] === this.first[k];
  }

  private grow(): void {
    const n = this.slab.length * 2;
    const int = (a: Int32Array): Int32Array => { const b = new Int32Array(n); b.set(a); return b; };
    const float = (a: Float64Array): Float64Array => { const b = new Float64Array(n); b.set(a); return b; };
    this.slab = int(this.slab); this.flags = int(this.flags); this.rows = int(this.rows); this.rowStride = float(this.rowStride);
    this.len = int(this.len); this.first = int(this.first); this.src = float(this.src); this.dst = float(this.dst);
  }
}

/**
 * The table of the windows of `list` whose indices `which` holds (all, in order, when undefined): one
 * operation per kind (flags, rows, row stride, length, first) and slab, slab after slab (a window's
 * slab `s` continues its slab `s - 1`), kinds in order of first appearance, each kind's windows in
 * order. Windows come in runs of one kind, so a kind's key is built only where the kind changes; the
 * words go straight into the table.
 */
function tableOf(list: WindowList, which?: Int32Array): { table: Int32Array; operations: number } {
  const n = which ? which.length : list.length;
  const at = (i: number): number => (which ? which[i] : i);
  // Each window's kind (an id), the kinds of each slab in order of first appearance, their sizes.
  const kindOf = new Int32Array(n);
  const ids: Map<string, number>[] = [];
  const bySlab: number[][] = [];
  const counts: number[] = [], example: number[] = [];
  for (let i = 0, previous = -1, id = -1; i < n; i++) {
    const k = at(i);
    if (previous < 0 || !list.sameKind(k, previous)) {
      const slab = list.slab[k];
      const byKey = (ids[slab] ??= new Map());
      const key = `${list.flags[k]} ${list.rows[k]} ${list.rowStride[k]} ${list.len[k]} ${list.first[k]}`;
      const known = byKey.get(key);
      if (known === undefined) {
        id = counts.length;
        byKey.set(key, id);
        (bySlab[slab] ??= []).push(id);
        counts.push(0);
        example.push(k);
      } else id = known;
    }
    kindOf[i] = id;
    counts[id]++;
    previous = k;
  }
  // Each kind's operation: its header, then its windows' pointer pairs.
  const cursor = new Array<number>(counts.length);
  let length = 0, operations = 0;
  for (const kinds of bySlab) {
    for (const id of kinds ?? []) {
      cursor[id] = length + HEADER_WORDS;
      length += HEADER_WORDS + 2 * counts[id];
      operations++;
    }
  }
  const table = new Int32Array(length);
  for (let id = 0; id < counts.length; id++) {
    const k = example[id], h = cursor[id] - HEADER_WORDS;
    table[h] = list.flags[k]; table[h + 1] = counts[id]; table[h + 2] = list.rows[k];
    table[h + 3] = list.rowStride[k]; table[h + 4] = list.len[k]; table[h + 5] = list.first[k];
  }
  for (let i = 0; i < n; i++) {
    const k = at(i), c = cursor[kindOf[i]];
    table[c] = list.src[k];
    table[c + 1] = list.dst[k];
    cursor[kindOf[i]] = c + 2;
  }
  return { table, operations };
}

/**
 * Which of `threads` shares each first-level window goes to (by its destination, so that all its
 * slabs go to the same thread): contiguous runs of windows of about equal work (elements summed),
 * in destination order. The windows come in that order (leaf after leaf, each level's sums written
 * row-major, a window's slabs one after another), so one pass assigns them: the windows of each share,
 * as indices into `list`.
 */
function sharesOf(list: WindowList, threads: number): Int32Array[] {
  const shares = new Uint8Array(list.length);
  const sizes = new Array<number>(threads).fill(0);
  const { dst, rows, len } = list;
  for (let k = 1; k < list.length; k++) {
    if (dst[k] < dst[k - 1]) throw new Error('norm plan: first-level windows out of destination order');
  }
  let total = 0;
  for (let k = 0; k < list.length; k++) total += rows[k] * len[k] + 1;
  // A destination's share from the work of the destinations before it.
  let done = 0, share = 0;
  for (let k = 0; k < list.length; k++) {
    if (k === 0 || dst[k] !== dst[k - 1]) share = Math.min(threads - 1, Math.floor((done * threads) / total));
    shares[k] = share;
    sizes[share]++;
    done += rows[k] * len[k] + 1;
  }
  const out = sizes.map((size) => new Int32Array(size));
  const filled = new Array<number>(threads).fill(0);
  for (let k = 0; k < list.length; k++) out[shares[k]][filled[shares[k]]++] = k;
  return out;
}

/**
 * The operations summing each leaf in XLA:CPU's order, the first level split into `threads` shares
 * (default 1), with their scratch, sums and tables laid out from byte `offset` (a multiple of 16) of
 * the engine's memory: per dtype, the level sums and leaf sums, then the tables.
 */
export function planNormTables(leaves: readonly PlanLeaf[], offset: number, threads = 1): NormPlan {
  if (offset % REGION_ALIGN !== 0) throw new RangeError(`the norm region must be ${REGION_ALIGN}-byte aligned, got ${offset}`);
  return relocate(planAtZero(leaves, threads), offset);
}

/** {@link planNormTables} at offset 0, built. */
function buildPlan(leaves: readonly PlanLeaf[], threads: number): NormPlan {
  const offset = 0;
  // An empty leaf has no windows (XLA's windows of a zero-length dimension are not defined): it sums to 0.
  const windows = leaves.map((l) => (l.shape.some((x) => x === 0) ? { levels: [], last: [0] } : xlaReduceWindows(l.shape)));
  // Scratch: every level's window sums, then one sum per leaf, per dtype.
  let cursor = offset;
  const levelPointers: number[][] = leaves.map(() => []);
  const sumPointers: number[] = new Array(leaves.length).fill(0);
  for (const dtype of ['float32', 'float64'] as const) {
    const size = bytesOf(dtype);
    leaves.forEach((l, i) => {
      if (l.dtype !== dtype) return;
      for (const level of windows[i].levels) {
        levelPointers[i].push(cursor);
        cursor += product(level.out) * size;
      }
      sumPointers[i] = cursor;
      cursor += size;
    });
    cursor = alignUp(cursor, REGION_ALIGN);
  }
  const plans = {} as Record<Dtype, PhasedPlan>;
  for (const dtype of ['float32', 'float64'] as const) {
    const size = bytesOf(dtype);
    // Level by level over all leaves (then the final sums): an operation only reads what earlier ones wrote.
    const levels: WindowList[] = [];
    const depth = Math.max(0, ...windows.map((w) => w.levels.length));
    for (let d = 0; d <= depth; d++) {
      const list = (levels[d] = new WindowList());
      leaves.forEach((l, i) => {
        const { levels: ls, last } = windows[i];
        if (l.dtype !== dtype || d > ls.length) return;
        const src = d === 0 ? l.pointer : levelPointers[i][d - 1];
        const flags = d === 0 ? FLAG_SQUARES : 0;
        if (d < ls.length) levelWindows(ls[d], src, levelPointers[i][d], flags, size, list);
        // The final reduce: the last level's sums (or the leaf) in order.
        else list.push(0, flags, 1, 0, product(last), 0, src, sumPointers[i]);
      });
    }
    const shares = threads > 1 ? sharesOf(levels[0], threads) : [undefined];
    // The rest level after level: windows of different levels never share an operation.
    const above = levels.slice(1).map((list) => tableOf(list));
    const restTable = new Int32Array(above.reduce((n, t) => n + t.table.length, 0));
    above.reduce((at, t) => { restTable.set(t.table, at); return at + t.table.length; }, 0);
    const rest = { table: restTable, operations: above.reduce((n, t) => n + t.operations, 0) };
    const parts = [...shares.map((which) => tableOf(levels[0], which)), rest];
    const placed = parts.map(({ table, operations }) => {
      const plan = { table, operations, tablePointer: cursor };
      cursor = alignUp(cursor + table.length * 4, REGION_ALIGN);
      return plan;
    });
    plans[dtype] = { shares: placed.slice(0, threads), rest: placed[threads] };
  }
  return { plans, sumPointers, bytes: cursor - offset };
}

/** Copies the tables into the memory at their pointers. */
export function writeNormTables(plan: NormPlan, buffer: ArrayBufferLike): void {
  for (const phased of Object.values(plan.plans)) {
    for (const p of [...phased.shares, phased.rest]) new Int32Array(buffer, p.tablePointer, p.table.length).set(p.table);
  }
}

/**
 * The windows of one level over `src` (its `dims`, row-major, elements of `size` bytes), their sums
 * written row-major from `dst`: each window's in-bounds rows along the last dimension (`rows` of them
 * along the one before it, `rowStride` apart). A window spanning more than two dimensions has one such
 * slab per in-bounds index of the dimensions before those two, in row-major order: slab `s` continues
 * the sum of slab `s - 1` (ACCUMULATE), so slabs go to operations run in slab order.
 */
function levelWindows(level: ReduceWindowLevel, src: number, dst: number, flags: number, size: number, list: WindowList): void {
  const { dims, window, padLow, laneRows } = level;
  const rank = dims.length, last = rank - 1;
  const strides = dims.map((_, k) => product(dims.slice(k + 1)));
  const index = new Array<number>(rank).fill(0);
  const lows = new Array<number>(rank).fill(0), highs = new Array<number>(rank).fill(0);
  for (let w = 0, total = product(level.out); w < total; w++) {
    for (let k = last, rest = w; k >= 0; k--) {
      index[k] = rest % level.out[k];
      rest = Math.floor(rest / level.out[k]);
      lows[k] = Math.max(0, index[k] * window[k] - padLow[k]);
      highs[k] = Math.min(dims[k], index[k] * window[k] - padLow[k] + window[k]);
    }
    const len = highs[last] - lows[last];
    // The window position of the row's first in-bounds element (past the low padding).
    const first = laneRows ? lows[last] - (index[last] * window[last] - padLow[last]) : 0;
    const lanes = laneRows ? FLAG_LANES : 0;
    const rows = rank >= 2 ? highs[last - 1] - lows[last - 1] : 1;
    const rowStride = rank >= 2 ? strides[last - 1] * size : 0;
    const corner = lows[last] + (rank >= 2 ? lows[last - 1] * strides[last - 1] : 0);
    const outer = rank - 2;
    let slabs = 1;
    for (let k = 0; k < outer; k++) slabs *= highs[k] - lows[k];
    for (let s = 0; s < slabs; s++) {
      let element = corner;
      for (let k = outer - 1, rest = s; k >= 0; k--) {
        const extent = highs[k] - lows[k];
        element += (lows[k] + (rest % extent)) * strides[k];
        rest = Math.floor(rest / extent);
      }
      list.push(s, flags | lanes | (s > 0 ? FLAG_ACCUMULATE : 0), rows, rowStride, len, first, src + element * size, dst + w * size);
    }
  }
}

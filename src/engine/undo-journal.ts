import type { Group } from './layout.js';
import type { KernelFunction } from './program.js';
import type { CallSpec } from './worker-source.js';

/**
 * The undo journal that lets a step complete when a worker thread stops part-way through its share
 * (it threw, or its thread exited): the main thread puts back the bytes of the block the worker was
 * writing and runs the rest of its share itself, bit-identical to an unfaulted step.
 *
 * With `workerJournal` (compile's option), a worker runs each elementwise call of its share in
 * *blocks* of {@link journalBlock} elements.
 * Before a block it copies the bytes of that block that the kernel writes in place (the params and
 * state streams; the gradients are only read) into its own undo region (`copyWithin` on the shared
 * buffer: a native memmove that allocates nothing), then publishes its progress: `2s + 1` in its
 * header's PROGRESS word ("block s saved, may be partly written"), and `2s + 2` once the block is
 * written. An elementwise kernel computes each element from that element alone, and the WebAssembly
 * kernels decide their fast paths vector by vector (a block is a whole number of vectors), so a
 * call split into blocks stores the same bits as one call.
 *
 * A call whose result depends on its whole range (the global norm's first level: window sums added
 * in XLA's order) is never split: it is one block with nothing saved. It writes no parameter or
 * state, only its own scratch, every window of it from a first operation that does not read it (a
 * window's operations are all in one thread's share, in order: norm-plan.ts), so running it again
 * whole gives the same bits.
 *
 * Only a worker known to have stopped writing can be recovered: one that threw (it caught the error
 * and is idle) or whose exit hook ran (its thread runs no more JavaScript). A hung worker cannot:
 * `terminate()` is asynchronous, and its thread may still write (thread-pool.ts).
 *
 * Layout of one worker's journal (the region after the arena: {@link journalRegionBytes}):
 * a 64-byte header of Int32 words ({@link JOURNAL_WORDS}), then its undo bytes.
 *
 * @internal
 */

/** Bytes of a worker's journal header (a cache line of its own). */
export const JOURNAL_HEADER_BYTES = 64;
/** Int32 words of the header. */
export const JOURNAL_WORDS = JOURNAL_HEADER_BYTES / 4;
/** Header word: the worker's progress through its current share (`2s`: blocks before s done; `2s + 1`: block s saved and being written). */
export const JOURNAL_PROGRESS = 0;
/** Header word: the TASK word of the share whose run threw (the worker then stopped and is idle). */
export const JOURNAL_THREW = 1;
/** Header word: 1 once the worker's exit hook ran (its thread runs no more JavaScript). */
export const JOURNAL_EXITED = 2;

/**
 * Elements per block (with `workerJournal`). Measured (bench/worker-journal.ts, adamax float32, 2
 * threads, wasm, a loaded 2-core machine): the cost fell as blocks grew from 4096 to 131072 elements
 * (one run at 1e7 parameters: 1.67x, 1.66x, 1.81x, 1.58x of an unjournaled step at 4096, 16384,
 * 65536, 131072; noisy, and at 131072 between 1.2x and 1.7x over three runs at 1e6 and 1e7): the
 * copy's cost is its memory traffic, which no block size removes, and blocks small enough to stay in
 * L2 did not help. Possibly cheaper: the kernels saving each vector's old values themselves (they
 * hold them in registers already) into a fixed slot, with the progress per vector.
 */
export const DEFAULT_JOURNAL_BLOCK = 131_072;

let block = DEFAULT_JOURNAL_BLOCK;

/** The block size steppers compiled from now on use (see {@link DEFAULT_JOURNAL_BLOCK}). */
export function journalBlock(): number {
  return block;
}

/**
 * Sets the block size of steppers compiled afterwards with `workerJournal` (a positive multiple of 64
 * elements: whole vectors and cache lines); for tests and measurements.
 */
export function setJournalBlock(elements: number): void {
  if (!Number.isInteger(elements) || elements <= 0 || elements % 64 !== 0) throw new RangeError(`journal block must be a positive multiple of 64 elements, got ${elements}`);
  block = elements;
}

/** Undo bytes per element of a block: the most any group's in-place streams (all but the gradients) hold. */
function undoBytesPerElement(groups: readonly Group[]): number {
  let most = 0;
  for (const g of groups) {
    let bytes = 0;
    for (const [stream, dtype] of g.streamDtypes) if (stream !== 'grads') bytes += dtype === 'float32' ? 4 : 8;
    most = Math.max(most, bytes);
  }
  return most;
}

/**
 * Bytes of one worker's undo region (64-byte multiple) for blocks of `elements` (0: none), the work
 * split `threads` ways: no block is longer than a thread's share of a group (dispatch.ts gives each
 * thread at most `length / threads` elements rounded up to a 64-byte line: 16 elements at most).
 */
export function undoBytes(groups: readonly Group[], elements: number, threads: number): number {
  const share = Math.ceil(Math.max(0, ...groups.map((g) => g.length)) / threads / 16) * 16;
  return Math.ceil(Math.min(elements, share) * undoBytesPerElement(groups) / 64) * 64;
}

/** Bytes of the journals of the workers of `threads` threads, blocks of `elements`. */
export function journalRegionBytes(groups: readonly Group[], threads: number, elements: number): number {
  return (threads - 1) * (JOURNAL_HEADER_BYTES + undoBytes(groups, elements, threads));
}

/**
 * Where the workers' journals are. Without `workerJournal` there are headers only (block 0): each
 * call runs whole, nothing is saved, and only a worker that stopped between calls (or inside a call
 * that writes no parameter or state) can be finished.
 */
export interface JournalPlace {
  /** Byte offset of worker 0's header (its undo bytes follow, then worker 1's header...). */
  readonly offset: number;
  /** Elements per block (0: calls run whole, nothing saved). */
  readonly block: number;
}

/** One block of a share, serializable: a kernel call, and the bytes to save before it. */
export interface BlockSpec extends CallSpec {
  /** Pairs `pointer, byteLength` of what the call overwrites, saved before it (empty: nothing to restore). */
  readonly saves: readonly number[];
  /** True when the call overwrites its inputs and nothing was saved: a fault inside it cannot be undone. */
  readonly unsafe: boolean;
}

/**
 * The streams of a call: the bytes per element of each of its `pointers`, and which of them it
 * overwrites; undefined for a call never split (it writes no parameter or state: see above).
 */
export type CallStreams = { readonly bytes: readonly number[]; readonly written: readonly number[] } | undefined;

/** A share's calls as blocks of `elements` (0: each call whole, nothing saved). */
export function shareBlocks(calls: readonly CallSpec[], streams: readonly CallStreams[], elements: number): BlockSpec[] {
  const blocks: BlockSpec[] = [];
  calls.forEach((call, c) => {
    const s = streams[c];
    if (!s || elements === 0) {
      blocks.push({ ...call, saves: [], unsafe: s !== undefined && s.written.length > 0 });
      return;
    }
    for (let lo = 0; lo < call.n; lo += elements) {
      const n = Math.min(elements, call.n - lo);
      blocks.push({
        kernel: call.kernel,
        n,
        pointers: call.pointers.map((p, k) => p + lo * s.bytes[k]),
        saves: s.written.flatMap((k) => [call.pointers[k] + lo * s.bytes[k], n * s.bytes[k]]),
        unsafe: false,
      });
    }
  });
  return blocks;
}

/**
 * A worker's share of one pass as the blocks it runs, for the calling thread to run when the worker
 * did not: all of it (a share the main thread took before the worker claimed it), or the rest of it
 * from the worker's progress, after putting back the bytes of the block it was writing.
 */
export class ShareRecovery {
  private readonly blocks: { readonly fn: KernelFunction; readonly args: readonly number[]; readonly saves: readonly number[]; readonly unsafe: boolean }[];

  /** `undo`: byte offset of the worker's undo bytes in `bytes` (the engine's whole memory). */
  constructor(specs: readonly BlockSpec[], kernels: readonly KernelFunction[], private readonly bytes: Uint8Array, private readonly undo: number) {
    this.blocks = specs.map((b) => ({ fn: kernels[b.kernel], args: [b.n, ...b.pointers], saves: b.saves, unsafe: b.unsafe }));
  }

  /**
   * Runs the share from `progress` (a journal's PROGRESS word: 0 for all of it) to its end. Throws,
   * having written nothing, when the block in flight cannot be undone (journaling off).
   */
  resume(progress: number): void {
    let s = progress >>> 1;
    if (progress & 1) {
      const { saves, unsafe } = this.blocks[s];
      if (unsafe) throw new Error('the worker stopped inside a call that has no undo journal');
      for (let j = 0, at = this.undo; j < saves.length; at += saves[j + 1], j += 2) this.bytes.copyWithin(saves[j], at, at + saves[j + 1]);
    }
    for (; s < this.blocks.length; s++) this.blocks[s].fn.apply(undefined, this.blocks[s].args as number[]);
  }
}

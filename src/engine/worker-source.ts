import { fmaFloat64, fmaFunctionsSource } from '../core/fused-multiply-add.js';
import { COPY_EXPORT } from './wasm/copy-module.js';
import { FMA64_IMPORT } from './wasm/fma.js';
import { type BlockSpec, JOURNAL_EXITED, JOURNAL_HEADER_BYTES, JOURNAL_PROGRESS, JOURNAL_THREW, JOURNAL_WORDS } from './undo-journal.js';

/**
 * The script each worker thread runs (plain JavaScript, so that it needs no loader or bundler), and
 * the layout of the control block it shares with the main thread.
 *
 * Protocol, over Int32 words of the shared memory (all accesses atomic):
 * - the worker builds its kernels (the same WebAssembly modules or JS sources as the main thread, on
 *   the same memory), then increments READY (or FAILED);
 * - the main thread writes the step's scalars into the scalar block, zeroes DONE, stores a new TASK
 *   word (`generation << 8 | pass`) and notifies; each worker runs its share of that pass (its calls:
 *   kernel, element count, stream pointers; fixed at compile time; the kernels read the scalars from
 *   the scalar block), increments DONE
 *   and notifies; the main thread runs its own share, then waits for DONE to reach the worker count;
 * - TASK = -1 makes the workers return.
 * - before touching memory a worker claims its share: FINISHED goes from the last task it completed
 *   to `-task` (compare-and-exchange). A main thread that gave up waiting takes the share of a worker
 *   that never claimed it the same way (FINISHED becomes SHARE_TAKEN): that worker then never starts
 *   it (it wrote nothing), and the main thread runs it itself (thread-pool.ts);
 * - a worker runs its share block by block, saving what each block overwrites in its undo journal
 *   first and publishing its progress in its journal's header (undo-journal.ts);
 * - Faults: a worker whose share throws sets ERROR and its journal's THREW (and does not mark the
 *   task FINISHED); a worker that exits (e.g. `process.exit` in it) sets its journal's EXITED and
 *   increments LOST from its exit handler, where the platform offers one; the main thread notices
 *   either within one wait slice (and can then finish that worker's share from its journal), and a
 *   worker that hangs by the pool's stall timeout (thread-pool.ts).
 *
 * @internal
 */

/** Int32 words of the control block (layout.ts reserves CONTROL_BYTES = 4 * CONTROL_WORDS). */
export const CONTROL_WORDS = 128;
/** Word indices in the control block. */
export const CTL_TASK = 0;
export const CTL_DONE = 1;
export const CTL_READY = 2;
export const CTL_FAILED = 3;
export const CTL_ERROR = 4;
/** Workers that exited (their exit handler ran): a pass waiting for them fails at once. */
export const CTL_LOST = 5;
/**
 * `CTL_FINISHED + w`: the last TASK word worker w completed without error; `-task` while it runs that
 * task's share (claimed); {@link SHARE_TAKEN} once the main thread took a share it had not claimed.
 */
export const CTL_FINISHED = 8;
/** The FINISHED word of a worker whose share the main thread took (never a task word or its negation). */
export const SHARE_TAKEN = -1;
/** The TASK value that stops the workers. */
export const TASK_STOP = -1;
/** Atomic loads a thread spins for (some tens of microseconds) before it sleeps in `Atomics.wait`. */
export const SPIN_LOADS = 20_000;

/** One kernel call of a worker's share, serializable. */
export interface CallSpec {
  /** Index into the kernels. */
  readonly kernel: number;
  /** Elements to process. */
  readonly n: number;
  /** Byte pointers of the streams, already offset to the share's first element. */
  readonly pointers: readonly number[];
}

/** How a worker gets its kernels: JS factory sources, or compiled WebAssembly modules. */
export type KernelSource =
  | { readonly kind: 'js'; readonly sources: readonly string[] }
  | { readonly kind: 'wasm'; readonly modules: readonly WebAssembly.Module[]; readonly importModule: string; readonly importName: string; readonly exportName: string };

/** What a worker receives. */
export interface WorkerInit {
  /** A WebAssembly.Memory, or a SharedArrayBuffer when WebAssembly is unavailable. */
  readonly memory: WebAssembly.Memory | SharedArrayBuffer;
  readonly controlOffset: number;
  /** This worker's index (0-based; the main thread is not counted). */
  readonly worker: number;
  readonly kernels: KernelSource;
  /** The worker's share of each pass, as journaled blocks (undo-journal.ts). */
  readonly passes: readonly (readonly BlockSpec[])[];
  /** Byte offset of the worker's journal header (its undo bytes follow), or -1: none. */
  readonly journal: number;
  /** A module exporting `copy(dst, src, n)` on the memory (wasm/copy-module.ts), to save the journal with; else `copyWithin`. */
  readonly copy?: WebAssembly.Module;
}

/**
 * The source of `function main(init, report, atExit)`, run by every worker; `atExit(f)`, when the
 * platform passes it, registers `f` to run when the worker's thread exits.
 */
export const WORKER_BODY = `
function main(init, report, atExit) {
  ${fmaFunctionsSource().join('\n  ')}
  var TASK = ${CTL_TASK}, DONE = ${CTL_DONE}, READY = ${CTL_READY}, FAILED = ${CTL_FAILED}, ERROR = ${CTL_ERROR}, LOST = ${CTL_LOST}, FINISHED = ${CTL_FINISHED} + init.worker, STOP = ${TASK_STOP}, TAKEN = ${SHARE_TAKEN}, SPIN = ${SPIN_LOADS};
  var PROGRESS = ${JOURNAL_PROGRESS}, THREW = ${JOURNAL_THREW}, EXITED = ${JOURNAL_EXITED};
  var ctl, passes, journal = null, undo = 0, bytes;
  try {
    var memory = init.memory;
    var buffer = memory instanceof SharedArrayBuffer ? memory : memory.buffer;
    ctl = new Int32Array(buffer, init.controlOffset, ${CONTROL_WORDS});
    if (init.journal >= 0) {
      journal = new Int32Array(buffer, init.journal, ${JOURNAL_WORDS});
      undo = init.journal + ${JOURNAL_HEADER_BYTES};
    }
    bytes = new Uint8Array(buffer);
    var copy = init.copy ? new WebAssembly.Instance(init.copy, { env: { memory: memory } }).exports.${COPY_EXPORT} : function (dst, src, n) { bytes.copyWithin(dst, src, src + n); };
    if (typeof atExit === 'function') {
      atExit(function () {
        // This thread runs no more JavaScript: its share can be finished from its journal.
        if (journal) Atomics.store(journal, EXITED, 1);
        Atomics.add(ctl, LOST, 1);
        Atomics.notify(ctl, DONE);
        Atomics.notify(ctl, READY);
      });
    }
    var k = init.kernels, fns;
    if (k.kind === 'js') {
      fns = k.sources.map(function (s) { return (new Function('return ' + s))()(buffer); });
    } else {
      fns = k.modules.map(function (m) {
        var imports = {};
        imports[k.importModule] = {};
        imports[k.importModule][k.importName] = memory;
        // Float64 fmas call the reference for rare inputs (wasm/fma.ts): the same functions, embedded.
        imports[k.importModule]['${FMA64_IMPORT.name}'] = function (a, b, c) { return ${fmaFloat64.name}(a, b, c, FMA_VIEW); };
        return new WebAssembly.Instance(m, imports).exports[k.exportName];
      });
    }
    passes = init.passes.map(function (blocks) {
      return blocks.map(function (c) {
        return { fn: fns[c.kernel], args: [c.n].concat(c.pointers), saves: c.saves };
      });
    });
  } catch (e) {
    if (ctl) {
      Atomics.add(ctl, FAILED, 1);
      Atomics.notify(ctl, READY);
    }
    report('worker failed to start: ' + (e && e.stack || e));
    return;
  }
  var seen = Atomics.load(ctl, TASK);
  Atomics.add(ctl, READY, 1);
  Atomics.notify(ctl, READY);
  for (;;) {
    // Spin a little before sleeping: a step that follows soon (a training loop) then starts without
    // the tens of microseconds a futex wake-up costs; an idle worker still sleeps.
    var task = Atomics.load(ctl, TASK);
    for (var spin = 0; task === seen && spin < SPIN; spin++) task = Atomics.load(ctl, TASK);
    if (task === seen) {
      Atomics.wait(ctl, TASK, seen);
      continue;
    }
    seen = task;
    if (task === STOP) return;
    // Progress 0 before the claim: a claimed share's progress is always this task's.
    if (journal) Atomics.store(journal, PROGRESS, 0);
    // Claim the share before touching memory; the main thread took it (it stopped waiting): stop.
    var last = Atomics.load(ctl, FINISHED);
    if (last === TAKEN || Atomics.compareExchange(ctl, FINISHED, last, -task) !== last) return;
    try {
      var blocks = passes[task & 255];
      for (var i = 0; i < blocks.length; i++) {
        // Save what the block overwrites (a memmove, nothing allocated), then say so, then write.
        var b = blocks[i], saves = b.saves, at = undo;
        for (var j = 0; j < saves.length; j += 2) {
          copy(at, saves[j], saves[j + 1]);
          at += saves[j + 1];
        }
        if (journal) Atomics.store(journal, PROGRESS, 2 * i + 1);
        b.fn.apply(null, b.args);
        if (journal) Atomics.store(journal, PROGRESS, 2 * i + 2);
      }
      Atomics.store(ctl, FINISHED, task);
    } catch (e) {
      if (journal) Atomics.store(journal, THREW, task);
      Atomics.store(ctl, ERROR, 1);
      report('worker failed: ' + (e && e.stack || e));
    }
    Atomics.add(ctl, DONE, 1);
    Atomics.notify(ctl, DONE);
  }
}
`;

import type { EngineMemory } from './memory.js';
import type { ThreadHandle, ThreadPlatform } from './thread-platform.js';
import { JOURNAL_EXITED, JOURNAL_THREW } from './undo-journal.js';
import { CONTROL_WORDS, CTL_DONE, CTL_ERROR, CTL_FAILED, CTL_FINISHED, CTL_LOST, CTL_READY, CTL_TASK, SHARE_TAKEN, SPIN_LOADS, TASK_STOP, WORKER_BODY, type WorkerInit } from './worker-source.js';

/** How long compile() waits (Node) for the workers to start. */
const START_MS = 15_000;
/** Default of {@link ThreadPool}'s stall timeout: how long a pass may make no progress. */
export const DEFAULT_WORKER_TIMEOUT_MS = 10_000;

/**
 * A pass that did not complete on every thread: a worker threw, exited, or made no progress within
 * the timeout (or the main thread's own share threw). `unfinished` lists the threads whose share may
 * be partly written and cannot be finished (0: the main thread; w + 1: worker w); `taken`, the
 * workers (w) that had not started their share when the main thread stopped waiting: it took those
 * shares, untouched, for itself to run; `stopped`, the workers (w) that started their share and are
 * known to have stopped writing (one threw: it is idle; one exited: its exit hook ran, so its thread
 * runs no more JavaScript): their journals tell how far they got (undo-journal.ts). A worker that
 * hangs is never `stopped`: `terminate()` is asynchronous, and its thread may still write. The pool
 * is stopped: every worker is terminated, so that a hung one cannot write into the memory later.
 * @internal
 */
export class WorkerFault extends Error {
  constructor(message: string, readonly unfinished: readonly number[], readonly taken: readonly number[] = [], readonly stopped: readonly number[] = []) {
    super(message);
    this.name = 'WorkerFault';
  }

  /** True when the calling thread can complete the pass: every share not finished was taken or stopped. */
  get recoverable(): boolean {
    return this.unfinished.length === 0 && this.taken.length + this.stopped.length > 0;
  }
}

/**
 * Worker threads sharing the engine's memory, driven through Atomics on the control block (see
 * worker-source.ts). The main thread always takes a share of each pass. In Node the main thread
 * sleeps in `Atomics.wait` until the workers are done; a browser page's main thread may not block,
 * so it spins (the wait is short: everyone's share is the same size).
 *
 * Faults are detected without the event loop (the main thread is blocked during a pass, so a
 * worker's `exit` event could not be delivered): a worker that throws records it in the control
 * block and its journal; one that exits (e.g. `process.exit` in it) increments LOST from its exit
 * handler (and marks its journal); one that hangs (or dies without running any code) is caught by
 * the stall timeout. When a worker exited, the pass still waits for the others (they may be
 * writing). After a fault the pool is stopped for good.
 */
export class ThreadPool {
  private readonly ctl: Int32Array;
  private readonly handles: ThreadHandle[] = [];
  private readonly count: number;
  private generation = 0;
  private started = false;
  private broken = false;
  /** The last message a worker reported (for error messages). */
  private lastReport = '';

  /**
   * `inits[w]` is worker w's init (its share of every pass); `journals[w]`, the header of its undo
   * journal (undo-journal.ts), when it has one.
   */
  constructor(private readonly platform: ThreadPlatform, memory: EngineMemory, controlOffset: number, inits: readonly WorkerInit[], private readonly timeoutMs = DEFAULT_WORKER_TIMEOUT_MS, private readonly journals: readonly Int32Array[] = []) {
    this.ctl = new Int32Array(memory.buffer, controlOffset, CONTROL_WORDS);
    this.count = inits.length;
    try {
      for (const init of inits) this.handles.push(platform.spawn(WORKER_BODY, init, (m) => { this.lastReport = m; }));
    } catch (e) {
      // E.g. a Content-Security-Policy that forbids blob: workers: stop the ones already started.
      this.dispose();
      throw e;
    }
  }

  /** Number of worker threads (the main thread excluded). */
  get workers(): number {
    return this.count;
  }

  /**
   * True once every worker has started. Where the main thread may block, waits for them (up to a
   * timeout); a page's main thread cannot (its workers only start once it yields), so it just looks.
   * False for good once a worker failed to start, or the pool was stopped.
   */
  ready(): boolean {
    if (this.broken) return false;
    if (this.started) {
      // A worker that exited (or failed) since the last pass would stall this one: stop the pool
      // before a pass is published, and the caller runs it alone.
      if (Atomics.load(this.ctl, CTL_LOST) === 0 && Atomics.load(this.ctl, CTL_FAILED) === 0) return true;
      this.dispose();
      return false;
    }
    const deadline = Date.now() + START_MS;
    for (;;) {
      const ready = Atomics.load(this.ctl, CTL_READY);
      if (Atomics.load(this.ctl, CTL_FAILED) > 0 || Atomics.load(this.ctl, CTL_LOST) > 0) { this.dispose(); return false; }
      if (ready === this.workers) { this.started = true; return true; }
      if (!this.platform.mainCanBlock) return false;
      if (Date.now() > deadline) { this.dispose(); return false; }
      Atomics.wait(this.ctl, CTL_READY, ready, 50);
    }
  }

  /** True when the pool can no longer be used (a worker failed to start, a pass failed, or it was disposed). */
  get failed(): boolean {
    return this.broken;
  }

  /**
   * Runs pass `pass`: the workers' shares, and `mainShare` on this thread; returns when all are done.
   * Throws a {@link WorkerFault} (and stops the pool) when a worker threw, exited or stalled; it says
   * which shares the calling thread can still run (see the fault).
   */
  run(pass: number, mainShare: () => void): void {
    if (this.broken) throw new WorkerFault('the worker threads were stopped', []);
    const ctl = this.ctl;
    Atomics.store(ctl, CTL_DONE, 0);
    this.generation = (this.generation % 0x7fffff) + 1;
    const task = (this.generation << 8) | pass;
    Atomics.store(ctl, CTL_TASK, task);
    Atomics.notify(ctl, CTL_TASK);
    try {
      mainShare();
    } catch (e) {
      // The main thread's own share failed (a kernel trap): its range is partly written too.
      this.waitForWorkers(task);
      throw this.fault(`the main thread's share failed: ${(e as Error)?.message ?? String(e)}`, task, true);
    }
    const stalled = this.waitForWorkers(task);
    if (stalled) throw this.fault(stalled, task);
    // A worker that exited after it finished its share fails nothing (ready() stops the pool before the next pass).
    if (this.finished(task)) return;
    if (Atomics.load(ctl, CTL_LOST) > 0) throw this.fault(`a worker thread exited${this.lastReport ? ` (${this.lastReport})` : ''}`, task);
    throw this.fault(`a worker thread failed${this.lastReport ? `: ${this.lastReport}` : ''}`, task);
  }

  /** Whether every worker finished its share of `task` without error. */
  private finished(task: number): boolean {
    for (let w = 0; w < this.workers; w++) if (Atomics.load(this.ctl, CTL_FINISHED + w) !== task) return false;
    return true;
  }

  /** Whether worker w is known to have stopped writing in `task`: it threw, or its exit hook ran. */
  private stoppedIn(w: number, task: number): boolean {
    const journal = this.journals[w];
    return journal !== undefined && (Atomics.load(journal, JOURNAL_THREW) === task || Atomics.load(journal, JOURNAL_EXITED) !== 0);
  }

  /**
   * Once a worker exited: whether no other worker may still be writing (each one finished `task` or
   * is known to have stopped). Without journals a worker's exit cannot be told apart: stop waiting.
   */
  private settled(task: number): boolean {
    if (this.journals.length === 0) return true;
    for (let w = 0; w < this.workers; w++) if (Atomics.load(this.ctl, CTL_FINISHED + w) !== task && !this.stoppedIn(w, task)) return false;
    return true;
  }

  /**
   * Waits until every worker is done with the pass (or, once one exited, until none may still be
   * writing); returns why it stopped waiting early, if it did (a stall).
   */
  private waitForWorkers(task: number): string | undefined {
    const ctl = this.ctl, workers = this.workers;
    for (let spin = 0; spin < SPIN_LOADS && Atomics.load(ctl, CTL_DONE) < workers; spin++);
    let last = -1;
    // Time without progress. Where the main thread blocks, it is the sum of the waits that timed out:
    // no clock is read (reading one allocates, and a step allocates nothing), and a machine suspended
    // mid-step adds one wait at most, so it does not count as a stalled worker. Where it spins (a
    // page), a monotonic clock that stops while the machine sleeps, read every 100 000 spins.
    let stalledMs = 0;
    let since = -1;
    let spins = 0;
    for (;;) {
      const done = Atomics.load(ctl, CTL_DONE);
      if (done >= workers) return undefined;
      if (Atomics.load(ctl, CTL_LOST) > 0 && this.settled(task)) return undefined;
      if (done !== last) { last = done; stalledMs = 0; since = -1; }
      let stalled: boolean;
      if (this.platform.mainCanBlock) {
        const waitMs = Math.min(100, this.timeoutMs);
        if (Atomics.wait(ctl, CTL_DONE, done, waitMs) === 'timed-out') stalledMs += waitMs;
        stalled = stalledMs >= this.timeoutMs;
      } else {
        if (++spins % 100_000 !== 0) continue;
        const now = performance.now();
        if (since < 0) since = now;
        stalled = now - since > this.timeoutMs;
      }
      if (stalled && Atomics.load(ctl, CTL_DONE) === done) {
        return `a worker thread made no progress for ${this.timeoutMs} ms (workerTimeout)${this.lastReport ? ` (${this.lastReport})` : ''}`;
      }
    }
  }

  /**
   * Stops the pool after a failed pass; the fault sorts the workers that did not finish it (see
   * {@link WorkerFault}; 0 is the main thread, worker w is thread w + 1).
   */
  private fault(message: string, task: number, mainFailed = false): WorkerFault {
    const unfinished: number[] = mainFailed ? [0] : [];
    const taken: number[] = [];
    const stopped: number[] = [];
    for (let w = 0; w < this.workers; w++) {
      const at = CTL_FINISHED + w, seen = Atomics.load(this.ctl, at);
      if (seen === task) continue;
      if (seen === -task) {
        // Claimed: finishable only by a worker that stopped writing (never a hung one).
        if (this.stoppedIn(w, task)) stopped.push(w);
        else unfinished.push(w + 1);
      } else if (Atomics.compareExchange(this.ctl, at, seen, SHARE_TAKEN) === seen) {
        // Not claimed (worker-source.ts): take the share, so that the worker never starts it.
        taken.push(w);
      } else unfinished.push(w + 1);
    }
    this.dispose();
    return new WorkerFault(message, unfinished, taken, stopped);
  }

  /** Stops and terminates the workers. */
  dispose(): void {
    this.broken = true;
    Atomics.store(this.ctl, CTL_TASK, TASK_STOP);
    Atomics.notify(this.ctl, CTL_TASK);
    for (const h of this.handles) h.terminate();
    this.handles.length = 0;
  }
}

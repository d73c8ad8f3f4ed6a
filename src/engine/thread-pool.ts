import { OptaxError } from '../core/errors.js';
import type { EngineMemory } from './memory.js';
import type { ThreadHandle, ThreadPlatform } from './thread-platform.js';
import { CTL_DONE, CTL_ERROR, CTL_FAILED, CTL_READY, CTL_TASK, SPIN_LOADS, TASK_STOP, WORKER_BODY, type WorkerInit } from './worker-source.js';

/** How long a pass may make no progress before the engine gives up on its workers. */
const STALL_MS = 30_000;
/** How long compile() waits (Node) for the workers to start. */
const START_MS = 15_000;

/**
 * Worker threads sharing the engine's memory, driven through Atomics on the control block (see
 * worker-source.ts). The main thread always takes a share of each pass. In Node the main thread
 * sleeps in `Atomics.wait` until the workers are done; a browser page's main thread may not block,
 * so it spins (the wait is short: everyone's share is the same size).
 */
export class ThreadPool {
  private readonly ctl: Int32Array;
  private readonly handles: ThreadHandle[] = [];
  private generation = 0;
  private started = false;
  private broken = false;
  /** The last message a worker reported (for error messages). */
  private lastReport = '';

  /** `inits[w]` is worker w's init (its share of every pass). */
  constructor(private readonly platform: ThreadPlatform, memory: EngineMemory, controlOffset: number, inits: readonly WorkerInit[]) {
    this.ctl = new Int32Array(memory.buffer, controlOffset, 64);
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
    return this.handles.length;
  }

  /**
   * True once every worker has started. Where the main thread may block, waits for them (up to a
   * timeout); a page's main thread cannot (its workers only start once it yields), so it just looks.
   * False for good once a worker failed to start.
   */
  ready(): boolean {
    if (this.started) return true;
    if (this.broken) return false;
    const deadline = Date.now() + START_MS;
    for (;;) {
      const ready = Atomics.load(this.ctl, CTL_READY);
      if (Atomics.load(this.ctl, CTL_FAILED) > 0) { this.broken = true; return false; }
      if (ready === this.workers) { this.started = true; return true; }
      if (!this.platform.mainCanBlock) return false;
      if (Date.now() > deadline) { this.broken = true; return false; }
      Atomics.wait(this.ctl, CTL_READY, ready, 50);
    }
  }

  /** True when the pool can no longer be used (a worker failed to start): the caller runs alone. */
  get failed(): boolean {
    return this.broken;
  }

  /** Runs pass `pass`: the workers' shares, and `mainShare` on this thread; returns when all are done. */
  run(pass: number, mainShare: () => void): void {
    const ctl = this.ctl;
    Atomics.store(ctl, CTL_DONE, 0);
    this.generation = (this.generation % 0x7fffff) + 1;
    Atomics.store(ctl, CTL_TASK, (this.generation << 8) | pass);
    Atomics.notify(ctl, CTL_TASK);
    mainShare();
    const workers = this.workers;
    let last = -1;
    let since = Date.now();
    let spins = 0;
    for (let spin = 0; spin < SPIN_LOADS && Atomics.load(ctl, CTL_DONE) < workers; spin++);
    for (;;) {
      const done = Atomics.load(ctl, CTL_DONE);
      if (done >= workers) break;
      if (done !== last) { last = done; since = Date.now(); }
      if (this.platform.mainCanBlock) {
        Atomics.wait(ctl, CTL_DONE, done, 100);
      } else if (++spins % 1_000_000 !== 0) {
        continue;
      }
      if (Date.now() - since > STALL_MS) {
        this.broken = true;
        throw new OptaxError(`compile: a worker thread stopped responding${this.lastReport ? ` (${this.lastReport})` : ''}`);
      }
    }
    if (Atomics.load(ctl, CTL_ERROR) !== 0) {
      this.broken = true;
      throw new OptaxError(`compile: a worker thread failed${this.lastReport ? `: ${this.lastReport}` : ''}`);
    }
  }

  /** Stops and terminates the workers. */
  dispose(): void {
    Atomics.store(this.ctl, CTL_TASK, TASK_STOP);
    Atomics.notify(this.ctl, CTL_TASK);
    for (const h of this.handles) h.terminate();
    this.handles.length = 0;
    this.broken = true;
  }
}

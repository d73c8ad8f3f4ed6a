import { type FloatArray, allocate } from '../core/dtype.js';
import { type Expr, type Kernel, ex } from '../kernel/expr.js';
import { type KernelInputs, type KernelOutputs, type KernelPlan, planKernel, runPlan, withSubnormalMode } from '../kernel/interpret.js';
import type { SubnormalMode } from './subnormals.js';
import { CallList, shareRanges, splitCalls } from './dispatch.js';
import type { Group, Layout } from './layout.js';
import { type EngineMemory, viewAt } from './memory.js';
import { type FusedProgram, type KernelFunction, bytesPerElement, streamDtype } from './program.js';
import { ThreadPool, WorkerFault } from './thread-pool.js';
import type { ThreadPlatform } from './thread-platform.js';
import { type CallStreams, JOURNAL_HEADER_BYTES, JOURNAL_PROGRESS, JOURNAL_WORDS, type JournalPlace, ShareRecovery, shareBlocks, undoBytes } from './undo-journal.js';
import { emitCopyModule } from './wasm/copy-module.js';
import type { CallSpec, KernelSource, WorkerInit } from './worker-source.js';

/** The code paths that run the fused programs. */
export type KernelBackend = 'wasm' | 'js' | 'interpreter';

/**
 * A pass that failed part-way and could not be completed (a worker thread hung, a kernel trapped on
 * the calling thread, or a worker stopped where its journal cannot undo): the parameter leaves
 * (indices) whose params and state may be partly written. The executor is stopped.
 */
export class StepFault extends Error {
  constructor(message: string, readonly leaves: readonly number[]) {
    super(message);
    this.name = 'StepFault';
  }
}

/** Runs the fused pass of a step, with the scalars currently in the scalar block. */
export interface Executor {
  readonly backend: KernelBackend;
  /** Threads the pass runs on (the main thread included). */
  readonly threads: number;
  /** Runs pass `pass` (0 unless the stepper has several: MultiSteps' emitting and accumulating passes); a {@link StepFault} when it did not complete (the executor is then unusable). */
  run(pass?: number): void;
  dispose(): void;
}

/** Everything an executor needs about the compiled programs. */
export interface ExecutorInput {
  readonly memory: EngineMemory;
  readonly layout: Layout;
  readonly groups: readonly Group[];
  /** Each pass: one program per group. */
  readonly passes: readonly (readonly FusedProgram[])[];
  /** The scalar slots of each pass's program of each group. */
  readonly slots: readonly (readonly number[][])[];
  /** The scalar block. */
  readonly scalars: Float64Array;
}

/** An extra pass of a {@link KernelExecutor}: each thread's calls, of kernels numbered from 0 in `kernels` / `modules`. */
export interface ExtraPass {
  readonly shares: readonly (readonly CallSpec[])[];
  readonly kernels: readonly KernelFunction[];
  readonly modules: readonly WebAssembly.Module[];
}

/**
 * Runs generated kernels (JS loops or WebAssembly), on the main thread alone or split across worker
 * threads that run the same kernels on the same shared memory.
 */
export class KernelExecutor implements Executor {
  private readonly single: CallList[];
  private readonly main: CallList[] = [];
  private readonly pool: ThreadPool | undefined;
  /** `workerShares[pass][w]`: worker w's share of each pass, for the main thread to run (or finish) when the worker did not. */
  private readonly workerShares: ShareRecovery[][] = [];
  /** The header of each worker's undo journal (undo-journal.ts). */
  private readonly journals: Int32Array[] = [];
  private readonly input: ExecutorInput;
  private faulted = false;

  /** The index of the extra pass (see the constructor), or -1. */
  readonly extraPass: number = -1;

  /**
   * `kernels`: every pass's kernels, pass after pass (kernel `pass * groups + g`); `workerTimeout`: ms
   * a pass may make no progress before its workers are declared hung. `extra`: one more pass, after
   * the programs' (index {@link KernelExecutor.extraPass}), of calls of its own kernels (WebAssembly
   * only) split `threads` ways, which writes no parameter or state (the first level of a global norm);
   * `threads` must then be that many. `journal`: where the workers' undo journals go (worker w's at
   * `offset + w * journalBytes(...)`, undo-journal.ts), so that a worker that stops part-way through
   * its share does not fail the pass.
   */
  constructor(readonly backend: 'wasm' | 'js', input: ExecutorInput, kernels: readonly KernelFunction[], source: KernelSource, threads: number, platform: ThreadPlatform | undefined, workerTimeout?: number, extra?: ExtraPass, journal?: JournalPlace) {
    this.input = input;
    const groups = input.groups;
    if (extra && (source.kind !== 'wasm' || extra.shares.length !== threads)) throw new Error('an extra pass needs WebAssembly kernels and one share per thread');
    // The extra pass's kernels follow the programs'.
    const base = kernels.length;
    const extraShares = extra?.shares.map((calls) => calls.map((c) => ({ ...c, kernel: base + c.kernel })));
    if (extra) {
      kernels = [...kernels, ...extra.kernels];
      source = { ...source, modules: [...(source as { modules: readonly WebAssembly.Module[] }).modules, ...extra.modules] } as KernelSource;
      this.extraPass = input.passes.length;
    }
    this.single = input.passes.map((programs, pass) => new CallList(splitCalls(groups, programs, 1, pass * groups.length)[0], kernels));
    if (extraShares) this.single.push(new CallList(extraShares.flat(), kernels));
    if (threads > 1 && platform && input.memory.shared) {
      // shares[pass][thread]
      const shares = input.passes.map((programs, pass) => splitCalls(groups, programs, threads, pass * groups.length));
      if (extraShares) shares.push(extraShares);
      this.main = shares.map((perThread) => new CallList(perThread[0], kernels));
      this.runMain = this.main.map((list) => () => list.run());
      // Each worker's share as journaled blocks: the programs' calls split, the extra pass's whole.
      const streams = (pass: number): ((call: CallSpec) => CallStreams) => (call) => (pass === this.extraPass ? undefined : callStreams(input.passes[pass][call.kernel - pass * groups.length]));
      const blocks = shares.map((perThread, pass) => perThread.slice(1).map((calls) => shareBlocks(calls, calls.map(streams(pass)), journal?.block ?? 0)));
      const stride = journal ? JOURNAL_HEADER_BYTES + undoBytes(groups, journal.block, threads) : 0;
      const bytes = new Uint8Array(input.memory.buffer);
      const copy = journal?.block ? copyModule(input.memory) : undefined;
      for (let w = 0; journal && w < threads - 1; w++) this.journals.push(new Int32Array(input.memory.buffer, journal.offset + w * stride, JOURNAL_WORDS));
      this.workerShares = blocks.map((perWorker) => perWorker.map((b, w) => new ShareRecovery(b, kernels, bytes, journal ? journal.offset + w * stride + JOURNAL_HEADER_BYTES : 0)));
      this.pool = startPool(platform, input.memory, Array.from({ length: threads - 1 }, (_, w) => ({
        memory: input.memory.wasm ?? (input.memory.buffer as SharedArrayBuffer),
        controlOffset: 0,
        worker: w,
        kernels: source,
        passes: blocks.map((perWorker) => perWorker[w]),
        journal: journal ? journal.offset + w * stride : -1,
        copy,
      })), workerTimeout, this.journals);
      // Where the main thread may block (Node), wait for the workers now: compile() then reports the
      // threads that really run, and the first step does not pay for their start.
      if (this.pool && platform.mainCanBlock && !this.pool.ready()) this.disposePool();
    }
  }

  get threads(): number {
    if (this.faulted) return 0;
    return this.pool && !this.pool.failed ? this.pool.workers + 1 : 1;
  }

  /** The main thread's share of each pass, bound once (a step allocates nothing). */
  private readonly runMain: (() => void)[] = [];

  run(pass = 0): void {
    if (this.faulted) throw new StepFault('this executor stopped after a failed pass', []);
    const pool = this.pool;
    try {
      if (pool && pool.ready()) {
        try {
          pool.run(pass, this.runMain[pass]);
        } catch (e) {
          // Workers that died or hung before they started their share wrote nothing, and workers
          // that threw or exited part-way left their journals: this thread runs (or finishes) those
          // shares and the pass completes (the pool is stopped: one thread from now on).
          if (!(e instanceof WorkerFault && e.recoverable)) throw e;
          this.finishShares(pass, e);
        }
      } else this.single[pass].run();
    } catch (e) {
      this.faulted = true;
      this.disposePool();
      const threads = pool && e instanceof WorkerFault ? e.unfinished : undefined;
      // The extra pass writes no parameter or state.
      throw new StepFault(e instanceof Error ? e.message : String(e), pass === this.extraPass ? [] : this.touchedLeaves(threads, pool ? pool.workers + 1 : 1));
    }
  }

  /**
   * Runs the shares of `pass` the main thread took, and finishes those of the workers that stopped
   * part-way (from their journals); a share that cannot be finished, or that throws here, may be
   * partly written.
   */
  private finishShares(pass: number, fault: WorkerFault): void {
    const workers = [...fault.taken, ...fault.stopped];
    for (let k = 0; k < workers.length; k++) {
      const w = workers[k];
      try {
        this.workerShares[pass][w].resume(k < fault.taken.length ? 0 : Atomics.load(this.journals[w], JOURNAL_PROGRESS));
      } catch (e) {
        throw new WorkerFault(`${fault.message}; finishing its share on the calling thread failed: ${(e as Error)?.message ?? String(e)}`, workers.slice(k).map((v) => v + 1));
      }
    }
  }

  /** The leaves (indices) in the shares of `threads` (all leaves when undefined), out of `count` threads. */
  private touchedLeaves(threads: readonly number[] | undefined, count: number): number[] {
    const { groups, layout } = this.input;
    const all = groups.flatMap((g) => g.leaves);
    if (!threads) return all.sort((a, b) => a - b);
    const ranges = shareRanges(groups, count);
    const hit = new Set<number>();
    for (const t of threads) {
      for (const { group, lo, hi } of ranges[t] ?? []) {
        const leaves = groups[group].leaves;
        leaves.forEach((leaf, k) => {
          // A leaf's region runs to the next leaf's (its padding included: over-reporting is safe).
          const start = layout.leafOffset[leaf];
          const end = k + 1 < leaves.length ? layout.leafOffset[leaves[k + 1]] : groups[group].length;
          if (start < hi && end > lo) hit.add(leaf);
        });
      }
    }
    return [...hit].sort((a, b) => a - b);
  }

  private disposePool(): void {
    this.pool?.dispose();
  }

  dispose(): void {
    this.disposePool();
  }
}

/**
 * The streams of a call of `program` for its journal: each pointer's bytes per element, and those it
 * overwrites (its outputs', its fast variant's included).
 */
function callStreams(program: FusedProgram): CallStreams {
  const outputs = [...program.outputs, ...(program.fast?.outputs ?? [])].map((o) => o.stream);
  const written: number[] = [];
  program.streams.forEach((stream, k) => { if (outputs.includes(stream)) written.push(k); });
  return { bytes: program.streams.map((stream) => bytesPerElement(streamDtype(program, stream))), written };
}

/** The workers' journal copier (wasm/copy-module.ts) for `memory`, where WebAssembly can have it. */
function copyModule(memory: EngineMemory): WebAssembly.Module | undefined {
  if (!memory.wasm) return undefined;
  try {
    return new WebAssembly.Module(emitCopyModule({ shared: memory.shared, initialPages: memory.pages, maximumPages: memory.pages }));
  } catch {
    // No bulk memory here (or no WebAssembly compilation): copyWithin does the same.
    return undefined;
  }
}

/** Starts the workers, or returns undefined when the platform cannot (the stepper then runs alone). */
function startPool(platform: ThreadPlatform, memory: EngineMemory, inits: readonly WorkerInit[], workerTimeout: number | undefined, journals: readonly Int32Array[]): ThreadPool | undefined {
  try {
    return new ThreadPool(platform, memory, 0, inits, workerTimeout, journals);
  } catch {
    return undefined;
  }
}

/**
 * Runs the programs with the reference interpreter (`runPlan`), block by block so that its
 * temporaries stay in cache: no code generation at all, for pages whose Content-Security-Policy
 * forbids both `eval` and WebAssembly compilation.
 */
export class InterpreterExecutor implements Executor {
  readonly backend = 'interpreter';
  private faulted = false;
  private readonly leaves: readonly number[];

  get threads(): number {
    return this.faulted ? 0 : 1;
  }

  private readonly scalarBlock: Float64Array;
  private readonly passes: { plan: KernelPlan; inputs: KernelInputs; outputs: KernelOutputs; scalars: Record<string, number>; names: readonly string[]; slots: readonly number[]; length: number; scratch: FloatArray[] }[][];

  /** `subnormals`: the mode the interpreter runs in, whatever the caller's (`withFlushedSubnormals`). */
  constructor(input: ExecutorInput, private readonly subnormals: SubnormalMode = 'ieee', private readonly block = 2048) {
    this.passes = input.passes.map((programs, pass) => input.groups.map((group, g) => {
      const program = programs[g];
      const view = (stream: string): FloatArray => viewAt(input.memory, group.streamDtypes.get(stream)!, group.streams.get(stream)!, group.length);
      const plan = planKernel(interpreterKernel(program));
      const state: Record<string, FloatArray> = {};
      for (const s of program.streams) if (s !== 'updates' && s !== 'params') state[s] = view(s);
      const scalars: Record<string, number> = {};
      const params = view('params');
      return {
        plan,
        inputs: { dtype: group.dtype, updates: view('grads'), params, state, scalars },
        outputs: { updates: params, state },
        scalars,
        names: program.scalars,
        slots: input.slots[pass][g],
        length: group.length,
        scratch: Array.from({ length: plan.temps }, () => allocate(group.dtype, Math.min(block, group.length))),
      };
    }));
    this.scalarBlock = input.scalars;
    this.leaves = input.groups.flatMap((g) => g.leaves).sort((a, b) => a - b);
  }

  run(pass = 0): void {
    if (this.faulted) throw new StepFault('this executor stopped after a failed pass', []);
    try {
      // The pass and the bound function are fields: a step allocates nothing.
      this.pending = pass;
      withSubnormalMode(this.subnormals === 'flush', this.runPending);
    } catch (e) {
      this.faulted = true;
      throw new StepFault(e instanceof Error ? e.message : String(e), this.leaves);
    }
  }

  private pending = 0;
  private readonly runPending = (): void => this.runAll(this.pending);

  private runAll(pass: number): void {
    for (const r of this.passes[pass]) {
      for (let j = 0; j < r.names.length; j++) r.scalars[r.names[j]] = this.scalarBlock[r.slots[j]];
      for (let lo = 0; lo < r.length; lo += this.block) runPlan(r.plan, r.inputs, r.outputs, lo, Math.min(r.length, lo + this.block), r.scratch);
    }
  }

  dispose(): void {}
}

/**
 * A program as a Kernel for `runPlan`: the params output is the kernel's `updates` output, the state
 * streams its state. `runPlan` writes its outputs one after the other, so an output that is directly
 * another stream's input (e.g. `state.a = state.b`) is first computed into a temporary (`max(x, x)`
 * is `x`, bit for bit, -0 and NaN included): it must not read a stream already overwritten.
 */
function interpreterKernel(program: FusedProgram): Kernel {
  const isolate = (e: Expr, stream: string): Expr => {
    const direct = e.kind === 'params' || (e.kind === 'state' && e.name !== stream);
    return direct ? ex.max(e, e) : e;
  };
  const state: Record<string, Expr> = {};
  let updates: Expr | undefined;
  for (const o of program.outputs) {
    if (o.stream === 'params') updates = isolate(o.expr, 'params');
    else state[o.stream] = isolate(o.expr, o.stream);
  }
  return { updates: updates!, state };
}

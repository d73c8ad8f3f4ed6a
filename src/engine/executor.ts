import { type FloatArray, allocate } from '../core/dtype.js';
import { type Expr, type Kernel, ex } from '../kernel/expr.js';
import { type KernelInputs, type KernelOutputs, type KernelPlan, planKernel, runPlan } from '../kernel/interpret.js';
import { CallList, shareRanges, splitCalls } from './dispatch.js';
import type { Group, Layout } from './layout.js';
import { type EngineMemory, viewAt } from './memory.js';
import type { FusedProgram, KernelFunction } from './program.js';
import { ThreadPool, WorkerFault } from './thread-pool.js';
import type { ThreadPlatform } from './thread-platform.js';
import type { KernelSource, WorkerInit } from './worker-source.js';

/** The code paths that run the fused programs. */
export type KernelBackend = 'wasm' | 'js' | 'interpreter';

/**
 * A pass that failed part-way (a worker thread threw, exited or hung, or a kernel trapped): the
 * parameter leaves (indices) whose params and state may be partly written. The executor is stopped.
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
  /** Runs the pass; a {@link StepFault} when it did not complete (the executor is then unusable). */
  run(): void;
  dispose(): void;
}

/** Everything an executor needs about the compiled programs. */
export interface ExecutorInput {
  readonly memory: EngineMemory;
  readonly layout: Layout;
  readonly groups: readonly Group[];
  /** One program per group. */
  readonly programs: readonly FusedProgram[];
  /** The scalar slots of each group's program. */
  readonly slots: readonly number[][];
  /** The scalar block. */
  readonly scalars: Float64Array;
}

/**
 * Runs generated kernels (JS loops or WebAssembly), on the main thread alone or split across worker
 * threads that run the same kernels on the same shared memory.
 */
export class KernelExecutor implements Executor {
  private readonly single: CallList;
  private readonly main: CallList | undefined;
  private readonly pool: ThreadPool | undefined;
  private readonly input: ExecutorInput;
  private faulted = false;

  /** `workerTimeout`: ms a pass may make no progress before its workers are declared hung. */
  constructor(readonly backend: 'wasm' | 'js', input: ExecutorInput, kernels: readonly KernelFunction[], source: KernelSource, threads: number, platform: ThreadPlatform | undefined, workerTimeout?: number) {
    this.input = input;
    this.single = new CallList(splitCalls(input.groups, input.programs, 1)[0], kernels);
    if (threads > 1 && platform && input.memory.shared) {
      const shares = splitCalls(input.groups, input.programs, threads);
      this.main = new CallList(shares[0], kernels);
      this.pool = startPool(platform, input.memory, shares.slice(1).map((share, w) => ({
        memory: input.memory.wasm ?? (input.memory.buffer as SharedArrayBuffer),
        controlOffset: 0,
        worker: w,
        kernels: source,
        passes: [share],
      })), workerTimeout);
      // Where the main thread may block (Node), wait for the workers now: compile() then reports the
      // threads that really run, and the first step does not pay for their start.
      if (this.pool && platform.mainCanBlock && !this.pool.ready()) this.disposePool();
    }
  }

  get threads(): number {
    if (this.faulted) return 0;
    return this.pool && !this.pool.failed ? this.pool.workers + 1 : 1;
  }

  /** The main thread's share, bound once (a step allocates nothing). */
  private readonly runMain = (): void => this.main!.run();

  run(): void {
    if (this.faulted) throw new StepFault('this executor stopped after a failed pass', []);
    const pool = this.pool;
    try {
      if (pool && pool.ready()) pool.run(0, this.runMain);
      else this.single.run();
    } catch (e) {
      this.faulted = true;
      this.disposePool();
      const threads = pool && e instanceof WorkerFault ? e.unfinished : undefined;
      throw new StepFault(e instanceof Error ? e.message : String(e), this.touchedLeaves(threads, pool ? pool.workers + 1 : 1));
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

/** Starts the workers, or returns undefined when the platform cannot (the stepper then runs alone). */
function startPool(platform: ThreadPlatform, memory: EngineMemory, inits: readonly WorkerInit[], workerTimeout: number | undefined): ThreadPool | undefined {
  try {
    return new ThreadPool(platform, memory, 0, inits, workerTimeout);
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
  private readonly runs: { plan: KernelPlan; inputs: KernelInputs; outputs: KernelOutputs; scalars: Record<string, number>; names: readonly string[]; slots: readonly number[]; length: number; scratch: FloatArray[] }[];

  constructor(input: ExecutorInput, private readonly block = 2048) {
    this.runs = input.groups.map((group, g) => {
      const program = input.programs[g];
      const view = (stream: string): FloatArray => viewAt(input.memory, group.dtype, group.streams.get(stream)!, group.length);
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
        slots: input.slots[g],
        length: group.length,
        scratch: Array.from({ length: plan.temps }, () => allocate(group.dtype, Math.min(block, group.length))),
      };
    });
    this.scalarBlock = input.scalars;
    this.leaves = input.groups.flatMap((g) => g.leaves).sort((a, b) => a - b);
  }

  run(): void {
    if (this.faulted) throw new StepFault('this executor stopped after a failed pass', []);
    try {
      this.runAll();
    } catch (e) {
      this.faulted = true;
      throw new StepFault(e instanceof Error ? e.message : String(e), this.leaves);
    }
  }

  private runAll(): void {
    for (const r of this.runs) {
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

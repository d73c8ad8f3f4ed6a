import { type FloatArray, allocate } from '../core/dtype.js';
import { type Expr, type Kernel, ex } from '../kernel/expr.js';
import { type KernelInputs, type KernelOutputs, type KernelPlan, planKernel, runPlan } from '../kernel/interpret.js';
import { CallList, splitCalls } from './dispatch.js';
import type { Group, Layout } from './layout.js';
import { type EngineMemory, viewAt } from './memory.js';
import type { FusedProgram, KernelFunction } from './program.js';
import { ThreadPool } from './thread-pool.js';
import type { ThreadPlatform } from './thread-platform.js';
import type { KernelSource, WorkerInit } from './worker-source.js';

/** The code paths that run the fused programs. */
export type KernelBackend = 'wasm' | 'js' | 'interpreter';

/** Runs the fused pass of a step, with the scalars currently in the scalar block. */
export interface Executor {
  readonly backend: KernelBackend;
  /** Threads the pass runs on (the main thread included). */
  readonly threads: number;
  /** Runs pass `pass` (0 unless the stepper has several: MultiSteps' emitting and accumulating passes). */
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

/**
 * Runs generated kernels (JS loops or WebAssembly), on the main thread alone or split across worker
 * threads that run the same kernels on the same shared memory.
 */
export class KernelExecutor implements Executor {
  private readonly single: CallList[];
  private readonly main: CallList[] = [];
  private readonly pool: ThreadPool | undefined;

  /** `kernels`: every pass's kernels, pass after pass (kernel `pass * groups + g`). */
  constructor(readonly backend: 'wasm' | 'js', input: ExecutorInput, kernels: readonly KernelFunction[], source: KernelSource, threads: number, platform: ThreadPlatform | undefined) {
    const groups = input.groups;
    this.single = input.passes.map((programs, pass) => new CallList(splitCalls(groups, programs, 1, pass * groups.length)[0], kernels));
    if (threads > 1 && platform && input.memory.shared) {
      // shares[pass][thread]
      const shares = input.passes.map((programs, pass) => splitCalls(groups, programs, threads, pass * groups.length));
      this.main = shares.map((perThread) => new CallList(perThread[0], kernels));
      this.runMain = this.main.map((list) => () => list.run());
      this.pool = startPool(platform, input.memory, Array.from({ length: threads - 1 }, (_, w) => ({
        memory: input.memory.wasm ?? (input.memory.buffer as SharedArrayBuffer),
        controlOffset: 0,
        kernels: source,
        passes: shares.map((perThread) => perThread[w + 1]),
      })));
      // Where the main thread may block (Node), wait for the workers now: compile() then reports the
      // threads that really run, and the first step does not pay for their start.
      if (this.pool && platform.mainCanBlock && !this.pool.ready()) this.disposePool();
    }
  }

  get threads(): number {
    return this.pool && !this.pool.failed ? this.pool.workers + 1 : 1;
  }

  /** The main thread's share of each pass, bound once (a step allocates nothing). */
  private readonly runMain: (() => void)[] = [];

  run(pass = 0): void {
    const pool = this.pool;
    if (pool && pool.ready()) pool.run(pass, this.runMain[pass]);
    else this.single[pass].run();
  }

  private disposePool(): void {
    this.pool?.dispose();
  }

  dispose(): void {
    this.disposePool();
  }
}

/** Starts the workers, or returns undefined when the platform cannot (the stepper then runs alone). */
function startPool(platform: ThreadPlatform, memory: EngineMemory, inits: readonly WorkerInit[]): ThreadPool | undefined {
  try {
    return new ThreadPool(platform, memory, 0, inits);
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
  readonly threads = 1;
  private readonly scalarBlock: Float64Array;
  private readonly passes: { plan: KernelPlan; inputs: KernelInputs; outputs: KernelOutputs; scalars: Record<string, number>; names: readonly string[]; slots: readonly number[]; length: number; scratch: FloatArray[] }[][];

  constructor(input: ExecutorInput, private readonly block = 2048) {
    this.passes = input.passes.map((programs, pass) => input.groups.map((group, g) => {
      const program = programs[g];
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
        slots: input.slots[pass][g],
        length: group.length,
        scratch: Array.from({ length: plan.temps }, () => allocate(group.dtype, Math.min(block, group.length))),
      };
    }));
    this.scalarBlock = input.scalars;
  }

  run(pass = 0): void {
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

import type { Dtype, FloatArray } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import type { GradientTransformation } from '../core/transformation.js';
import { type ArrayLeaf, leafData } from '../tree/leaf.js';
import { treeLeaves } from '../tree/map.js';
import type { Params, Tree } from '../tree/tree.js';
import { type Accumulation, type DynamicSelection, type Guard, type Injection, type Island, type Stage, type StateNode, analyze } from './analyze.js';
import { type MultiStepsLeafClass, composeProgram, multiStepsLeafClass, scalarStreamName, stateStreamName } from './compose.js';
import { programPointers, programSlots, scalarOffsets } from './dispatch.js';
import { type Executor, type ExtraPass, type KernelBackend, InterpreterExecutor, KernelExecutor } from './executor.js';
import { type LeafSum, type PlannedLeafSums, jsLeafSums, planLeafSums } from './global-norm.js';
import { normRegionBytes } from './norm-plan.js';
import { builtInSkipRule } from '../transforms/skip-updates.js';
import { GuardInput } from './guard-input.js';
import { codeGenerationAllowed, instantiateJsKernel, jsKernelSource } from './js-kernel.js';
import { type LeafTable, formLike, leafTable, mapIndexTree } from './leaves.js';
import { ALIGN, type Group, type Layout, MAX_PAGES, PAGE, kernelScalars, leafPointer, planLayout, scalarKey } from './layout.js';
import { type EngineMemory, createMemory, sharedBuffersAvailable, viewAt } from './memory.js';
import { copyArrays } from './opaque-state.js';
import type { FusedProgram, KernelFunction } from './program.js';
import { type ValidatedOptions, validateCompileOptions } from './compile-options.js';
import { CompiledStepper, type FusedParts, type Stepper } from './stepper.js';
import type { SubnormalMode } from './subnormals.js';
import { threadPlatform } from './thread-platform.js';
import { type JournalPlace, journalBlock, journalRegionBytes } from './undo-journal.js';
import { FUSED_EXPORT, emitFusedModule, emitFusedReduction, instantiateFusedKernel, instantiateReductions, relaxedMaddFused, requestTierUp, wasmSimdSupported } from './wasm/index.js';
import { topologicalOrder } from '../kernel/expr.js';
import { allArraysFinite } from '../transforms/apply-if-finite.js';
import type { KernelSource } from './worker-source.js';

/** Options of {@link compile}. */
export interface CompileOptions {
  /**
   * Threads a step may run on, the calling thread included. Default: the logical processors of the
   * machine (`os.availableParallelism()` in Node, `navigator.hardwareConcurrency` in browsers), at most
   * 8 (memory bandwidth is saturated by then). `1` starts no worker. At most 64 (`MAX_THREADS`; more
   * is an OptaxError, thrown before any worker starts). Fewer are used when the parameters are few
   * (each thread gets at least `minElementsPerThread` elements), when memory cannot be shared (a page
   * that is not cross-origin isolated), and on the `interpreter` backend.
   */
  threads?: number;
  /**
   * Forces a code path (default `'auto'`: the first available of `wasm`, `js`, `interpreter`):
   * - `wasm`: WebAssembly SIMD kernels generated from the chain;
   * - `js`: a plain-JS fused loop generated with `new Function`;
   * - `interpreter`: block-wise evaluation of the composed kernel, no code generation at all (for a
   *   Content-Security-Policy that forbids `eval` and WebAssembly).
   * A forced backend that is unavailable throws. All give bit-identical results.
   */
  backend?: 'auto' | KernelBackend;
  /** The fewest elements worth a thread (default 32768; lower it to force threads on small trees in tests). */
  minElementsPerThread?: number;
  /**
   * What happens when the transformation cannot be fused (default `'reference'`):
   * - `reference`: it runs exactly on the reference path (`tx.update` + `applyUpdates`) behind the same
   *   API, typically 30 to 100 times slower; `stepper.referenceReason` says why;
   * - `error`: `compile` throws an OptaxError with that reason instead, and a compiled step that would
   *   have to run on the reference path (a mask function, or a mask tree changed since compile, that now selects other leaves, a
   *   hyperparameter that became an array) throws before anything changes.
   */
  fallback?: 'reference' | 'error';
  /**
   * Milliseconds a threaded step waits for a worker thread that makes no progress before it declares
   * it hung (default 10000; an integer from 1 to 2^31 - 1). The step then fails and the stepper is
   * broken (see {@link Stepper.step}), unless the worker had not started its share: the calling
   * thread then runs it and the step completes. A hung worker part-way through its share is never
   * finished for, `workerJournal` or not: `terminate()` is asynchronous, so it may still be writing.
   * Measured on a monotonic clock (a machine asleep mid-step does not count). A worker that throws
   * or exits is noticed at once, whatever this is.
   */
  workerTimeout?: number;
  /**
   * Keep an undo journal in each worker thread (default `false`), so that a worker that throws or
   * exits part-way through its share of a step does not break the stepper: each worker runs its
   * share in blocks, saving the bytes of params and state a block overwrites before writing it; when
   * a worker is known to have stopped writing (it threw and is idle, or its exit hook ran), the
   * calling thread puts back the bytes of the block it was writing and finishes its share: the step
   * completes, bit-identical to an unfaulted one, and the stepper goes on on one thread. A worker
   * that hangs is not covered (see {@link Stepper.step}). Without it, only a worker that stopped
   * between kernel calls (before its share, or in the global norm's pass) is recovered. Cost: the
   * saved bytes are a second copy of the params and state a worker writes, on every step. Measured
   * for plain adamax float32 at 2 threads (bench/worker-journal.ts, wasm, interleaved, a quiet
   * 2-core x64 machine, two runs): 1.40x-1.60x the time of a step without it at 1e6 parameters and
   * 1.23x-1.29x at 1e7, where one thread took 1.58x-1.84x and 1.22x-1.45x.
   */
  workerJournal?: boolean;
  /**
   * How subnormal numbers are computed (default `'ieee'`):
   * - `ieee`: IEEE 754 arithmetic, subnormals kept, as JS and WebAssembly compute and as the pure
   *   `update` does by default;
   * - `flush`: XLA on CPU's mode (flush-to-zero and denormals-are-zero), as the pure path computes it
   *   inside {@link withFlushedSubnormals}: every subnormal value read (gradient, parameter, state,
   *   per-step scalar) counts as zero and every subnormal result becomes a zero of its sign. Use it to
   *   match optax on XLA:CPU bit for bit where values underflow (the conformance runner's `--engine`
   *   mode does). Every backend and thread count gives the same bits as the pure path under
   *   `withFlushedSubnormals`; the interpreter backend and the reference fallback run in this mode
   *   whatever the caller's. Cost: WebAssembly has no flush mode, so each load and
   *   each `+ - * /` and fused multiply-add is followed by a four-instruction flush. Measured for one
   *   adamax step over 1e6 parameters on one thread (bench/subnormals.ts, CPU time, interleaved, a
   *   shared 2-core x64 machine): wasm float32 0.37 -> 1.76 ms (4.8x), float64 0.97 -> 3.61 ms
   *   (3.7x); js float32 3.66 -> 6.43 ms (1.8x), float64 2.18 -> 4.97 ms (2.3x).
   */
  subnormals?: SubnormalMode;
  /**
   * When the mask and labels functions of `masked`, `partition` and `adamaxw`'s `mask` (and mask or
   * label trees given as such) are read (default `'every-step'`):
   * - `every-step`: at every step, as optax's `update` reads them when it runs eagerly; a step where
   *   one selects other leaves than at compile time runs on the reference path (or throws, with
   *   `fallback: 'error'`), so the results are the reference path's whatever the function does.
   * - `once`: by `compile` alone (with the params), as `jax.jit` calls them once, when it traces the
   *   step: JAX needs a mask's booleans while tracing, so under `jit` a mask can depend on the tree's
   *   structure only, and a compiled step reads it no more. A step then costs nothing for them: a mask
   *   function that builds a new 2000-key tree costs about as much as a fused adamax step over those
   *   2000 leaves (BENCHMARKS.md, the combinators' table), and checking its answer as much again. What
   *   a function (or a mutated mask tree) would answer later is NOT looked at: use it only for
   *   selections that cannot change. It also lets `multiSteps` fuse around a mask or labels function
   *   (optax calls those with the accumulated gradients, which `every-step` cannot check in one pass).
   *   A stepper on the reference path (a transformation that cannot be fused) runs `update`, which
   *   calls them at every step whatever this says.
   */
  masks?: 'every-step' | 'once';
}

const DEFAULT_MAX_THREADS = 8;
const DEFAULT_MIN_ELEMENTS_PER_THREAD = 1 << 15;

/**
 * Compiles an optimizer into a {@link Stepper} that runs each step as ONE in-place pass over memory.
 *
 * The chain is walked (`chain` flattened, `masked` and `partition` seen through, `clipByGlobalNorm` at
 * the start turned into a reduction, `applyIfFinite` around it into a finiteness check), the
 * per-element kernels of its transformations are composed with the final `p + u` of `applyUpdates`
 * into one expression graph, and a kernel is generated from it per group of leaves (WebAssembly SIMD, a JS loop, or the interpreter). All leaves of a group live
 * back to back in one region per stream (params, grads, each state leaf), so a tree of 2000 leaves
 * costs what one leaf of the same size costs; large trees are split across worker threads sharing the
 * memory. Per step, each stage's scalars (bias corrections, schedule values) are computed exactly as
 * its `update` computes them, and its control state (`count`) advances the same way: parameters and
 * state are bit-identical to `tx.update` + `applyUpdates` after every step.
 *
 * `applyIfFinite` around the whole transformation becomes a finiteness pass over the gradients, then
 * the inner transformation (a chain of elementwise ones runs with the numerics optax gets inside
 * `lax.cond`, transforms/traced.ts; one starting with `clipByGlobalNorm` or holding masks runs as the
 * reference path runs it); a skipped step applies zero updates and keeps the inner state, as optax does.
 * Inside a chain, a mask or a partition (e.g. `chain(clipByGlobalNorm(1), applyIfFinite(adamax))`)
 * it checks the updates it receives (the gradients of its leaves, or their clipped values: computed
 * from the clip's kernel when the norm exceeds `maxNorm`), and a skipped step is a second pass in
 * which its zero update flows through the transformations after it.
 * `injectHyperparams` runs its own step (values from its state, schedules at their counts): the values
 * become the step's scalars of the inner stages, in the hyperparameter dtype, so a learning rate set
 * with `setHyperparams` or scheduled costs nothing more.
 *
 * `MultiSteps` around the whole transformation keeps its accumulator in the arena: a mini-step is one
 * accumulating pass (the running mean, and the `p + 0 * y` optax applies), an emitting step runs the
 * inner chain with the numerics optax gets inside `lax.cond`; `shouldSkipUpdateFn` is called with the
 * gradients each step, as optax calls it. optax's default float32 accumulator over float64 params is
 * a float32 stream of the float64 pass (the mean computed in float64, stored rounded, as optax's
 * dtype promotion does). Array (broadcast) hyperparameters (`b1`, `eps`, a weight decay given per
 * element) are streams of the arena too, the array broadcast to every leaf and rewritten each step
 * (one more stream read per element for each).
 *
 * A `partition` at the root whose groups do not all fuse runs the fusable groups fused and each other
 * group on the reference path in the same step (optax's `masked(transform, labels == label)` on the
 * same params and gradients, its updates written into the arena and applied by the fused pass);
 * `stepper.referenceReason` names those groups, and with `{ fallback: 'error' }` `compile` throws.
 *
 * What still cannot fuse runs, exactly, on the reference path behind the same API, by default
 * (`stepper.backend === 'reference'`, and `stepper.referenceReason` says why); with
 * `{ fallback: 'error' }`, `compile` throws an OptaxError with that reason instead:
 * - a transformation that is not elementwise and not one of the combinators above: a user's own
 *   `GradientTransformation` whose `update` is JS code (the engine cannot see its math), or one of
 *   optax-ts's that is not elementwise;
 * - `MultiSteps` other than around the whole transformation, and `clipByGlobalNorm` other than first
 *   (its norm is then over computed updates);
 * - `applyIfFinite` after a transformation other than `clipByGlobalNorm` on its leaves (its check
 *   would need the updates that one computes), a second `applyIfFinite` (nested or beside the first),
 *   one inside `MultiSteps`, and `injectHyperparams` inside a nested one;
 * - inside `MultiSteps`, a mask or labels function (optax calls it with the running mean, which exists
 *   only inside the pass) and a float64 accumulator over float32 params (a float64 mean feeding a
 *   float32 chain);
 * - an array hyperparameter inside `applyIfFinite` or `MultiSteps` (traced numerics);
 * - a mask or label that selects no leaf at all (the inner transformation then sees `null` params).
 * A compiled step that cannot run fused (a mask function now selecting other leaves, a hyperparameter
 * that became an array, `injectHyperparams` rebuilding another structure) runs that step on the
 * reference path, or with `fallback: 'error'` throws before anything changes.
 *
 * @param tx - the optimizer, e.g. `adamax(1e-3)`.
 * @param params - the initial parameters; they are copied (the stepper's own are `stepper.params`).
 * @param options - `threads`, `backend`, `minElementsPerThread`, `fallback` (`'reference'` by default:
 *   what cannot be fused runs on the reference path; `'error'` throws), `workerTimeout`, `workerJournal`
 *   (`false` by default: an undo journal that lets a step complete when a worker throws or exits
 *   part-way, at a cost on every threaded step), `subnormals`,
 *   `masks` (`'every-step'` by default: mask and labels functions are called at every step, as optax
 *   calls them eagerly; `'once'`: only here, as `jax.jit` calls them); see {@link CompileOptions}.
 *   Validated first (types, ranges, unknown keys: an OptaxError naming the option).
 *
 * @example
 * ```ts
 * import { adamax, compile } from 'optax-ts';
 * const stepper = compile(adamax(0.1), { w: new Float32Array([1, -2]) });
 * stepper.grads.w.set([0.5, -4]); // write the gradients in place (or pass a tree to step())
 * stepper.step();
 * console.log(stepper.params.w, stepper.state[0].count); // Float32Array(2) [ 0.9000000357627869, -1.899999976158142 ] 1
 * stepper.dispose();
 * // By default, what cannot be fused runs exactly on the slower reference path (referenceReason says
 * // why); with fallback: 'error', compile throws that reason instead.
 * const strict = compile(adamax(0.1), { w: new Float32Array(2) }, { fallback: 'error' });
 * console.log(strict.backend !== 'reference', strict.referenceReason); // true undefined
 * strict.dispose();
 * ```
 */
export function compile<P extends Params, S>(tx: GradientTransformation<S>, params: P, options?: CompileOptions): Stepper<P, S> {
  const opts = validateCompileOptions(options);
  if (!tx || typeof tx.init !== 'function' || typeof tx.update !== 'function') throw new OptaxError('compile: tx is not a gradient transformation');
  const table = leafTable(params);
  const initial = tx.init(params);
  // A `null` tree has nothing to fuse, and transformations may treat it as "no params" (and throw).
  const analysis = params === null
    ? { fusable: false as const, reason: 'the parameter tree is null' }
    : analyze(tx as GradientTransformation<unknown>, table, params, initial, opts.masks === 'once');
  if (!analysis.fusable && opts.fallback === 'error') {
    throw new OptaxError(`compile: ${tx.name} cannot be fused: ${analysis.reason} (it would run on the reference path; compile without fallback: 'error' to allow that)`);
  }
  // Partition groups that cannot fuse run on the reference path, the others fused.
  const partly = analysis.fusable && analysis.islands.length ? analysis.islands.map((i) => `partition group '${i.label}' runs on the reference path: ${i.reason}`).join('; ') : undefined;
  if (partly && opts.fallback === 'error') {
    throw new OptaxError(`compile: ${tx.name} cannot be fused entirely: ${partly} (compile without fallback: 'error' to allow that)`);
  }
  const stages = analysis.fusable ? analysis.stages : [];
  // MultiSteps' silent update depends on each leaf's shape: such leaves get groups of their own.
  const layout = planLayout(table, stages, analysis.fusable && analysis.accumulation ? (l) => multiStepsLeafClass(l.shape, l.length) : undefined);
  const backend = analysis.fusable ? opts.backend : undefined;
  const threads = backend && backend !== 'interpreter' ? chooseThreads(opts, table) : 1;
  // clip_by_global_norm at the start (or MultiSteps' skipLargeUpdates): its window tables and sums after the arena (global-norm.ts).
  const normAt = Math.ceil(layout.bytes / ALIGN) * ALIGN;
  const normLeaves = table.leaves.map((l) => ({ ...leafPointer(layout, 'grads', l.index), shape: l.shape }));
  // Room for the first level split across the threads (WebAssembly) or not (JS).
  const normBytes = backend && sumsGradients(stages, analysis.fusable ? analysis.accumulation : undefined) ? Math.max(normRegionBytes(normLeaves, 1), normRegionBytes(normLeaves, threads)) : 0;
  const normRegion = normBytes > 0 && normAt + normBytes <= MAX_PAGES * PAGE ? normAt : undefined;
  const used = normRegion === undefined ? layout.bytes : normAt + normBytes;
  // The worker threads' journals (undo-journal.ts) after that, where they fit: their headers, and
  // with workerJournal their undo bytes.
  const journalAt = Math.ceil(used / ALIGN) * ALIGN;
  const block = opts.workerJournal ? journalBlock() : 0;
  const journalBytes = threads > 1 ? journalRegionBytes(layout.groups, threads, block) : 0;
  const journal = journalBytes > 0 && journalAt + journalBytes <= MAX_PAGES * PAGE ? { offset: journalAt, block } : undefined;
  const memory = createMemory(journal ? journalAt + journalBytes : used, threads > 1);

  const leafViews = (stream: string): FloatArray[] => table.leaves.map((l) => viewOf(memory, layout, stream, l.index, l.length));
  const paramViews = leafViews('params');
  const gradViews = leafViews('grads');
  const userLeaves = treeLeaves<ArrayLeaf>(params).leaves.map(leafData);
  userLeaves.forEach((data, i) => paramViews[i].set(data));
  const asTree = (views: readonly FloatArray[]): Tree => mapIndexTree(table, table.indexTree, (l) => formLike(l, views[l.index]));

  const fused = analysis.fusable && backend ? fusedParts(stages, analysis.root, analysis.dynamic, analysis.guard, analysis.injections, analysis.accumulation, analysis.traced, analysis.islands, table, layout, memory, gradViews, backend, threads, opts.workerTimeout, opts.subnormals, normRegion, journal) : undefined;
  const stepper = new CompiledStepper<P, S>({
    tx: tx as GradientTransformation<unknown>,
    table,
    buffer: memory.buffer,
    params: asTree(paramViews),
    grads: asTree(gradViews),
    paramViews,
    gradViews,
    leafDtypes: table.leaves.map((l) => l.dtype),
    fused,
    referenceReason: analysis.fusable ? partly : analysis.reason,
    strict: opts.fallback === 'error',
    subnormals: opts.subnormals,
    // On the reference path the state is kept as `update` returns it, its arrays the stepper's own.
    referenceState: fused ? undefined : copyArrays(initial),
  });
  try {
    if (fused) stepper.setState(initial);
  } catch (e) {
    stepper.dispose();
    throw e;
  }
  return stepper;
}

/** The arena views of every stage's state, the scalar plans, and the executor. */
function fusedParts(stages: readonly Stage[], root: StateNode, dynamic: readonly DynamicSelection[], guard: Guard | undefined, injections: readonly Injection[], accumulation: Accumulation | undefined, traced: boolean, islands: readonly Island[], table: LeafTable, layout: Layout, memory: EngineMemory, gradViews: readonly FloatArray[], backend: 'auto' | KernelBackend, threads: number, workerTimeout: number | undefined, subnormals: SubnormalMode, normRegion: number | undefined, journal: JournalPlace | undefined): FusedParts {
  const scalars = new Float64Array(memory.buffer, layout.scalarOffset, layout.scalarSlots.size);
  // stateViews[stage][j][leaf]: state leaf j of a stage, at each leaf the stage runs on.
  const viewsOf = (s: Stage, stream: string): (FloatArray | undefined)[] => {
    const views: (FloatArray | undefined)[] = new Array(table.leaves.length).fill(undefined);
    for (const i of s.leaves) views[i] = viewOf(memory, layout, stream, i, table.leaves[i].length);
    return views;
  };
  const stateViews = stages.map((s) => s.stateLeaves.map((name) => viewsOf(s, stateStreamName(s.index, name))));
  // An injectHyperparams' scalars come from its state's arrays: never constants of optax's traced computation.
  const injected = new Set(injections.flatMap((inj) => inj.stages));
  const shapes = table.leaves.map((l) => l.shape);
  const flush = subnormals === 'flush';
  const normFirst = stages.some((s) => s.source.kind === 'globalNorm');
  const sums = sumsGradients(stages, accumulation);
  // The global norm's tables in WebAssembly where the kernels may be: its first level a pass of the threads.
  let planned: PlannedLeafSums | undefined;
  if (sums && normRegion !== undefined && (backend === 'wasm' || backend === 'auto')) {
    try {
      planned = planLeafSums(gradViews, shapes, flush, memory, normRegion, true, threads);
    } catch {
      // No WebAssembly here: the JS tables below give the same bits.
    }
  }
  const executor = makeExecutor(backend, stages, layout, memory, scalars, threads, traced, accumulation?.stage, guard, workerTimeout, subnormals, injected, planned?.pass, journal);
  return {
    stages,
    root,
    dynamic,
    guard,
    injections,
    accumulation,
    stateViews,
    stateTrees: stages.map((s, k) => stateViews[k].map((views) => mapIndexTree(table, s.context, (l) => formLike(l, views[l.index]!)))),
    arrayScalarViews: stages.map((s) => (s.arrayScalars ?? []).map((name) => viewsOf(s, scalarStreamName(s.index, name)))),
    executor,
    normFirst,
    leafSum: normSums(executor, sums, planned, gradViews, shapes, flush, memory, normRegion),
    gradsFinite: guard && !guard.nested ? gradsFinite(executor.backend, layout, gradViews, memory) : undefined,
    guardInput: guard?.nested ? new GuardInput(stages, guard.nested, table) : undefined,
    islands,
    scalars,
    traced,
    scalarPlans: stages.map((s) => {
      const names = kernelScalars(s);
      return { names, slots: s.dtypes.map((d) => names.map((n) => layout.scalarSlots.get(scalarKey(s.index, d, n))!)) };
    }),
  };
}

/** A view of leaf `leaf` (`length` elements) in `stream`, of the stream's element type. */
function viewOf(memory: EngineMemory, layout: Layout, stream: string, leaf: number, length: number): FloatArray {
  const { pointer, dtype } = leafPointer(layout, stream, leaf);
  return viewAt(memory, dtype, pointer, length);
}

/** `program` with the element types of its group's streams that differ from its dtype. */
function withStreamDtypes(program: FusedProgram, group: Group): FusedProgram {
  const narrow: Record<string, Dtype> = {};
  for (const stream of program.streams) {
    const dtype = group.streamDtypes.get(stream === 'updates' ? 'grads' : stream);
    if (dtype !== undefined && dtype !== program.dtype) narrow[stream] = dtype;
  }
  return Object.keys(narrow).length ? { ...program, streamDtypes: narrow } : program;
}

/**
 * Whether a step sums the squares of each gradient leaf: clip_by_global_norm at the start, or
 * MultiSteps with skipLargeUpdates (the same sums: `leafSumOfSquares`).
 */
function sumsGradients(stages: readonly Stage[], accumulation: Accumulation | undefined): boolean {
  return stages.some((s) => s.source.kind === 'globalNorm') || builtInSkipRule(accumulation?.combinator.shouldSkip)?.kind === 'large_updates';
}

/**
 * The leaf sums of a global norm in XLA:CPU's order for each leaf's shape, with squares below the
 * normal range flushed in XLA's subnormal mode: the window tables at `region` (global-norm.ts), in
 * WebAssembly on the wasm backend (`planned`, their first level a pass of the executor's threads),
 * else in generated JS; without a region (it would not fit in the memory) or code generation, the
 * reference's own plans. All give
 * the same bits (core/xla-reduce-sum.ts).
 */
function normSums(executor: Executor, needed: boolean, planned: PlannedLeafSums | undefined, gradViews: readonly FloatArray[], shapes: readonly (readonly number[])[], flush: boolean, memory: EngineMemory, region: number | undefined): LeafSum {
  // Where code cannot be generated (the interpreter's pages), the JS tables' runner cannot be built:
  // the reference terms themselves, the same bits.
  if (!needed || region === undefined || !codeGenerationAllowed()) return jsLeafSums(gradViews, shapes, flush);
  if (planned && executor.backend === 'wasm') {
    const pass = executor instanceof KernelExecutor ? executor.extraPass : -1;
    return planned.leafSums(planned.pass && pass >= 0 ? () => executor.run(pass) : undefined);
  }
  return planLeafSums(gradViews, shapes, flush, memory, region, false).leafSums();
}

/**
 * The finiteness check of applyIfFinite over the gradient views: on the wasm backend, WebAssembly
 * SIMD over each group's gradient region (the padding between leaves is zero); else (or if that does
 * not build) a JS loop over the views.
 */
function gradsFinite(backend: KernelBackend, layout: Layout, gradViews: readonly FloatArray[], memory: EngineMemory): () => boolean {
  if (backend === 'wasm' && memory.wasm && layout.leafGroup.every((g) => g >= 0)) {
    try {
      // One reduction module per dtype, called once per group.
      const byDtype = new Map<Dtype, (n: number, pointer: number) => number>();
      const allFiniteOf = (dtype: Dtype): ((n: number, pointer: number) => number) => {
        let fn = byDtype.get(dtype);
        if (!fn) {
          const bytes = emitFusedReduction({ dtype, shared: memory.shared, initialPages: memory.pages, maximumPages: memory.pages });
          byDtype.set(dtype, (fn = instantiateReductions(new WebAssembly.Module(bytes), memory.wasm!).allFinite));
          requestTierUp(fn, [0, 0], bytes.length);
        }
        return fn;
      };
      const checks = layout.groups.map((group) => {
        const allFinite = allFiniteOf(group.dtype);
        const grads = group.streams.get('grads')!;
        return (): number => allFinite(group.length, grads);
      });
      // A loop, not checks.every(...): the callback would be a new closure at every step.
      return () => {
        for (let k = 0; k < checks.length; k++) if (checks[k]() !== 1) return false;
        return true;
      };
    } catch {
      // Fall through: the JS check gives the same answer.
    }
  }
  return () => allArraysFinite(gradViews);
}

/** Threads for a step: as requested (or the machine's), limited by the work and the platform. */
function chooseThreads(options: ValidatedOptions, table: LeafTable): number {
  const platform = threadPlatform();
  if (!platform || !sharedBuffersAvailable()) return 1;
  // A platform's count is only a hint (a registered platform may return anything).
  const cores = platform.parallelism();
  const requested = options.threads ?? (Number.isInteger(cores) && cores >= 1 ? Math.min(DEFAULT_MAX_THREADS, cores) : 1);
  let elements = 0;
  for (const l of table.leaves) elements += l.length;
  const worth = Math.floor(elements / (options.minElementsPerThread ?? DEFAULT_MIN_ELEMENTS_PER_THREAD));
  return Math.max(1, Math.min(requested, worth));
}

/**
 * Composes one program per group and builds the executor: the requested backend (an OptaxError when
 * it is unavailable), or for 'auto' the first that works of wasm, js, interpreter.
 */
function makeExecutor(requested: 'auto' | KernelBackend, stages: readonly Stage[], layout: Layout, memory: EngineMemory, scalars: Float64Array, threads: number, traced: boolean, accumulator: number | undefined, guard: Guard | undefined, workerTimeout: number | undefined, subnormals: SubnormalMode, injected: ReadonlySet<number>, normPass: ExtraPass | undefined, journal: JournalPlace | undefined): Executor {
  const groups = layout.groups;
  // One pass; with MultiSteps two: pass 0 emits, pass 1 accumulates; with a nested applyIfFinite
  // two: pass 0 applies its inner update, pass 1 skips it.
  const nested = guard?.nested;
  const kinds = accumulator !== undefined ? (['emit', 'accumulate'] as const) : nested ? (['apply', 'skip'] as const) : [undefined];
  const composable = stages.map((st) => ({ ...st, constantScalars: st.source.kind === 'elementwise' && !injected.has(st.index) ? st.source.def.constantScalars : undefined }));
  const passes: FusedProgram[][] = kinds.map((pass) => groups.map((g) => withStreamDtypes(composeProgram(g.dtype, g.stages.map((k) => composable[k]), {
    traced,
    accumulator: (pass === 'emit' || pass === 'accumulate') ? { stage: accumulator!, pass, leaves: g.leafClass as MultiStepsLeafClass } : undefined,
    guard: (pass === 'apply' || pass === 'skip') ? { stage: nested!.stage, inner: nested!.inner, traced: guard!.traced, pass } : undefined,
  }), g)));
  const slots = passes.map((programs) => programs.map((p, g) => programSlots(p, groups[g], stages, layout)));
  const input = { memory, layout, groups, passes, slots, scalars };
  // Every pass's kernels, pass after pass (what KernelExecutor indexes).
  const programs = passes.flat();
  const flatGroups = passes.flatMap(() => groups);
  const flatSlots = slots.flat();
  if (requested === 'interpreter') return new InterpreterExecutor(input, subnormals);
  if (requested === 'wasm' || requested === 'auto') {
    try {
      const { kernels, source } = wasmKernels(programs, flatGroups, flatSlots.map((sl) => scalarOffsets(layout, sl)), memory, subnormals);
      return new KernelExecutor('wasm', input, kernels, source, threads, threadPlatform(), workerTimeout, normPass, journal);
    } catch (e) {
      if (requested === 'wasm') throw new OptaxError(`compile: backend 'wasm' is not available here (${(e as Error).message}); use 'js' or 'interpreter'`);
    }
  }
  if (codeGenerationAllowed()) {
    const sources = programs.map((p, k) => jsKernelSource(p, undefined, scalarOffsets(layout, flatSlots[k]), subnormals));
    const kernels = sources.map((s) => instantiateJsKernel(s, memory.buffer));
    return new KernelExecutor('js', input, kernels, { kind: 'js', sources }, threads, threadPlatform(), workerTimeout, undefined, journal);
  }
  if (requested === 'js') throw new OptaxError("compile: backend 'js' needs run-time code generation (new Function), which this environment forbids; use 'interpreter'");
  return new InterpreterExecutor(input, subnormals);
}

/**
 * Compiles the WebAssembly SIMD kernel of each program for the engine's memory. Throws where
 * WebAssembly SIMD is unavailable, where compiling is forbidden (CSP), or where a browser refuses a
 * synchronous compile of a large module on its main thread.
 */
function wasmKernels(programs: readonly FusedProgram[], groups: readonly Group[], scalars: readonly number[][], memory: EngineMemory, subnormals: SubnormalMode): { kernels: KernelFunction[]; source: KernelSource } {
  const wasm = memory.wasm;
  if (!wasm) throw new Error('WebAssembly.Memory is unavailable');
  if (!wasmSimdSupported()) throw new Error('WebAssembly SIMD is unsupported');
  const limits = { shared: memory.shared, initialPages: memory.pages, maximumPages: memory.pages };
  // Fused multiply-adds (traced numerics) in one relaxed-SIMD instruction where this runtime is shown
  // to fuse it for the program's dtype (probed once per process and dtype, only when a kernel has one), else emulated.
  const hasFma = (p: FusedProgram): boolean => topologicalOrder([...p.outputs, ...(p.fast?.outputs ?? [])].map((o) => o.expr)).some((e) => e.kind === 'fma');
  // Each kernel runs on one group, whose layout is fixed: its stream and scalar offsets are compiled in.
  const pointers = programs.map((p, g) => programPointers(p, groups[g], 0));
  const bytes = programs.map((p, g) => emitFusedModule(p, { ...limits, streamOffsets: pointers[g], scalarOffsets: scalars[g], subnormals, relaxedMadd: hasFma(p) && relaxedMaddFused(p.dtype) }));
  const modules = bytes.map((b) => new WebAssembly.Module(b));
  const kernels = modules.map((m) => instantiateFusedKernel(m, wasm));
  // Ask for the optimized code now (calls over 0 elements), not during the first steps (wasm/tier-up.ts).
  kernels.forEach((run, k) => requestTierUp(run, [0, ...pointers[k]], bytes[k].length));
  return { kernels, source: { kind: 'wasm', modules, importModule: 'env', importName: 'memory', exportName: FUSED_EXPORT } };
}

import { type Dtype, type FloatArray, roundTo } from '../core/dtype.js';
import { type SkipRule, builtInSkipRule } from '../transforms/skip-updates.js';
import { xlaVectorSumPlan } from '../core/xla-reduce-sum.js';
import { type ArithFormula, FormulaProgram } from '../schedules/program.js';
import type { ArrayLeaf } from '../tree/leaf.js';
import { OptaxError } from '../core/errors.js';
import type { ExtraArgs, GradientTransformation } from '../core/transformation.js';
import { advanceGuardCounters, allArraysFinite, guardApplies, nextNotfiniteCount } from '../transforms/apply-if-finite.js';
import { applyUpdates } from '../transforms/apply-updates.js';
import { decideSkip, emits, nextGradientStep, nextMiniStep, runningMeanFactor } from '../transforms/multi-steps.js';
import type { Params, Tree, Updates } from '../tree/tree.js';
import { ShapedArray } from '../tree/leaf.js';
import { broadcastInto } from '../tree/broadcast.js';
import { formatPath } from '../tree/path.js';
import { safeIncrement } from '../core/numerics.js';
import { type Accumulation, type DynamicSelection, type Guard, type Injection, type Island, type Stage, type StateNode, maskAll, rebindStages } from './analyze.js';
import { type Executor, type KernelBackend, StepFault } from './executor.js';
import { MIN_NORMAL, type SubnormalMode } from './subnormals.js';
import { withSubnormalMode } from '../kernel/interpret.js';
import { type ScalarSink, definitionScalars, scalarSink, writeDefinitionScalars } from '../kernel/elementwise.js';
import { type LeafSum, combineLeafSums, jsLeafSums } from './global-norm.js';
import type { GuardInput } from './guard-input.js';
import { CLIP_SCALARS, type GlobalNorm, type GlobalNormReduction, combinedDtype, writeCombinedLeafSums, writeLeafSums } from '../transforms/clip-by-global-norm.js';
import type { LeafTable } from './leaves.js';
import { checkSameLayout, copyArrays, detach, freezeContainers } from './opaque-state.js';
import { type StateLoad, planStateLoad, readState } from './state-io.js';
import { type ViewCopy, matchTree, performCopies } from './tree-io.js';

/** What runs a stepper's steps: a fused backend, or the reference path (`tx.update` + `applyUpdates`). */
export type StepperBackend = KernelBackend | 'reference';

/**
 * A compiled optimizer: parameters, gradients and state live in the engine's memory, and each
 * {@link Stepper.step} updates them in place. Created by {@link compile}.
 *
 * Every result is bit-identical to the pure path (`tx.update` then `applyUpdates`), parameters and
 * state alike, after every step, whichever backend and thread count runs it.
 */
export interface Stepper<P extends Params = Params, S = unknown> {
  /**
   * The parameters: typed-array views owned by the engine (same structure and leaf forms as given),
   * updated in place by each step. The tree is frozen: write into a leaf (`stepper.params.w.set(x)`);
   * assigning a leaf (`stepper.params.w = x`) throws a TypeError (in strict-mode code, i.e. every ES
   * module and TypeScript output) instead of being silently ignored.
   */
  readonly params: P;
  /**
   * Views shaped like the params to write the gradients into (zero-copy); `step()` reads them. Frozen
   * like {@link Stepper.params}: `stepper.grads.w.set(g)` (or `step(gradsTree)`), never
   * `stepper.grads.w = g`, which throws on every backend.
   */
  readonly grads: P;
  /**
   * The optimizer state, laid out exactly as `tx.init` / `tx.update` lay it out (usable with the pure
   * API), in frozen containers (assigning `stepper.state[0].count = 5` throws; load a state with
   * `stepper.state = s` or {@link Stepper.setState}). On a fused backend its per-element trees are
   * live views: they change with each step (copy them to keep a snapshot). On the reference path
   * each read is a copy: editing it changes nothing inside the stepper.
   */
  state: S;
  /**
   * Loads a state (e.g. from a checkpoint), validated first (layout, dtypes and shapes, and every step
   * counter a non-negative int32): an OptaxError names the first path that does not fit, and nothing
   * changes. The arrays are copied in: later edits of the caller's arrays do not reach the stepper.
   */
  setState(state: S): void;
  /**
   * One optimizer step: `params <- params + tx.update(grads, state, params, extraArgs)`. Without
   * `grads` it uses {@link Stepper.grads}; another tree is validated (structure, dtype and shape, an
   * OptaxError naming the path, before anything changes) and copied into `stepper.grads` first.
   *
   * A step is all-or-nothing, except when a worker thread fails during it: bad input, a throwing
   * schedule or mask function, a state that does not fit, all throw before anything changes. A
   * worker thread that exits or stops responding before it starts its share of a step (killed
   * between steps) wrote nothing: the calling thread runs that share itself once it notices (at once
   * for a worker known to have exited, else after `workerTimeout` ms), the step completes with the
   * same bits, and the stepper goes on on one thread (`threads` is then 1). So does a worker that
   * throws or exits (its exit hook ran) part-way through its share, when the stepper was compiled
   * with `workerJournal` (see {@link CompileOptions}): it is known to have stopped writing, so the
   * calling thread puts back what it was overwriting from its undo journal and finishes its share.
   * Without `workerJournal` that holds only where the worker stopped between kernel calls (or in the
   * global norm's pass, which writes no parameter or state).
   *
   * Otherwise the step stops part-way: a worker that throws or exits inside a kernel call without a
   * journal, or one that makes no progress for `workerTimeout` ms. A hung worker is never finished
   * for: it cannot be known to have stopped writing, since `worker.terminate()` is asynchronous (Node
   * was measured not to run a worker's `process.on('exit')` hook within 3 s of `terminate()` while
   * the calling thread blocks in `Atomics.wait`, Node 20 and 24). The parameters and state of the
   * leaves in the failed threads' shares may then be partly updated (the error names them) while the
   * step count did not advance, and the stepper is *broken*: every further `step`, `setState`,
   * `state` read or write throws an OptaxError without touching memory, and `threads` is 0. The views
   * stay readable; resume from your last checkpoint in a newly compiled stepper.
   *
   * A schedule, mask, labels or skip function that calls `step` or `setState` on this stepper while
   * its step runs gets an OptaxError (the outer step has already read the state); `dispose` there
   * lets the running step finish.
   */
  step(grads?: Updates, extraArgs?: ExtraArgs): void;
  /** The backend that runs the steps (`reference` when the transformation cannot be fused). */
  readonly backend: StepperBackend;
  /**
   * Threads a step runs on, the calling thread included (1 when the tree is small, memory cannot be
   * shared, workers could not start, or one died between steps; 0 once the stepper is disposed or broken: it runs no more
   * steps). In a browser page the workers start once the page's thread yields to its event loop;
   * steps before that run on the calling thread alone, with the same results.
   */
  readonly threads: number;
  /**
   * Why the transformation runs on the reference path (undefined when it is fused), or which groups
   * of a root `partition` run there while the others are fused (`backend` is then the fused one).
   */
  readonly referenceReason: string | undefined;
  /** Stops the worker threads. The views stay readable; `step` then throws. */
  dispose(): void;
}

/** The fused machinery of a stepper. @internal */
export interface FusedParts {
  readonly stages: readonly Stage[];
  readonly root: StateNode;
  readonly dynamic: readonly DynamicSelection[];
  /** applyIfFinite around the stages: the finiteness check and its counters. */
  readonly guard: Guard | undefined;
  /** MultiSteps around the stages: its counters, and its accumulator stage. */
  readonly accumulation: Accumulation | undefined;
  /** The injectHyperparams it runs itself (their own state, and the stages whose scalars they supply). */
  readonly injections: readonly Injection[];
  /** With a guard: whether every element of the gradient views is finite. */
  readonly gradsFinite: (() => boolean) | undefined;
  /** `stateViews[stage][j][leaf]`: the view of state leaf j of a stage at a parameter leaf. */
  readonly stateViews: readonly (readonly (readonly (FloatArray | undefined)[])[])[];
  /** `stateTrees[stage][j]`: the tree of those views, laid out like the stage's state tree. */
  readonly stateTrees: readonly (readonly Tree[])[];
  /** `arrayScalarViews[stage][j][leaf]`: the stream of the stage's array scalar j at a leaf. */
  readonly arrayScalarViews: readonly (readonly (readonly (FloatArray | undefined)[])[])[];
  readonly executor: Executor;
  /** The scalar block. */
  readonly scalars: Float64Array;
  /** The stages run with optax's traced numerics (inside `lax.cond`): their schedules are traced too. */
  readonly traced: boolean;
  /** Whether a stage is clip_by_global_norm at the start (its norm is reduced before the pass). */
  readonly normFirst: boolean;
  /** A nested applyIfFinite's finiteness check of the updates it receives. */
  readonly guardInput: GuardInput | undefined;
  /** The root partition's groups that run on the reference path. */
  readonly islands: readonly Island[];
  /** The sum of squares of each gradient leaf, for clip_by_global_norm at the start of the chain. */
  readonly leafSum: LeafSum;
  /** Per stage: its kernel's scalar names, and their slots for each of its dtypes. */
  readonly scalarPlans: readonly { readonly names: readonly string[]; readonly slots: readonly (readonly number[])[] }[];
}

/** Everything compile() assembled. @internal */
export interface StepperParts {
  readonly tx: GradientTransformation<unknown>;
  readonly table: LeafTable;
  readonly buffer: ArrayBufferLike;
  readonly params: Tree;
  readonly grads: Tree;
  readonly paramViews: readonly FloatArray[];
  readonly gradViews: readonly FloatArray[];
  /** The dtype of each leaf, in flattening order. */
  readonly leafDtypes: readonly Dtype[];
  readonly fused: FusedParts | undefined;
  readonly referenceReason: string | undefined;
  /** `fallback: 'error'`: a fused step that would have to run on the reference path throws instead. */
  readonly strict?: boolean;
  /** The subnormal mode compiled for: the reference path runs in it too. */
  readonly subnormals?: SubnormalMode;
  /** The state, on the reference path. */
  readonly referenceState: unknown;
}

const NO_COPIES: readonly ViewCopy[] = Object.freeze([]);

/** Whether a record has no own keys (counted without allocating). */
function isEmptyRecord(record: object): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return false;
  return true;
}

/** A stage's scalar sinks: see CompiledStepper.sinksFor. */
interface StageSinks {
  readonly names: readonly string[];
  readonly index: Int32Array;
  readonly sinks: readonly ScalarSink[];
}
/** A mask or labels function threw: the reference path runs the step, and throws what optax would. */
const SELECTION_THREW = 'a mask or labels function threw';

const cleanup = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<Executor>((e) => e.dispose()) : undefined;

/** @internal */
export class CompiledStepper<P extends Params, S> implements Stepper<P, S> {
  readonly params: P;
  readonly grads: P;
  private referenceState: unknown;
  private disposed = false;
  /**
   * A step is running: a schedule, mask, labels or skip function it calls that steps this stepper
   * again, or loads a state into it, is refused (the outer step has read the state and computed its
   * scalars already: the two would interleave into a state no sequence of steps gives).
   */
  private stepping = false;
  /** Why the stepper is broken (a step failed part-way), or undefined. */
  private broken: string | undefined;

  constructor(private readonly parts: StepperParts) {
    this.params = freezeContainers(parts.params) as P;
    this.grads = freezeContainers(parts.grads) as P;
    this.referenceState = parts.referenceState;
    this.normDtype = combinedDtype(parts.leafDtypes);
    if (parts.fused) cleanup?.register(this, parts.fused.executor, this);
  }

  /** Throws when the stepper is broken (or, with `orDisposed`, disposed): nothing is touched then. */
  private checkUsable(what: string, orDisposed: boolean): void {
    if (this.broken !== undefined) throw new OptaxError(`${what}: this stepper is broken (${this.broken}); compile a new one from a checkpoint`);
    if (orDisposed && this.disposed) throw new OptaxError(`${what}: this stepper was disposed`);
  }

  get backend(): StepperBackend {
    return this.parts.fused ? this.parts.fused.executor.backend : 'reference';
  }

  get threads(): number {
    if (this.disposed || this.broken !== undefined) return 0;
    return this.parts.fused ? this.parts.fused.executor.threads : 1;
  }

  get referenceReason(): string | undefined {
    return this.parts.referenceReason;
  }

  get state(): S {
    this.checkUsable('state', false);
    const f = this.parts.fused;
    if (f) syncRecords(this.formulas);
    // Fused: fresh containers around the live views. Reference: a copy (the stepper keeps its own).
    return freezeContainers(f ? readState(f.root, f.stages, f.stateTrees, f) : copyArrays(this.referenceState)) as S;
  }

  /** The state as the step computes with it (not copied: `update` does not modify its input). */
  private currentState(): unknown {
    const f = this.parts.fused;
    if (f) syncRecords(this.formulas);
    return f ? readState(f.root, f.stages, f.stateTrees, f) : this.referenceState;
  }

  set state(state: S) {
    this.setState(state);
  }

  setState(state: S): void {
    this.checkUsable('setState', false);
    this.checkNotStepping('setState');
    const f = this.parts.fused;
    if (f) {
      this.commitState(planStateLoad(f.root, f.stages, this.parts.table, state, f), []);
    } else {
      checkSameLayout(this.referenceState, state);
      this.referenceState = copyArrays(state);
    }
  }

  step(grads?: Updates, extraArgs?: ExtraArgs): void {
    this.checkUsable('step', true);
    this.checkNotStepping('step');
    this.stepping = true;
    try {
      this.runStep(grads, extraArgs);
    } finally {
      this.stepping = false;
    }
  }

  /** Throws when called from inside a step of this stepper (see {@link CompiledStepper.stepping}). */
  private checkNotStepping(what: string): void {
    if (this.stepping) throw new OptaxError(`${what}: called while a step of this stepper is running (from a schedule, mask, labels or skip function it calls); call it after the step returns`);
  }

  private runStep(grads: Updates | undefined, extraArgs: ExtraArgs | undefined): void {
    const p = this.parts;
    const input = grads === undefined || grads === p.grads ? p.grads : grads;
    const gradCopies = input === p.grads ? NO_COPIES : this.gradCopies(input);
    const f = p.fused;
    // applyIfFinite: the inner stages run only on finite gradients (or past too many bad steps).
    // A global norm over the gradients in the arena is computed first: when it is finite, every
    // gradient is (a NaN or an infinity makes the sum of squares NaN or infinite), and applyIfFinite's
    // own pass over them is not needed.
    // The norm goes to this.normCells[0] (of dtype this.normDtype): nothing is allocated.
    const normKnown = f !== undefined && f.normFirst && input === p.grads;
    if (normKnown) this.writeGradNorm(f);
    // A nested applyIfFinite checks the updates it receives (guard-input.ts); a skipped step is its
    // skip pass, the stages after it still running.
    const nested = f?.guard?.nested;
    const finite = !f?.guard ? true
      : nested ? this.nestedGuardFinite(f, input, gradCopies, normKnown ? { value: this.normCells[0], dtype: this.normDtype } : undefined)
        : (normKnown && this.normCells[0] - this.normCells[0] === 0) || this.gradsFinite(input, gradCopies);
    // The guard's counters advance in place once the step cannot fail any more (nothing allocated).
    const guard = f?.guard;
    const applied = !guard || guardApplies(nextNotfiniteCount(guard.counters, finite), finite, guard.maxConsecutiveErrors);
    const skipped = nested && !applied ? nested : undefined;
    if (guard && !applied && !nested) {
      // A skipped step: optax applies zero updates (p + 0 turns -0 into +0) and keeps the inner state.
      this.applyZeroUpdates(gradCopies);
      advanceGuardCounters(guard.counters, guard.counters, finite);
      return;
    }
    if (!f) {
      this.referenceStep(input, gradCopies, extraArgs);
      return;
    }
    // MultiSteps: k for this step, the skip decision (both may throw, before anything changes), the
    // pass (emit or accumulate) and the counters after it.
    const acc = f.accumulation;
    // Its counters after this step, as numbers (written into its control in place at the end).
    let emit = true, miniStep = 0, gradientStep = 0;
    let skipState: unknown;
    // A built-in skip function over the gradients in the engine's memory: its state is written in place at the end.
    let ownSkip: SkipRule | undefined;
    if (acc) {
      const c = acc.combinator, ctl = acc.control;
      const k = c.everyK(ctl.gradient_step);
      // (In XLA's subnormal mode the skip function runs as given, in that mode, as the reference runs it.)
      ownSkip = input === p.grads && p.subnormals !== 'flush' ? builtInSkipRule(c.shouldSkip) : undefined;
      if (ownSkip) {
        if (this.builtInSkip(f, ownSkip)) {
          this.applyZeroUpdates(gradCopies);
          writeOwnSkipState(acc, ownSkip, true, this.skipCells);
          return;
        }
      } else if (c.shouldSkip) {
        const [skip, next] = p.subnormals === 'flush'
          ? withSubnormalMode(true, () => decideSkip(c.shouldSkip!, input, ctl.gradient_step, p.params))
          : decideSkip(c.shouldSkip, input, ctl.gradient_step, p.params);
        if (skip) {
          this.applyZeroUpdates(gradCopies);
          ctl.skip_state = next;
          return;
        }
        skipState = next;
      } else skipState = ctl.skip_state;
      emit = emits(ctl.mini_step, k);
      miniStep = nextMiniStep(ctl.mini_step, k);
      gradientStep = nextGradientStep(ctl.gradient_step, emit);
      this.writeAccumulatorScalars(f, acc, ctl.mini_step);
    }
    // The inner stages' state advances at every step, or with MultiSteps only when it emits.
    const advances = emit;
    // injectHyperparams: this step's hyperparameters (a schedule may throw here, before anything changes).
    // An injection whose hyperparameters are the record its last step made (no schedule, nothing set
    // since) only counts this step: its hyperparameters and inner transformation stay as they are.
    // A scheduled one whose stages compute their scalars from its hyperparameters (formulas) evaluates
    // its schedules only: nothing is rebuilt (see InjectionFormulas).
    const byFormulas = f.injections.length > 0 && !this.injectionsSteady(f) && this.formulasHold(f);
    const injected = f.injections.length && !byFormulas && !this.injectionsSteady(f) ? injectionSteps(f, this.formulas) : undefined;
    const unfused = (injected && this.rebind(f, injected)) ?? this.selectionsHold(f, input) ?? this.writeScalars(f, extraArgs, skipped?.inner, byFormulas);
    if (unfused !== undefined) {
      if (p.strict && unfused !== SELECTION_THREW) throw new OptaxError(`step: this step cannot run fused (${unfused}), and the stepper was compiled with fallback: 'error'`);
      this.referenceStep(input, gradCopies, extraArgs);
      return;
    }
    // Partition groups on the reference path: their updates (and new state) first; an error there
    // changes nothing either. Their updates are copied into their streams with the gradients.
    const islands = f.islands.length ? this.islandSteps(f, input, extraArgs) : undefined;
    if (islands) performCopies([...gradCopies, ...islands.copies], p.buffer);
    else if (gradCopies.length) performCopies(gradCopies, p.buffer);
    if (f.normFirst) {
      if (!normKnown) this.writeGradNorm(f);
      this.writeNormScalars(f, byFormulas);
    }
    try {
      f.executor.run(advances && !skipped ? 0 : 1);
    } catch (e) {
      throw this.breakDown(e);
    }
    if (advances) {
      for (let k = 0; k < f.stages.length; k++) {
        const stage = f.stages[k];
        // A skipped applyIfFinite keeps its inner state.
        if (stage.source.kind === 'elementwise' && !skipped?.inner.includes(k)) stage.control = stage.source.def.advance(stage.control);
      }
      if (injected) {
        this.steadyHyperparams = commitInjections(f, injected);
        this.formulas = formulasOf(f);
      } else if (byFormulas) commitFormulas(f, this.formulas as readonly InjectionFormulas[]);
      else {
        for (let k = 0; k < f.injections.length; k++) f.injections[k].control.count = safeIncrement(f.injections[k].control.count);
      }
    }
    if (islands) commitIslands(f, islands.states);
    if (guard) advanceGuardCounters(guard.counters, guard.counters, finite);
    if (acc) {
      const ctl = acc.control;
      ctl.mini_step = miniStep;
      ctl.gradient_step = gradientStep;
      if (ownSkip) writeOwnSkipState(acc, ownSkip, false, this.skipCells);
      else ctl.skip_state = skipState;
    }
  }

  /**
   * A built-in skip function (skip-updates.ts) on the gradients in the engine's memory, as it computes
   * on them: whether to skip; its state's number (`num_not_finite`, `norm_squared`) goes to
   * this.skipCells[0]. Nothing is allocated: the leaf sums are the engine's (global-norm.ts, as
   * clip_by_global_norm's), read through cells.
   */
  private builtInSkip(f: FusedParts, rule: SkipRule): boolean {
    const views = this.parts.gradViews, cells = this.skipCells;
    if (rule.kind === 'not_finite') {
      let count = 0;
      for (let leaf = 0; leaf < views.length; leaf++) {
        const view = views[leaf];
        // x - x is 0 for a finite x, NaN for an infinity or a NaN.
        for (let i = 0; i < view.length; i++) if (view[i] - view[i] !== 0) count++;
      }
      cells[0] = count;
      return count > 0;
    }
    const large = this.largeUpdates ??= largeUpdatesPlan(this.parts.leafDtypes, rule.maxSquaredNorm);
    writeLeafSums(this.parts.leafDtypes, f.leafSum, large.sums);
    // skip_large_updates' `jnp.sum(jnp.array(sums))`, in the highest dtype of the leaves (each sum exact in it).
    large.total.into(cells, 0);
    return !(cells[0] < large.max);
  }

  /** skipNotFinite's count or skipLargeUpdates' squared norm of this step ([0]). */
  private readonly skipCells = new Float64Array(1);
  /** skipLargeUpdates' sums and their total (made at its first step). */
  private largeUpdates: LargeUpdatesPlan | undefined;

  /**
   * A nested applyIfFinite: whether the updates it receives are finite (its gradients, clipped where
   * clip_by_global_norm runs before it), from the engine's views or the arrays about to be copied in
   * (in leaf order, as matchTree lists them).
   */
  private nestedGuardFinite(f: FusedParts, input: Updates, copies: readonly ViewCopy[], norm: GlobalNorm | undefined): boolean {
    const p = this.parts;
    const grads = input === p.grads ? p.gradViews : copies.map((c) => c.src);
    const n = f.normFirst ? norm ?? (input === p.grads ? this.gradNorm(f) : combineLeafSums(p.leafDtypes, jsLeafSums(grads, p.table.leaves.map((l) => l.shape), p.subnormals === 'flush'))) : undefined;
    return f.guardInput!.finite((i) => grads[i], n, p.subnormals === 'flush');
  }

  /**
   * Runs each partition group that is not fused on the reference path (`masked(transform, labels ==
   * label).update`, in the stepper's subnormal mode), on the gradient tree and the params: the copies
   * of its updates into its stream, and its new state (detached from the stepper's memory and the
   * caller's arrays). Throws before anything changes, as the reference would.
   */
  private islandSteps(f: FusedParts, input: Updates, extraArgs: ExtraArgs | undefined): { copies: ViewCopy[]; states: unknown[] } {
    const p = this.parts;
    const copies: ViewCopy[] = [];
    const states = f.islands.map((island) => {
      const [u, s] = withSubnormalMode(p.subnormals === 'flush', () => island.tx.update(input, { inner_state: island.state }, p.params, extraArgs));
      if (island.stage !== undefined) {
        const views = f.stateViews[island.stage][0];
        for (const c of matchTree(p.table, p.table.indexTree, u, 'updates')) if (views[c.leaf]) copies.push({ dst: views[c.leaf]!, src: c.data });
      }
      return copyArrays((s as { inner_state: unknown }).inner_state);
    });
    return { copies, states };
  }

  /** Whether every gradient is finite: the engine's views, or the arrays about to be copied in. */
  private gradsFinite(input: Updates, copies: readonly ViewCopy[]): boolean {
    const check = this.parts.fused?.gradsFinite;
    return input === this.parts.grads && check ? check() : allArraysFinite(input === this.parts.grads ? this.parts.gradViews : copies.map((c) => c.src));
  }

  /**
   * The global norm of the gradients in the engine's memory (global-norm.ts). Its first level may run
   * on the worker threads: a thread that fails there breaks the stepper like a failed pass (nothing
   * was written yet).
   */
  private gradNorm(f: FusedParts): GlobalNorm {
    this.writeGradNorm(f);
    return { value: this.normCells[0], dtype: this.normDtype };
  }

  /** The same written to this.normCells[0] (nothing allocated: the per-step form). */
  private writeGradNorm(f: FusedParts): void {
    try {
      writeCombinedLeafSums(this.parts.leafDtypes, f.leafSum, this.normCells);
    } catch (e) {
      throw e instanceof StepFault ? this.breakDown(e) : e;
    }
  }

  /**
   * A fused pass failed part-way and could not be completed (executor.ts's StepFault: a hung worker,
   * a trap on this thread, or a worker that stopped inside a call it kept no journal for): the
   * stepper is broken for good, and the error names the leaves whose params and state may be partly
   * written.
   */
  private breakDown(e: unknown): OptaxError {
    const leaves = e instanceof StepFault ? e.leaves : this.parts.table.leaves.map((l) => l.index);
    const names = leaves.slice(0, 8).map((i) => formatPath(this.parts.table.leaves[i].path, 'params'));
    const listed = leaves.length === 0 ? 'no leaf' : `${names.join(', ')}${leaves.length > names.length ? ` and ${leaves.length - names.length} more leaves` : ''}`;
    const why = e instanceof Error ? e.message : String(e);
    this.broken = `a step failed part-way: ${why}`;
    this.parts.fused?.executor.dispose();
    return new OptaxError(`step: the step failed part-way (${why}): the params and state of ${listed} may be partly updated, and the step count did not advance. This stepper is now broken: every further step, setState and state access throws; its views stay readable. Compile a new stepper from a checkpoint`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.parts.fused?.executor.dispose();
    cleanup?.unregister(this);
  }

  private gradCopies(grads: Updates): ViewCopy[] {
    const views = this.parts.gradViews;
    return matchTree(this.parts.table, this.parts.table.indexTree, grads, 'grads').map((c) => ({ dst: views[c.leaf], src: c.data }));
  }

  /**
   * `p + 0` on every parameter (a skipped step: -0 becomes +0), after copying the gradients in. In
   * XLA's subnormal mode a subnormal `p` is read as a zero, so it becomes +0 too.
   */
  private applyZeroUpdates(gradCopies: readonly ViewCopy[]): void {
    if (gradCopies.length) performCopies(gradCopies, this.parts.buffer);
    const flush = this.parts.subnormals === 'flush';
    const views = this.parts.paramViews;
    for (let leaf = 0; leaf < views.length; leaf++) {
      const view = views[leaf], min = flush ? MIN_NORMAL[this.parts.leafDtypes[leaf]] : 0;
      for (let i = 0; i < view.length; i++) view[i] = Math.abs(view[i]) < min ? 0 : view[i] + 0;
    }
  }

  /** MultiSteps' scalars: `r = 1 / (n + 1)` in each dtype (the running mean) and the `zero` it multiplies by. */
  private writeAccumulatorScalars(f: FusedParts, acc: Accumulation, miniStep: number): void {
    const stage = f.stages[acc.stage], plan = f.scalarPlans[acc.stage];
    for (let d = 0; d < stage.dtypes.length; d++) {
      for (let j = 0; j < plan.names.length; j++) f.scalars[plan.slots[d][j]] = plan.names[j] === 'r' ? runningMeanFactor(miniStep, stage.dtypes[d]) : 0;
    }
  }

  /**
   * Per injection: the hyperparameters record its last step made when it has no schedule (then a
   * step with the same record gives the same hyperparameters and inner transformation; setState
   * brings another record), else undefined.
   */
  private steadyHyperparams: readonly (object | undefined)[] = [];

  /** Every injection's hyperparameters are those of its last step, with no schedule (see steadyHyperparams). */
  private injectionsSteady(f: FusedParts): boolean {
    if (this.steadyHyperparams.length !== f.injections.length) return false;
    for (let k = 0; k < f.injections.length; k++) if (this.steadyHyperparams[k] === undefined || f.injections[k].control.hyperparams !== this.steadyHyperparams[k]) return false;
    return true;
  }

  /** Per injection: its formulas (built after a step that rebuilt its inner transformation), or null. */
  private formulas: readonly (InjectionFormulas | null)[] = [];

  /** Per stage: its formulas, where an injection's formulas cover it. */
  private get stageFormulas(): readonly (StageFormula | undefined)[] {
    this.indexFormulas();
    return this.stageFormulasCache;
  }
  /** Per stage: its injected max_norm, where an injection's formulas cover a clip_by_global_norm. */
  private get normFormulas(): readonly (NormFormula | undefined)[] {
    this.indexFormulas();
    return this.normFormulasCache;
  }
  private indexFormulas(): void {
    if (this.stageFormulasOf === this.formulas) return;
    const out: (StageFormula | undefined)[] = [], norms: (NormFormula | undefined)[] = [];
    for (const form of this.formulas) {
      for (const s of form?.stages ?? []) out[s.stage] = s;
      for (const n of form?.norms ?? []) norms[n.stage] = n;
    }
    this.stageFormulasOf = this.formulas;
    this.stageFormulasCache = out;
    this.normFormulasCache = norms;
  }
  private stageFormulasOf: unknown;
  private stageFormulasCache: readonly (StageFormula | undefined)[] = [];
  private normFormulasCache: readonly (NormFormula | undefined)[] = [];

  /**
   * Every injection can take this step by its formulas: its hyperparameters are the record its last
   * step made (nothing set since) and its stages still have the definitions the formulas were made for.
   * Then each schedule is evaluated into the formulas' inputs (a schedule may throw here, before
   * anything changes).
   */
  private formulasHold(f: FusedParts): boolean {
    if (this.formulas.length !== f.injections.length) return false;
    for (let k = 0; k < f.injections.length; k++) {
      const form = this.formulas[k], inj = f.injections[k];
      if (form === null || form.record !== inj.control.hyperparams) return false;
      for (let j = 0; j < form.stages.length; j++) {
        const source = f.stages[form.stages[j].stage].source;
        if (source.kind !== 'elementwise' || source.def !== form.stages[j].def) return false;
      }
      for (let j = 0; j < form.norms.length; j++) {
        const source = f.stages[form.norms[j].stage].source;
        if (source.kind !== 'globalNorm' || source.reduction !== form.norms[j].reduction) return false;
      }
    }
    for (let k = 0; k < f.injections.length; k++) {
      const form = this.formulas[k]!, inj = f.injections[k];
      inj.combinator.writeScheduled(form.scheduled, inj.control, inj.dtype, f.traced);
      // A value its factory would reject: this step rebuilds the transformation, which throws it.
      for (let c = 0; c < form.checks.length; c++) if (!form.checks[c].accepts(form.scheduled, form.checks[c].at)) return false;
    }
    for (let k = 0; k < f.injections.length; k++) {
      const form = this.formulas[k]!;
      // The fixed values are the record's, which only these steps change (its scheduled values): set once.
      const inputs = form.inputs, fixed = form.fixed;
      for (let j = 0; j < form.scheduled.length; j++) inputs[fixed + j] = form.scheduled[j];
    }
    return true;
  }

  /** The stages of each injectHyperparams take their scalars from the inner transformation of this step. */
  private rebind(f: FusedParts, injected: readonly { inner: GradientTransformation<any> }[]): string | undefined {
    for (let k = 0; k < injected.length; k++) {
      const inj = f.injections[k];
      if (injected[k].inner === inj.inner) continue;
      const why = rebindStages(inj, f.stages, injected[k].inner);
      if (why) return why;
    }
    return undefined;
  }

  /**
   * Mask and label functions still select the compiled leaves (undefined), else why not: this step
   * then runs on the reference path.
   */
  private selectionsHold(f: FusedParts, grads: Updates): string | undefined {
    // Indexed, and nothing listed: this runs at every step, and allocates nothing on the plain path.
    for (let k = 0; k < f.dynamic.length; k++) {
      const d = f.dynamic[k];
      let holds: boolean;
      try {
        // A fixed tree's check reads no input (masking the gradients would allocate).
        holds = d.holds(d.fixed ? grads : maskAll(grads, d.enclosing));
      } catch {
        return SELECTION_THREW; // the reference path reports the error
      }
      if (!holds) return `a mask or labels ${d.fixed ? 'tree changed since compile: it' : 'function'} selects other leaves than at compile time`;
    }
    return undefined;
  }

  /**
   * Computes every stage's scalars for this step into the scalar block, exactly as each stage's
   * `update` would (same control state, dtypes, extra arguments). Why not, when a scalar is not a
   * number (a broadcast array) or not of the dtype: such a step runs on the reference path.
   */
  private writeScalars(f: FusedParts, extraArgs: ExtraArgs | undefined, skipped: readonly number[] | undefined, byFormulas: boolean): string | undefined {
    const S = f.scalars;
    for (let k = 0; k < f.stages.length; k++) {
      const stage = f.stages[k];

      if (stage.source.kind === 'guard') {
        // A nested applyIfFinite's `zero`, in each of its dtypes.
        for (const slots of f.scalarPlans[k].slots) for (const slot of slots) S[slot] = 0;
        continue;
      }
      // The stages of a skipped applyIfFinite do not run (optax does not call their update).
      if (stage.source.kind !== 'elementwise' || skipped?.includes(k)) continue;
      const formula = byFormulas ? this.stageFormulas[k] : undefined;
      if (formula !== undefined) {
        // An injected stage: its scalars from the injection's hyperparameters of this step.
        const count = stage.control.count;
        for (let d = 0; d < formula.programs.length; d++) formula.programs[d].writeInto(formula.injection.inputs, typeof count === 'number' ? count : 0, S, f.scalarPlans[k].slots[d]);
        continue;
      }
      const def = stage.source.def;
      const plan = f.scalarPlans[k];
      const sinks = def.writeScalars && def.scalarNames ? this.sinksFor(k, def.scalarNames, plan.names, stage.dtypes.length) : undefined;
      for (let d = 0; d < stage.dtypes.length; d++) {
        const f32 = stage.dtypes[d] === 'float32';
        const slots = plan.slots[d];
        let values: Readonly<Record<string, unknown>> | undefined;
        let sink: ScalarSink | undefined;
        if (sinks) {
          // The definition writes into a sink the stepper keeps: nothing is allocated.
          sink = sinks.sinks[d];
          writeDefinitionScalars(def, sink, def.scalarNames!, stage.control, stage.dtypes[d], extraArgs, stage.traced);
        } else values = definitionScalars(def, stage.control, stage.dtypes[d], extraArgs, stage.traced);
        for (let j = 0; j < plan.names.length; j++) {
          let v: unknown;
          if (sink) {
            const at = sinks!.index[j];
            if (at < 0 || sink.arrays[at] !== undefined) return `${stage.name}: hyperparameter '${plan.names[j]}' is not a number`;
            v = sink.values[at];
          } else v = values![plan.names[j]];
          if (typeof v !== 'number') return `${stage.name}: hyperparameter '${plan.names[j]}' is not a number`;
          // Scalars come rounded to the dtype; one that is not (a definition breaking that contract)
          // would be used unrounded by a fused kernel where the reference rounds it on its first store.
          if (f32 && Math.fround(v) !== v && v === v) return `${stage.name}: scalar '${plan.names[j]}' is not rounded to float32`;
          S[slots[j]] = v;
        }
        const arrays = stage.arrayScalars;
        if (arrays) {
          const why = this.writeArrayScalars(f, k, stage.dtypes[d], arrays, sink ? sinkValue(sink, def.scalarNames!) : (name) => values![name]);
          if (why !== undefined) return why;
        }
      }
    }
    return undefined;
  }

  /**
   * A stage's array scalars (broadcast hyperparameters) of this step, broadcast into their streams at
   * each of its leaves of `dtype` (a number fills them). Why not, when a value is not of the dtype
   * (the reference would compute with it unrounded). A shape that does not broadcast throws the
   * reference path's OptaxError: only these scratch streams were written, nothing the step changes.
   */
  private writeArrayScalars(f: FusedParts, k: number, dtype: Dtype, names: readonly string[], valueOf: (name: string) => unknown): string | undefined {
    const stage = f.stages[k], table = this.parts.table;
    for (let j = 0; j < names.length; j++) {
      const v = valueOf(names[j]);
      const data = typeof v === 'number' ? undefined : v instanceof ShapedArray ? v.data : null;
      if (data === null) return `${stage.name}: hyperparameter '${names[j]}' is neither a number nor an array`;
      if (dtype === 'float32' && !(data ? data instanceof Float32Array || everyFloat32(data) : Math.fround(v as number) === v || v !== v)) {
        return `${stage.name}: array hyperparameter '${names[j]}' is not rounded to float32`;
      }
      // Most array hyperparameters are the same at every step (b1, eps): their streams are kept.
      const shape = data ? (v as ShapedArray).shape : SCALAR_SHAPE;
      const key = `${k}:${j}:${dtype}`;
      const last = this.lastArrays.get(key);
      if (last && sameValues(last, data ?? (v as number), shape)) continue;
      this.lastArrays.delete(key);
      const views = f.arrayScalarViews[k][j];
      for (const i of stage.leaves) {
        const leaf = table.leaves[i];
        if (leaf.dtype !== dtype) continue;
        if (data) broadcastInto(data, shape, leaf.shape, views[i]!, leaf.path, `hyperparameter '${names[j]}'`);
        else views[i]!.fill(v as number);
      }
      this.lastArrays.set(key, { values: data ? Float64Array.from(data) : Float64Array.of(v as number), shape: [...shape] });
    }
    return undefined;
  }

  /** The values last broadcast into each array-scalar stream (key `${stage}:${scalar}:${dtype}`). */
  private readonly lastArrays = new Map<string, { readonly values: Float64Array; readonly shape: readonly number[] }>();

  /**
   * Stage k's scalar sinks (one per dtype) and, for each scalar its kernel reads, its index among the
   * definition's `scalarNames`: made once (again only when injectHyperparams rebinds the stage to a
   * definition with other names).
   */
  private sinksFor(k: number, names: readonly string[], read: readonly string[], dtypes: number): StageSinks {
    let entry = this.stageSinks[k];
    if (entry === undefined || entry.names !== names) {
      entry = { names, index: Int32Array.from(read, (n) => names.indexOf(n)), sinks: Array.from({ length: dtypes }, () => scalarSink(names.length)) };
      this.stageSinks[k] = entry;
    }
    return entry;
  }

  /** Per stage: see {@link CompiledStepper.sinksFor}. */
  private readonly stageSinks: (StageSinks | undefined)[] = [];

  /**
   * clip_by_global_norm at the start: the norm of the gradients, reduced in optax's order
   * (global-norm.ts), then the scalars of its stages (one or two: see analyze.ts).
   */
  private writeNormScalars(f: FusedParts, byFormulas: boolean): void {
    // Through typed arrays, indexed loops: this runs at every step and allocates nothing.
    const out = this.clipScalars;
    for (let k = 0; k < f.stages.length; k++) {
      const stage = f.stages[k];
      if (stage.source.kind !== 'globalNorm') continue;
      const plan = f.scalarPlans[k];
      // Injected: [the norm, the max_norm of the step] (see InjectionFormulas.norms).
      const injected = byFormulas ? this.normFormulas[k] : undefined;
      if (injected !== undefined) {
        this.injectedNorm[0] = this.normCells[0];
        this.injectedNorm[1] = injected.injection.inputs[injected.at];
      }
      for (let d = 0; d < stage.dtypes.length; d++) {
        if (injected !== undefined) stage.source.reduction.injectable.writeScalars(this.injectedNorm, this.normDtype, stage.dtypes[d], out);
        else stage.source.reduction.writeScalars(this.normCells, this.normDtype, stage.dtypes[d], out);
        for (let j = 0; j < plan.names.length; j++) f.scalars[plan.slots[d][j]] = out[CLIP_SCALARS.indexOf(plan.names[j] as typeof CLIP_SCALARS[number])];
      }
    }
  }

  /** An injected clip_by_global_norm's [norm, max_norm] of the step. */
  private readonly injectedNorm = new Float64Array(2);
  /** The global norm of clip_by_global_norm at the start ([0]; [1] is scratch), see writeCombinedLeafSums. */
  private readonly normCells = new Float64Array(2);
  /** The norm's dtype: float64 once a leaf is. */
  private readonly normDtype: Dtype;
  /** clip_by_global_norm's scalars, in CLIP_SCALARS order. */
  private readonly clipScalars = new Float64Array(CLIP_SCALARS.length);

  /**
   * The reference path: `tx.update` and `applyUpdates` on the views, every result validated, then
   * everything copied in at once (so an error changes nothing).
   */
  private referenceStep(grads: Updates, gradCopies: readonly ViewCopy[], extraArgs: ExtraArgs | undefined): void {
    const p = this.parts;
    // In the mode the stepper was compiled for (its fused kernels' mode), whatever the caller's.
    const [updates, next, newParams] = withSubnormalMode(p.subnormals === 'flush', () => {
      const [u, s] = p.tx.update(grads, this.currentState(), p.params, extraArgs);
      return [u, s, applyUpdates(p.params, u)] as const;
    });
    const paramCopies = matchTree(p.table, p.table.indexTree, newParams, 'params').map((c) => ({ dst: p.paramViews[c.leaf], src: c.data }));
    if (p.fused) {
      const load = planStateLoad(p.fused.root, p.fused.stages, p.table, next, p.fused);
      this.commitState(load, [...gradCopies, ...paramCopies]);
    } else {
      checkSameLayout(this.referenceState, next);
      // Detach before copying: the new state may hold views the copies are about to overwrite, or
      // the caller's gradient arrays (which the caller may change later).
      const foreign = new Set<unknown>(gradCopies.map((c) => c.src));
      const detached = detach(next, (data) => data.buffer === p.buffer || foreign.has(data));
      performCopies([...gradCopies, ...paramCopies], p.buffer);
      this.referenceState = detached;
    }
  }

  /** Loads a validated state, together with other copies, as one batch. */
  private commitState(load: StateLoad, other: readonly ViewCopy[]): void {
    const f = this.parts.fused!;
    const copies: ViewCopy[] = [...other];
    for (const { stage, leafName, copies: leafCopies } of load.copies) {
      const views = f.stateViews[stage][f.stages[stage].stateLeaves.indexOf(leafName)];
      for (const c of leafCopies) copies.push({ dst: views[c.leaf]!, src: c.data });
    }
    performCopies(copies, this.parts.buffer);
    for (const [k, control] of load.controls) f.stages[k].control = control;
    if (f.guard && load.guard) f.guard.counters = load.guard;
    for (const [k, control] of load.injections) f.injections[k].control = control;
    if (f.accumulation && load.accumulation) f.accumulation.control = load.accumulation;
    for (const [k, state] of load.islands) f.islands[k].state = state;
  }
}

/*
 * The rare parts of a step, as functions of their own: a closure in `step` that captures one of its
 * locals makes V8 allocate a context for them at every call once that path has run (after the first
 * setHyperparams, say), even on the steps that do not take it (issue 10).
 */

/** Each injection's step (its hyperparameters, inner transformation and control for this step). */
function injectionSteps(f: FusedParts, formulas: readonly (InjectionFormulas | null)[]): ReturnType<Injection['combinator']['step']>[] {
  syncRecords(formulas);
  return f.injections.map((inj) => inj.combinator.step(inj.control, inj.dtype, f.traced));
}

/** Keeps each injection's new control; returns the hyperparameters records that make a later step steady. */
function commitInjections(f: FusedParts, injected: readonly { readonly control: Injection['control'] }[]): (object | undefined)[] {
  injected.forEach((next, k) => { f.injections[k].control = next.control; });
  return f.injections.map((inj) => (isEmptyRecord(inj.control.hyperparams_states) ? inj.control.hyperparams : undefined));
}

/** The total of skipLargeUpdates' leaf sums, in the highest dtype of the leaves, and the bound it is compared with. */
interface LargeUpdatesPlan {
  readonly sums: Float64Array;
  readonly total: { into(cells: Float64Array, at: number): void };
  readonly max: number;
}

function largeUpdatesPlan(dtypes: readonly Dtype[], maxSquaredNorm: number): LargeUpdatesPlan {
  const dtype = combinedDtype(dtypes);
  const sums = new Float64Array(dtypes.length);
  return { sums, total: xlaVectorSumPlan(dtype, sums), max: roundTo(dtype, maxSquaredNorm) };
}

/**
 * A built-in skip function's state after a fused step, written into the stepper's own object (made
 * at the first such step, or when the rule changes): the state getter copies it.
 */
function writeOwnSkipState(acc: Accumulation, rule: SkipRule, skip: boolean, cells: Float64Array): void {
  let own = acc.ownSkipState;
  if (own === undefined || own.rule !== rule.kind) {
    // Made with a double where one goes (a field that starts as a small integer changes its
    // representation, and the object its hidden class, at the first fractional value).
    own = rule.kind === 'not_finite' ? { rule: 'not_finite', state: { should_skip: skip, num_not_finite: 0 } } : { rule: 'large_updates', state: { should_skip: skip, norm_squared: 0.5 } };
    acc.ownSkipState = own;
  }
  if (own.rule === 'not_finite') {
    own.state.should_skip = skip;
    own.state.num_not_finite = cells[0];
  } else {
    own.state.should_skip = skip;
    own.state.norm_squared = cells[0];
  }
  acc.control.skip_state = own.state;
}

/**
 * An injectHyperparams with schedules, at the steps after one that built its inner transformation:
 * its stages' scalars computed from its hyperparameters of the step by each definition's `injectable`
 * formula (the values `writeScalars` gives for them; compiled to programs: schedules/program.ts), so
 * that a step evaluates the schedules and rebuilds nothing. Its control (the record `step` made, the
 * stepper's own: the state getter copies it) is then updated in place.
 */
interface InjectionFormulas {
  /** The hyperparameters record the formulas read, and update. */
  readonly record: Record<string, number | ArrayLeaf>;
  /** The hyperparameters by name: the fixed ones, then the scheduled ones (the combinator's order). */
  readonly names: readonly string[];
  /** How many of `names` are fixed. */
  readonly fixed: number;
  /** This step's values of the scheduled ones. */
  readonly scheduled: Float64Array;
  /**
   * The scheduled values of the last step taken, not yet in `record` when `unsynced` (see syncRecords).
   */
  readonly used: Float64Array;
  unsynced: boolean;
  /** Each factory check of a scheduled value (`at` in `scheduled`): see InjectableScalars.accepts. */
  readonly checks: readonly { readonly accepts: (values: Float64Array, at: number) => boolean; readonly at: number }[];
  /** This step's value of each of `names`: the formulas' inputs (the fixed ones set once). */
  readonly inputs: Float64Array;
  readonly stages: readonly StageFormula[];
  /**
   * Its clip_by_global_norm stages: their scalars follow from the norm, known only during the step
   * (writeNormScalars), and the max_norm of the step, at `at` in `inputs`.
   */
  readonly norms: readonly NormFormula[];
}

/** An injected clip_by_global_norm stage: its reduction, and where its max_norm is in the injection's inputs. */
interface NormFormula {
  readonly stage: number;
  readonly reduction: GlobalNormReduction;
  readonly at: number;
  readonly injection: InjectionFormulas;
}

/** A stage's formula: the definition it was made from, and its program for each of the stage's dtypes. */
interface StageFormula {
  readonly stage: number;
  readonly def: unknown;
  readonly programs: readonly FormulaProgram[];
  readonly injection: InjectionFormulas;
}

/**
 * The formulas of an injection (made once its inner transformation is built for its current
 * hyperparameters), or null where they do not apply: no schedule; a hyperparameter that is an array;
 * a stage without an `injectable` formula (e.g. clip_by_global_norm's), or with array scalars; a
 * scheduled hyperparameter without its factory's check, or that no formula reads. Those steps rebuild the inner transformation.
 */
function injectionFormulas(f: FusedParts, inj: Injection): InjectionFormulas | null {
  const c = inj.combinator, record = inj.control.hyperparams;
  if (c.scheduledNames.length === 0) return null;
  const names = [...Object.keys(record).filter((k) => !c.scheduledNames.includes(k)), ...c.scheduledNames];
  if (names.some((k) => typeof record[k] !== 'number')) return null;
  const inputs = Float64Array.from(names, (k) => record[k] as number);
  const checks: { accepts: (values: Float64Array, at: number) => boolean; at: number }[] = [];
  const form: InjectionFormulas = { record, names, fixed: names.length - c.scheduledNames.length, scheduled: new Float64Array(c.scheduledNames.length), used: new Float64Array(c.scheduledNames.length), unsynced: false, checks, inputs, stages: [], norms: [] };
  const stages: StageFormula[] = [];
  const norms: NormFormula[] = [];
  const reached = new Set<string>();
  for (const k of inj.stages) {
    const stage = f.stages[k];
    if (stage.source.kind === 'globalNorm') {
      // clip_by_global_norm built with the record's max_norm: the step's value goes to its scalars.
      const reduction = stage.source.reduction, name = reduction.injectable.name, at = names.indexOf(name);
      if (at < 0 || !Object.is(roundTo(inj.dtype, reduction.maxNorm), record[name])) return null;
      const scheduledAt = c.scheduledNames.indexOf(name);
      if (scheduledAt >= 0) checks.push({ accepts: reduction.injectable.accepts, at: scheduledAt });
      norms.push({ stage: k, reduction, at, injection: form });
      reached.add(name);
      continue;
    }
    if (stage.source.kind !== 'elementwise' || stage.arrayScalars?.length) return null;
    const def = stage.source.def, injectable = def.injectable;
    if (!injectable) return null;
    // The definition was built with these hyperparameters (rounded to their dtype): its formula reads them from the inputs.
    const from = new Map<string, number>();
    for (const [name, v] of Object.entries(injectable.hyperparams)) {
      const at = names.indexOf(name);
      if (at < 0) continue;
      if (!Object.is(roundTo(inj.dtype, v), record[name])) return null;
      const scheduledAt = c.scheduledNames.indexOf(name);
      if (scheduledAt >= 0) {
        // A scheduled value must be checked as the factory checks it (else it is rebuilt at each step).
        const accepts = injectable.accepts?.[name];
        if (!accepts) return null;
        checks.push({ accepts, at: scheduledAt });
      }
      from.set(name, at);
      reached.add(name);
    }
    // Each of the stage's dtypes has its program: the scalars of a leaf's dtype, from hyperparameters
    // of the injection's dtype (which may be another: hyperparamDtype), as its writeScalars computes them.
    const formulaFor = (dtype: Dtype): ArithFormula => (values, count, a) => {
      const h: Record<string, (typeof values)[number]> = { ...injectable.hyperparams };
      for (const [name, at] of from) h[name] = values[at];
      return injectable.scalars(h, count, dtype, a);
    };
    const programs = stage.dtypes.map((dtype) => FormulaProgram.compile(names.length, f.scalarPlans[k].names, formulaFor(dtype), stage.traced));
    if (programs.some((p) => p === undefined)) return null;
    stages.push({ stage: k, def, programs: programs as FormulaProgram[], injection: form });
  }
  if (c.scheduledNames.some((k) => !reached.has(k))) return null;
  return Object.assign(form, { stages, norms });
}

/** Every injection's formulas (a function of its own: a closure in the step would cost a context at every step). */
function formulasOf(f: FusedParts): (InjectionFormulas | null)[] {
  return f.injections.map((inj) => injectionFormulas(f, inj));
}

/** After a step by formulas: each injection's control advanced in place (its counts; the scheduled values it used, kept for syncRecords). */
function commitFormulas(f: FusedParts, formulas: readonly InjectionFormulas[]): void {
  for (let k = 0; k < f.injections.length; k++) {
    const control = f.injections[k].control, form = formulas[k], names = f.injections[k].combinator.scheduledNames;
    control.count = safeIncrement(control.count);
    for (let j = 0; j < names.length; j++) {
      const state = control.hyperparams_states[names[j]];
      state.count = safeIncrement(state.count);
    }
    // The values go into the record when it is read (syncRecords): a double stored in an object's
    // property at each step can be a new heap number (a keyed store over two names, a field that was
    // a small integer: 16-30 B a step, seen with b1 and b2 scheduled, and with clip's and ema's).
    form.used.set(form.scheduled);
    form.unsynced = true;
  }
}

/**
 * Writes the scheduled values of the last step taken by formulas into their records (each
 * injection's control), before anything reads them: the state getter, a step that rebuilds.
 */
function syncRecords(formulas: readonly (InjectionFormulas | null)[]): void {
  for (const form of formulas) {
    if (form === null || !form.unsynced) continue;
    const names = form.names;
    for (let j = 0; j < form.used.length; j++) form.record[names[form.fixed + j]] = form.used[j];
    form.unsynced = false;
  }
}

/** Keeps the new state of each partition group run on the reference path. */
function commitIslands(f: FusedParts, states: readonly unknown[]): void {
  states.forEach((state, k) => { f.islands[k].state = state; });
}

const SCALAR_SHAPE: readonly number[] = Object.freeze([]);

/** Whether `values` (or the one number) of `shape` are those `last` holds, bit for bit (-0, NaN). */
function sameValues(last: { readonly values: Float64Array; readonly shape: readonly number[] }, values: FloatArray | number, shape: readonly number[]): boolean {
  if (last.shape.length !== shape.length || last.shape.some((d, i) => d !== shape[i])) return false;
  if (typeof values === 'number') return last.values.length === 1 && Object.is(last.values[0], values);
  if (last.values.length !== values.length) return false;
  for (let i = 0; i < values.length; i++) if (!Object.is(last.values[i], values[i])) return false;
  return true;
}

/** Reads scalar `name` from a sink laid out as `names` (an array where the definition wrote one). */
function sinkValue(sink: ScalarSink, names: readonly string[]): (name: string) => unknown {
  return (name) => {
    const at = names.indexOf(name);
    return at < 0 ? undefined : sink.arrays[at] ?? sink.values[at];
  };
}

/** Whether every value of a float64 array is a float32 (or NaN). */
function everyFloat32(data: FloatArray): boolean {
  for (let i = 0; i < data.length; i++) if (Math.fround(data[i]) !== data[i] && data[i] === data[i]) return false;
  return true;
}

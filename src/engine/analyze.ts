import type { Dtype } from '../core/dtype.js';
import type { CombinatorInfo, GradientTransformation } from '../core/transformation.js';
import type { Kernel } from '../kernel/expr.js';
import { type CompiledElementwise, type ElementwiseDefinition, definitionScalars, kernelForTree, splitState } from '../kernel/elementwise.js';
import { type ApplyIfFiniteCounters, checkApplyIfFiniteState } from '../transforms/apply-if-finite.js';
import type { GlobalNormReduction } from '../transforms/clip-by-global-norm.js';
import { dividesByScalar } from '../kernel/scalar-division.js';
import { canTrace } from '../transforms/traced.js';
import { accumulateKernel, checkMultiStepsState } from '../transforms/multi-steps.js';
import type { InjectHyperparamsState, InjectionControl } from '../transforms/inject-hyperparams.js';
import { type Expr, ex, topologicalOrder } from '../kernel/expr.js';
import { type Mask, type MaskTree, masked, maskTree, resolveMask } from '../transforms/masked.js';
import { copyArrays } from './opaque-state.js';
import { isDictNode } from '../tree/structure.js';
import { ShapedArray } from '../tree/leaf.js';
import type { Tree } from '../tree/tree.js';
import { type LeafTable, leavesOf } from './leaves.js';
import { labelMask } from './labels.js';
import { MATCH, SelectionWalker, UNDECIDED } from './selection.js';
import { hasOwn } from '../tree/node.js';

/**
 * Sees through a transformation: which elementwise stages it runs, on which leaves, in what order,
 * and how its state is laid out. `chain` is flattened, `masked` and `partition` restrict their inner
 * stages to some leaves, `clipByGlobalNorm` at the very start becomes a reduction followed by a
 * stage, and `applyIfFinite` becomes a finiteness check (a {@link Guard}) before its stages (when
 * nested, a segment of its own with a skip pass); array hyperparameters become streams ({@link Stage.arrayScalars}),
 * MultiSteps' float32 accumulator over float64 params a narrower stream ({@link Stage.stateDtype}).
 * Anything else makes the whole transformation run on the reference path (see compile's TSDoc).
 */

/** Where a stage's per-step scalars come from. */
export type StageSource =
  | { readonly kind: 'elementwise'; readonly def: ElementwiseDefinition<Record<string, unknown>> }
  | { readonly kind: 'globalNorm'; readonly reduction: GlobalNormReduction }
  /** MultiSteps' accumulator: its scalars (`r`, `zero`) are the engine's (see {@link Accumulation}). */
  | { readonly kind: 'accumulate' }
  /**
   * A nested `applyIfFinite`'s own stage, first of its segment: the identity on the pass that applies
   * its inner update, the zero optax's skipped update is (its scalar `zero`) on the pass that skips it.
   */
  | { readonly kind: 'guard' }
  /** A partition group run on the reference path: its stream `u` holds the updates it computed. */
  | { readonly kind: 'island'; readonly island: number };

/** One elementwise stage of the flattened chain. */
export interface Stage {
  /** Position in the flattened chain. */
  readonly index: number;
  readonly name: string;
  readonly kernel: Kernel;
  readonly stateLeaves: readonly string[];
  /** Rebound at a step where an enclosing `injectHyperparams` rebuilds its inner transformation. */
  source: StageSource;
  /** The leaves it runs on, in flattening order. */
  readonly leaves: readonly number[];
  /** The index tree as the stage sees it (null where masked out): the structure of its state trees. */
  readonly context: Tree;
  /** The dtypes of its leaves, in order of first appearance (its scalars are computed for these). */
  readonly dtypes: readonly Dtype[];
  /** Scalars its programs read besides its kernel's (MultiSteps' `zero`). */
  readonly extraScalars?: readonly string[];
  /**
   * The dtype its state streams are stored in, where it is not the leaf's: MultiSteps' float32
   * accumulator over float64 params (the running mean is computed in float64 and rounded on store).
   */
  readonly stateDtype?: Dtype;
  /**
   * Its scalars that are arrays (broadcast hyperparameters, e.g. `b1` given per element): each is a
   * stream of the arena, the array broadcast to every leaf, rewritten each step.
   */
  readonly arrayScalars?: readonly string[];
  /** Its control state (e.g. `{count}`), updated after each step. */
  control: Record<string, unknown>;
  /** It runs with optax's traced numerics (inside `lax.cond`): its scalars are computed so. */
  readonly traced: boolean;
}

/** The state layout, mirroring the transformation's structure. */
export type StateNode =
  | { readonly kind: 'applyIfFinite'; readonly inner: StateNode }
  | { readonly kind: 'injectHyperparams'; readonly injection: number; readonly inner: StateNode }
  | { readonly kind: 'multiSteps'; readonly accumulator: number; readonly inner: StateNode }
  | { readonly kind: 'chain'; readonly parts: readonly StateNode[] }
  | { readonly kind: 'stage'; readonly stage: number }
  | { readonly kind: 'masked'; readonly inner: StateNode }
  | { readonly kind: 'partition'; readonly labels: readonly string[]; readonly groups: readonly StateNode[] }
  /** The inner state of a partition group run on the reference path ({@link Island}). */
  | { readonly kind: 'reference'; readonly island: number };

/**
 * A group of the root `partition` that cannot fuse: each step its transformation runs on the
 * reference path (as optax's `masked(transforms[label], labels == label)`, on the same gradient and
 * params trees), its updates are written into the stream of its stage, which the fused pass adds to
 * its params; the other groups stay fused.
 */
export interface Island {
  readonly label: string;
  /** `masked(transform, labels == label)`, as partition runs it. */
  readonly tx: GradientTransformation<unknown>;
  /** Its stage (stream `u`), or undefined when its label selects no leaf. */
  readonly stage: number | undefined;
  /** Why it cannot fuse. */
  readonly reason: string;
  /** Its masked state's `inner_state`, the stepper's own copy; replaced after each step. */
  state: unknown;
}

/**
 * A mask or labels function: optax calls it at every update with the updates, so the engine calls it
 * each step (with the gradients, masked like the updates at that level) and checks that the leaves it
 * selects are still the compiled ones.
 */
export interface DynamicSelection {
  /** The masks enclosing this node, outermost first (applied to the gradients to get its input). */
  readonly enclosing: readonly MaskTree[];
  /** The leaves each selection covers, as compiled (one entry for a mask, one per label for labels). */
  readonly expected: readonly (readonly number[])[];
  /**
   * Whether the selection evaluated on a tree (the gradients) still covers the `expected` leaves
   * (throws like the reference would): at every step, allocating nothing on the plain path.
   */
  holds(tree: Tree): boolean;
  /**
   * A mask or label tree given as such (not a function): `holds` ignores its argument. optax reads
   * the tree at every update, so a tree changed since compile changes the step (or makes it throw);
   * a deeply frozen one is judged once (selection.ts).
   */
  readonly fixed?: boolean;
}

/**
 * `applyIfFinite` around the whole transformation: each step first checks the gradients for NaN and
 * infinities; its inner stages run with optax's traced numerics (inside `lax.cond`).
 */
export interface Guard {
  readonly maxConsecutiveErrors: number;
  /**
   * Whether the inner stages run with optax's traced numerics: exactly where the reference path
   * traces them (transforms/traced.ts's `canTrace`); otherwise with eager numerics, as it does.
   */
  readonly traced: boolean;
  /** Its counters (`notfinite_count`, `last_finite`, `total_notfinite`), updated after each step. */
  counters: ApplyIfFiniteCounters;
  /**
   * Inside a chain, a mask or a partition (not around the whole transformation): its segment of
   * stages is its own stage (source `guard`) and `inner`, a skipped step is a second pass (the zero
   * update flowing through the stages after it), and its finiteness check is over its `leaves`' input:
   * the gradients, or their clipped values after `prefix` (clip_by_global_norm stages).
   */
  readonly nested?: {
    readonly stage: number;
    readonly inner: readonly number[];
    readonly leaves: readonly number[];
    readonly prefix: readonly number[];
  };
}

/**
 * `injectHyperparams`: each step, its hyperparameters are computed from its control state (as its
 * `update` computes them), and when they change, the inner transformation it rebuilds supplies the
 * per-step scalars of its stages (the same kernels: they become the step's scalars, in their dtype).
 */
export interface Injection {
  readonly combinator: Extract<CombinatorInfo, { kind: 'injectHyperparams' }>;
  /** The hyperparameter dtype (of the params). */
  readonly dtype: Dtype;
  /** Its own state: `count`, `hyperparams`, `hyperparams_states`, updated after each step. */
  control: InjectionControl;
  /** The inner transformation the stages' sources currently come from. */
  inner: GradientTransformation<unknown>;
  /** Its stages, in chain order. */
  readonly stages: readonly number[];
}

/**
 * `MultiSteps` around the whole transformation: stage 0 accumulates the gradients in the arena (its
 * `acc` stream); each step runs one of two passes: an emitting step the inner stages (with optax's
 * traced numerics where its lax.cond traces them) and `acc = 0 * acc'`, any other step only
 * `acc = acc'` and `p + 0 * y` (y: the inner update before its final scalar factor, as XLA folds the
 * 0 there), without storing the inner state.
 */
export interface Accumulation {
  readonly combinator: Extract<CombinatorInfo, { kind: 'multiSteps' }>;
  /** `mini_step`, `gradient_step` and `skip_state`, updated after each step. */
  control: { mini_step: number; gradient_step: number; skip_state: unknown };
  /** The accumulator stage (0). */
  readonly stage: number;
  /**
   * The skip state a built-in skip function's fused step writes in place (the stepper's own: the
   * state getter hands out copies of it), once a step has written it.
   */
  ownSkipState?: OwnSkipState;
}

/** See {@link Accumulation.ownSkipState}: skipNotFinite's or skipLargeUpdates' state, by its rule. */
export type OwnSkipState =
  | { readonly rule: 'not_finite'; readonly state: { should_skip: boolean; num_not_finite: number } }
  | { readonly rule: 'large_updates'; readonly state: { should_skip: boolean; norm_squared: number } };

/** The fusable structure of a transformation, or why it is not fusable. */
export type Analysis =
  | { readonly fusable: true; readonly stages: Stage[]; readonly root: StateNode; readonly dynamic: readonly DynamicSelection[]; readonly guard: Guard | undefined; readonly injections: readonly Injection[]; readonly accumulation: Accumulation | undefined; readonly traced: boolean; readonly islands: readonly Island[] }
  | { readonly fusable: false; readonly reason: string };

class NotFusable extends Error {}

interface Level {
  /** The index tree at this level (masked by every enclosing mask). */
  readonly tree: Tree;
  readonly enclosing: readonly MaskTree[];
}

/**
 * Analyzes `tx` against the parameter leaves. `state` is `tx.init(params)` (it provides the initial
 * control states and confirms the layout); `params` is what mask and label functions are called with
 * at compile time, as `init` calls them. `masksOnce`: the stepper will not call them again (compile's
 * `masks: 'once'`), so the analysis lists no selection to check at each step (`dynamic` is empty).
 */
export function analyze(tx: GradientTransformation<unknown>, table: LeafTable, params: Tree, state: unknown, masksOnce = false): Analysis {
  const stages: Stage[] = [];
  const dynamic: DynamicSelection[] = [];
  // A selection the stepper checks at every step; none with `masksOnce` (read here, at compile time, only).
  const watch = (selection: DynamicSelection): void => { if (!masksOnce) dynamic.push(selection); };
  const injections: Injection[] = [];
  const walker = new SelectionWalker(table);
  let guard: Guard | undefined;
  let accumulation: Accumulation | undefined;
  // Inside applyIfFinite, optax traces the inner update as one computation: the engine reproduces
  // those numerics (transforms/traced.ts) for chains of elementwise transformations only.
  let traced = false;
  let withinMultiSteps = false;
  const islands: Island[] = [];
  let injecting = 0;
  const visit = (t: GradientTransformation<unknown>, s: unknown, level: Level): StateNode => {
    if (t.combinator?.kind === 'applyIfFinite') {
      if (t !== tx) return visitNestedGuard(t, s, level);
      try {
        checkApplyIfFiniteState(s);
      } catch {
        throw new NotFusable('apply_if_finite: unexpected state layout');
      }
      const { inner_state, ...counters } = s;
      traced = canTrace(t.combinator.inner, inner_state);
      guard = { maxConsecutiveErrors: t.combinator.maxConsecutiveErrors, traced, counters };
      return { kind: 'applyIfFinite', inner: visit(t.combinator.inner, inner_state, level) };
    }
    if (t.combinator?.kind === 'multiSteps') return visitMultiSteps(t, s, level);
    if (t.combinator?.kind === 'injectHyperparams') {
      const combinator = t.combinator;
      try {
        combinator.check(s);
      } catch {
        throw new NotFusable('inject_hyperparams: unexpected state layout');
      }
      const { inner_state, ...control } = s as InjectHyperparamsState;
      const inner = combinator.innerFor(control.hyperparams);
      const first = stages.length;
      injecting++;
      const node = visit(inner, inner_state, level);
      injecting--;
      const own = stages.slice(first).map((st) => st.index);
      injections.push({ combinator, dtype: combinator.dtypeFor(params, params), control, inner, stages: own });
      return { kind: 'injectHyperparams', injection: injections.length - 1, inner: node };
    }
    if (traced && !t.parts && !t.elementwise && t.combinator?.kind !== 'masked') throw new NotFusable(`${t.name} inside apply_if_finite cannot be fused (only chains of elementwise transformations)`);
    if (t.parts) {
      if (!Array.isArray(s) || s.length !== t.parts.length) throw new NotFusable(`${t.name}: unexpected state layout`);
      return { kind: 'chain', parts: t.parts.map((p, i) => visit(p, s[i], level)) };
    }
    if (t.elementwise) return { kind: 'stage', stage: addElementwise(t, s, level) };
    if (t.combinator?.kind === 'masked') {
      if (!isDictNode(s) || !hasOwn(s, 'inner_state')) throw new NotFusable('masked: unexpected state layout');
      const inner = withMask(t.combinator.mask as Mask, level, params);
      return { kind: 'masked', inner: visit(t.combinator.inner, s.inner_state, inner) };
    }
    if (t.combinator?.kind === 'partition') return visitPartition(t, s, level);
    const reduction = (t as { reduction?: GlobalNormReduction }).reduction;
    if (reduction && stages.length === 0 && level.enclosing.length === 0) {
      // The norm is taken over the gradients only when nothing runs before the clip, on every leaf.
      // XLA divides one-element leaves by the norm and multiplies the others by its reciprocal
      // (kernel/scalar-division.ts): two stages, each on its leaves, share the one norm and the
      // clip's (empty) state.
      const all = leavesOf(table, level.tree);
      const dividing = all.filter((i) => dividesByScalar(table.leaves[i].length));
      const source: StageSource = { kind: 'globalNorm', reduction };
      const multiplying = all.filter((i) => !dividing.includes(i));
      const first = multiplying.length || !dividing.length ? addStage(t.name, reduction.kernel, [], source, {}, level, multiplying) : undefined;
      const second = dividing.length ? addStage(t.name, reduction.divisionKernel, [], source, {}, level, dividing) : undefined;
      return { kind: 'stage', stage: (first ?? second)! };
    }
    throw new NotFusable(reduction
      ? `${t.name} cannot be fused here (only as the first transformation)`
      : `${t.name} cannot be fused: its update is JS code the engine cannot see into (not an elementwise definition, a mask or labels function, nor a combinator it runs)`);
  };

  /**
   * applyIfFinite inside a chain, mask or partition. optax checks the updates it receives: the
   * gradients when nothing runs before it on its leaves, else their clipped values when only
   * clip_by_global_norm does (any other stage before it would need its computed updates: not fused).
   */
  const visitNestedGuard = (t: GradientTransformation<unknown>, s: unknown, level: Level): StateNode => {
    const combinator = t.combinator as Extract<CombinatorInfo, { kind: 'applyIfFinite' }>;
    if (guard) throw new NotFusable('apply_if_finite: only one per transformation is fused (this one is inside or beside another)');
    if (withinMultiSteps) throw new NotFusable('apply_if_finite inside MultiSteps is not fused');
    if (injecting) throw new NotFusable('apply_if_finite inside inject_hyperparams is not fused');
    try {
      checkApplyIfFiniteState(s);
    } catch {
      throw new NotFusable('apply_if_finite: unexpected state layout');
    }
    const leaves = leavesOf(table, level.tree);
    const prefix = stages.filter((st) => st.leaves.some((i) => leaves.includes(i)));
    const other = prefix.find((st) => st.source.kind !== 'globalNorm');
    if (other) throw new NotFusable(`apply_if_finite after ${other.name} is not fused (its finiteness check would need the updates ${other.name} computes)`);
    const { inner_state, ...counters } = s;
    const stage = addStage('apply_if_finite', { updates: ex.updates, state: {} }, [], { kind: 'guard' }, {}, level, leaves, ['zero']);
    const wasTraced = traced;
    traced = canTrace(combinator.inner, inner_state);
    const innerTraced = traced;
    const first = stages.length;
    const injectionsBefore = injections.length;
    const node = visit(combinator.inner, inner_state, level);
    if (injections.length !== injectionsBefore) throw new NotFusable('inject_hyperparams inside a nested apply_if_finite is not fused');
    traced = wasTraced;
    guard = {
      maxConsecutiveErrors: combinator.maxConsecutiveErrors,
      traced: innerTraced,
      counters,
      nested: { stage, inner: stages.slice(first).map((st) => st.index), leaves, prefix: prefix.map((st) => st.index) },
    };
    return { kind: 'applyIfFinite', inner: node };
  };

  const visitMultiSteps = (t: GradientTransformation<unknown>, s: unknown, level: Level): StateNode => {
    const combinator = t.combinator as Extract<CombinatorInfo, { kind: 'multiSteps' }>;
    if (t !== tx) throw new NotFusable('MultiSteps can be fused only around the whole transformation');
    try {
      checkMultiStepsState(s);
    } catch {
      throw new NotFusable('MultiSteps: unexpected state layout');
    }
    // optax computes the running mean in the promoted dtype of (gradient, accumulator): a float32
    // accumulator over float64 params is a float32 stream of a float64 program (read widened, stored
    // rounded). A float64 accumulator over float32 params would need float64 arithmetic feeding a
    // float32 inner chain (the mean is rounded to float32 for it): not fused.
    const acc = combinator.accumulatorDtype;
    if (acc === 'float64' && table.leaves.some((l) => l.dtype === 'float32')) {
      throw new NotFusable('MultiSteps: a float64 accumulator over float32 params (its running mean is computed in float64, then rounded for the inner chain) is not fused');
    }
    const { inner_opt_state, mini_step, gradient_step, skip_state } = s;
    // The accumulator is a stage of its own: its update (the new mean) feeds the inner stages.
    const stage = addStage('MultiSteps', accumulateKernel(combinator.useGradMean), ['acc'], { kind: 'accumulate' }, {}, level, undefined, ['zero'], acc ?? undefined);
    // optax runs the inner update inside lax.cond: traced where the reference path traces it.
    traced = canTrace(combinator.inner, inner_opt_state);
    const dynamicBefore = dynamic.length;
    withinMultiSteps = true;
    const inner = visit(combinator.inner, inner_opt_state, level);
    withinMultiSteps = false;
    // Inside MultiSteps a mask function is called with the running mean, which the engine does not
    // have before its pass (with `masksOnce` it is called here only, as under jax.jit: nothing to check).
    for (let k = dynamicBefore; k < dynamic.length; k++) {
      if (!dynamic[k].fixed) throw new NotFusable('MultiSteps: a mask or labels function inside it is called with the accumulated gradients (not fused)');
    }
    accumulation = { combinator, control: { mini_step, gradient_step, skip_state }, stage };
    return { kind: 'multiSteps', accumulator: stage, inner };
  };

  const addElementwise = (t: GradientTransformation<unknown>, s: unknown, level: Level): number => {
    const def = t.elementwise as CompiledElementwise<Record<string, unknown>>;
    let control: Record<string, unknown>;
    try {
      control = splitState(def, s).control;
    } catch {
      throw new NotFusable(`${t.name}: its state is not the one its definition describes`);
    }
    // The reference picks the kernel by the leaves of the tree the stage receives (XLA rewrites a
    // division by a scalar on a tree of one leaf of two or more elements); so does the engine.
    const kernel = kernelForTree(def, leavesOf(table, level.tree).map((i) => table.leaves[i].length)).kernel;
    const keys = Object.keys(kernel.state);
    if (keys.length !== def.stateLeaves.length || !def.stateLeaves.every((k) => keys.includes(k))) {
      throw new NotFusable(`${t.name}: its kernel's state outputs differ from its state leaves`);
    }
    return addStage(t.name, kernel, def.stateLeaves, { kind: 'elementwise', def }, control, level);
  };

  const addStage = (name: string, kernel: Kernel, stateLeaves: readonly string[], source: StageSource, control: Record<string, unknown>, level: Level, leaves: readonly number[] = leavesOf(table, level.tree), extraScalars?: readonly string[], stateDtype?: Dtype): number => {
    const dtypes: Dtype[] = [];
    for (const i of leaves) if (!dtypes.includes(table.leaves[i].dtype)) dtypes.push(table.leaves[i].dtype);
    const read = new Set(topologicalOrder([kernel.updates, ...Object.values(kernel.state)]).flatMap((e) => (e.kind === 'scalar' ? [e.name] : [])));
    const arrays = source.kind === 'elementwise' ? arrayScalarsOf(name, source.def, control, dtypes).filter((k) => read.has(k)) : [];
    if (arrays.length && traced) throw new NotFusable(`${name}: array hyperparameter '${arrays[0]}' inside apply_if_finite or MultiSteps (traced numerics with a broadcast array) is not fused`);
    stages.push({ index: stages.length, name, kernel, stateLeaves, source, leaves, context: level.tree, dtypes, control, extraScalars, stateDtype, arrayScalars: arrays.length ? arrays : undefined, traced });
    return stages.length - 1;
  };

  const withMask = (mask: Mask, level: Level, p: Tree): Level => {
    const resolved = resolveMask(mask, maskAll(p, level.enclosing), 'masked');
    const tree = checkLevel(maskTree(level.tree, resolved, 'params'));
    // A function is called at every step; a tree (an object: a boolean cannot change) is checked at
    // every step too, as optax reads it at every update.
    if (typeof mask === 'function' || (mask !== null && typeof mask === 'object')) {
      const enclosing = level.enclosing;
      const expected = [leavesOf(table, tree)];
      const flags = new Uint8Array(table.leaves.length);
      for (const i of expected[0]) flags[i] = 1;
      watch({
        enclosing,
        expected,
        fixed: typeof mask !== 'function',
        holds: (updates) => {
          const m = resolveMask(mask, updates, 'masked');
          const verdict = walker.matches(m, level.tree, flags);
          return verdict === UNDECIDED ? sameSelections([leavesOf(table, maskTree(level.tree, m, 'updates'))], expected) : verdict === MATCH;
        },
      });
    }
    return { tree, enclosing: [...level.enclosing, resolved] };
  };

  const visitPartition = (t: GradientTransformation<unknown>, s: unknown, level: Level): StateNode => {
    const info = t.combinator as { kind: 'partition'; transforms: Readonly<Record<string, GradientTransformation<unknown>>>; labels: unknown };
    const known = Object.keys(info.transforms);
    if (!isDictNode(s) || !isDictNode(s.inner_states)) throw new NotFusable('partition: unexpected state layout');
    const labelsOf = (tree: Tree) => (typeof info.labels === 'function' ? info.labels(tree) : info.labels);
    const labels = labelsOf(maskAll(params, level.enclosing));
    const masks = known.map((k) => labelMask(labels, k));
    const groups = known.map((k, i) => {
      const inner = s.inner_states as Record<string, unknown>;
      const ms = inner[k];
      if (!isDictNode(ms) || !hasOwn(ms, 'inner_state')) throw new NotFusable('partition: unexpected state layout');
      // At the root, a group that cannot fuse runs on the reference path (an Island), the others fused.
      const mark = t === tx ? { stages: stages.length, dynamic: dynamic.length, injections: injections.length, guard, traced } : undefined;
      try {
        const sub: Level = { tree: checkLevel(maskTree(level.tree, masks[i], 'params')), enclosing: [...level.enclosing, masks[i]] };
        return { kind: 'masked', inner: visit(info.transforms[k], ms.inner_state, sub) } as StateNode;
      } catch (e) {
        if (!(e instanceof NotFusable) || !mark) throw e;
        stages.length = mark.stages;
        dynamic.length = mark.dynamic;
        injections.length = mark.injections;
        guard = mark.guard;
        traced = mark.traced;
        const tree = maskTree(level.tree, masks[i], 'params');
        const stage = tree === null || leavesOf(table, tree).length === 0 ? undefined
          : addStage(`partition group '${k}'`, ISLAND_KERNEL, ['u'], { kind: 'island', island: islands.length }, {}, { tree, enclosing: [...level.enclosing, masks[i]] });
        islands.push({ label: k, tx: masked(info.transforms[k], masks[i]) as GradientTransformation<unknown>, stage, reason: e.message, state: copyArrays(ms.inner_state) });
        return { kind: 'masked', inner: { kind: 'reference', island: islands.length - 1 } } as StateNode;
      }
    });
    if (islands.length === known.length) throw new NotFusable(islands[0].reason);
    if (typeof info.labels === 'function' || (info.labels !== null && typeof info.labels === 'object')) {
      const expected = masks.map((m) => leavesOf(table, maskTree(level.tree, m, 'params')));
      // The group of each leaf as compiled (-1: none).
      const groupOf = new Int32Array(table.leaves.length).fill(-1);
      expected.forEach((leaves, g) => { for (const i of leaves) groupOf[i] = g; });
      watch({
        enclosing: level.enclosing,
        expected,
        fixed: typeof info.labels !== 'function',
        holds: (updates) => {
          const l = labelsOf(updates);
          const verdict = walker.matchesLabels(l, level.tree, known, groupOf);
          if (verdict !== UNDECIDED) return verdict === MATCH;
          return sameSelections(known.map((k) => leavesOf(table, maskTree(level.tree, labelMask(l, k), 'updates'))), expected);
        },
      });
    }
    return { kind: 'partition', labels: known, groups };
  };

  try {
    const root = visit(tx, state, { tree: table.indexTree, enclosing: [] });
    return { fusable: true, stages, root, dynamic, guard, injections, accumulation, traced, islands };
  } catch (e) {
    if (e instanceof NotFusable) return { fusable: false, reason: e.message };
    throw e;
  }
}

/** Whether two lists of leaf lists are equal. */
function sameSelections(got: readonly (readonly number[])[], expected: readonly (readonly number[])[]): boolean {
  if (got.length !== expected.length) return false;
  for (let i = 0; i < got.length; i++) {
    const a = got[i], b = expected[i];
    if (a.length !== b.length || a.some((x, j) => x !== b[j])) return false;
  }
  return true;
}

/** An island's stage: its updates, computed on the reference path, read from its stream `u`. */
const ISLAND_KERNEL: Kernel = { updates: ex.state('u'), state: { u: ex.state('u') } };

/**
 * A mask that removes the whole tree hands the inner transformation `null` params, which some
 * transformations reject (`add_decayed_weights` throws): only the reference path reproduces that.
 */
function checkLevel(tree: Tree): Tree {
  if (tree === null) throw new NotFusable('a mask or label selects no part of the tree (the inner transformation then sees null params)');
  return tree;
}

/** Applies the enclosing masks to a tree, outermost first (what a nested combinator receives). */
export function maskAll(tree: Tree, masks: readonly MaskTree[]): Tree {
  let t = tree;
  // Indexed: this runs at every step (an iterator may be allocated).
  for (let i = 0; i < masks.length; i++) t = maskTree(t, masks[i], 'updates');
  return t;
}

/**
 * The scalars of a stage that are arrays (broadcast hyperparameters): each becomes a stream of the
 * arena, the array broadcast to every leaf. Probed once with the initial control; a probe that
 * throws (e.g. a schedule that rejects step 0) is left for the step to report, exactly as the
 * reference would (a step whose scalar is an array where the probe saw a number runs on the
 * reference path). An array that cannot broadcast to some leaf is left for the step to report too.
 */
function arrayScalarsOf(name: string, def: ElementwiseDefinition<Record<string, unknown>>, control: Record<string, unknown>, dtypes: readonly Dtype[]): string[] {
  const arrays: string[] = [];
  for (const dtype of dtypes) {
    let scalars: Readonly<Record<string, unknown>>;
    try {
      scalars = definitionScalars(def, control, dtype, undefined);
    } catch {
      continue;
    }
    for (const [k, v] of Object.entries(scalars)) {
      if (typeof v === 'number') continue;
      if (!(v instanceof ShapedArray)) throw new NotFusable(`${name}: hyperparameter '${k}' is neither a number nor an array`);
      if (!arrays.includes(k)) arrays.push(k);
    }
  }
  return arrays;
}

/**
 * Makes `injection`'s stages take their scalars from `inner` (the transformation its step rebuilt),
 * after checking that `inner` has the compiled structure: the same stages in the same order, with the
 * same kernels. Returns why not otherwise (that step then runs on the reference path).
 */
export function rebindStages(injection: Injection, stages: readonly Stage[], inner: GradientTransformation<unknown>): string | undefined {
  const sources: StageSource[] = [];
  const walk = (t: GradientTransformation<unknown>): boolean => {
    const c = t.combinator;
    if (c?.kind === 'applyIfFinite' || c?.kind === 'masked') return walk(c.inner);
    if (c?.kind === 'partition') return Object.values(c.transforms).every(walk);
    if (t.parts) return t.parts.every(walk);
    if (t.elementwise) { sources.push({ kind: 'elementwise', def: t.elementwise as ElementwiseDefinition<Record<string, unknown>> }); return true; }
    const reduction = (t as { reduction?: GlobalNormReduction }).reduction;
    if (reduction) { sources.push({ kind: 'globalNorm', reduction }); return true; }
    return false;
  };
  const why = 'inject_hyperparams rebuilt its inner transformation with another structure';
  if (!walk(inner) || sources.length !== injection.stages.length) return why;
  for (let j = 0; j < sources.length; j++) {
    const was = stages[injection.stages[j]].source, now = sources[j];
    if (now.kind !== was.kind) return why;
    const same = now.kind === 'elementwise' && was.kind === 'elementwise'
      ? now.def.name === was.def.name && sameKernel(now.def.kernel, was.def.kernel) && sameKernel(now.def.singleLeafKernel, was.def.singleLeafKernel)
      : now.kind === 'globalNorm' && was.kind === 'globalNorm' && sameKernel(now.reduction.kernel, was.reduction.kernel);
    if (!same) return why;
  }
  for (let j = 0; j < sources.length; j++) stages[injection.stages[j]].source = sources[j];
  injection.inner = inner;
  return undefined;
}

/** Two kernels compute the same thing (structurally equal graphs). */
function sameKernel(a: Kernel | undefined, b: Kernel | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || !sameExpr(a.updates, b.updates)) return false;
  const ka = Object.keys(a.state), kb = Object.keys(b.state);
  return ka.length === kb.length && ka.every((k) => k in b.state && sameExpr(a.state[k], b.state[k]));
}

function sameExpr(a: Expr, b: Expr): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'updates': case 'params': return true;
    case 'state': case 'scalar': return a.name === (b as typeof a).name;
    case 'unary': return a.op === (b as typeof a).op && sameExpr(a.a, (b as typeof a).a);
    case 'binary': return a.op === (b as typeof a).op && sameExpr(a.a, (b as typeof a).a) && sameExpr(a.b, (b as typeof a).b);
    case 'fma': return sameExpr(a.a, (b as typeof a).a) && sameExpr(a.b, (b as typeof a).b) && sameExpr(a.c, (b as typeof a).c);
  }
}

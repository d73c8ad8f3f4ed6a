import { type Dtype, type FloatArray } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import type { ExtraArgs, GradientTransformation } from '../core/transformation.js';
import { broadcastTo } from '../tree/broadcast.js';
import { type ArrayLeaf, ShapedArray, leafData, leafDtype, leafLike, leafMismatch, leafShape, leafSpec } from '../tree/leaf.js';
import { mapTrees } from '../tree/map.js';
import type { TreePath } from '../tree/path.js';
import { describe, isDictNode, walkTrees } from '../tree/structure.js';
import type { Params, Tree, Updates } from '../tree/tree.js';
import { treeZerosLike } from '../tree/zeros.js';
import type { Kernel } from './expr.js';
import type { ScheduleArith } from '../schedules/arith.js';
import { type KernelPlan, evaluateKernel, planKernel } from './interpret.js';
import { reciprocalForTree } from './scalar-division.js';
import { hasExactKeys } from '../tree/validate.js';
import { showKeys } from '../tree/node.js';

/** A per-step value of a kernel: a number (already rounded to the dtype), or an array to broadcast. */
export type KernelScalar = number | ShapedArray;

/**
 * The complete definition of an elementwise transformation: its per-element rule ({@link Kernel}), its
 * per-element state trees, and its small "control" state (e.g. the step count) with the per-step
 * scalars derived from it. From this one definition come the pure `init`/`update` (reference path) and
 * every fused path of the engine.
 */
export interface ElementwiseDefinition<C extends Record<string, unknown>> {
  /** optax's name, e.g. `scale_by_adamax`. */
  readonly name: string;
  /** The per-element rule. */
  readonly kernel: Kernel;
  /**
   * The rule when the updates tree holds exactly one leaf of two or more elements, if it differs.
   * XLA divides by a per-step scalar as a multiplication by its reciprocal (`m * (1/b)`) there, and
   * as a true division (`m / b`) on a tree of several leaves or on a rank-0 or one-element leaf
   * (kernel/scalar-division.ts derives this from XLA's algebraic simplifier); a definition that
   * divides by a scalar states both, and every path picks the one for the tree it runs on.
   */
  readonly singleLeafKernel?: Kernel;
  /** The per-element state trees (each shaped like the params), in the state's key order. */
  readonly stateLeaves: readonly string[];
  /** The initial control state, e.g. `{ count: 0 }` (`{}` when there is none). */
  initControl(): C;
  /** Throws an OptaxError naming the bad field when a control state is malformed. */
  checkControl(control: Record<string, unknown>): void;
  /**
   * The names of the per-step scalars, in the order {@link ElementwiseDefinition.writeScalars} writes
   * them (slot `j` of the sink holds `scalarNames[j]`). Required with `writeScalars`.
   */
  readonly scalarNames?: readonly string[];
  /**
   * Writes the per-step scalars for leaves of `dtype` into `sink` (scalar `scalarNames[j]` into
   * `sink.values[j]`, or `sink.arrays[j]` for an array hyperparameter broadcast per leaf), from the
   * control state *before* the step, rounded to `dtype` where optax casts them. `traced`: the step
   * runs inside optax's `lax.cond` (`apply_if_finite`, `MultiSteps`: transforms/traced.ts), where a
   * schedule is traced too (schedules/arith.ts); false or absent when optax runs the transformation
   * eagerly. The fused engine calls it at every step with a sink it keeps: written without creating
   * objects, a step allocates nothing. The caller clears `sink.arrays` before the call.
   */
  writeScalars?(sink: ScalarSink, control: C, dtype: Dtype, extraArgs: ExtraArgs | undefined, traced?: boolean): void;
  /**
   * The same scalars returned as a record: the simpler form for a definition written by hand (each
   * call then allocates its record). A definition states `scalars` or `scalarNames` and
   * `writeScalars`; the engine and the reference path read either form (`definitionScalars`).
   */
  scalars?(control: C, dtype: Dtype, extraArgs: ExtraArgs | undefined, traced?: boolean): Readonly<Record<string, KernelScalar>>;
  /**
   * The scalars that depend on the count, written once over a `ScheduleArith` (src/schedules/arith.ts) whose values may
   * be numbers or arrays in a graph: `scalars` takes these keys from it (with numbers), and the jax-js
   * adapter evaluates it from the count in its traced graph. Keys it does not return do not depend on
   * the count. Absent when no scalar depends on the count.
   */
  readonly countScalars?: <V, B>(count: V | number, dtype: Dtype, arith: ScheduleArith<V, B>) => Record<string, V | number>;
  /**
   * The scalars optax holds as Python numbers (e.g. `scale`'s step size, a constant learning rate):
   * compile-time constants when optax's update is traced inside `lax.cond`, where XLA's algebraic
   * simplifier folds them with other constants (see transforms/traced.ts). Default: none.
   */
  readonly constantScalars?: readonly string[];
  /**
   * Every per-step scalar as a function of the hyperparameters (by optax's names) and the count, over
   * a `ScheduleArith` whose values may be arrays in a graph: how the jax-js adapter computes the
   * scalars when `injectHyperparams` holds the hyperparameters as arrays of its state, and how the
   * fused engine computes them from a scheduled hyperparameter at each step (compiled to a program:
   * schedules/program.ts's FormulaProgram) instead of rebuilding the transformation. For
   * hyperparameters already of the dtype it gives `writeScalars`' values (test/jax-js/inject-hyperparams.test.ts
   * holds them equal). Absent where a hyperparameter is an array of several elements or a schedule.
   */
  readonly injectable?: InjectableScalars;
  /**
   * The control state after the step: the same object updated in place (what optax-ts's definitions
   * do, so that a fused step allocates nothing), or a new one. Callers own the control they pass.
   */
  advance(control: C): C;
}

/** See {@link ElementwiseDefinition.injectable}. */
export interface InjectableScalars {
  /** The hyperparameters the transformation was built with, by optax's names (a one-element array as its value). */
  readonly hyperparams: Readonly<Record<string, number>>;
  /** Every scalar `writeScalars` writes, from the hyperparameters `h` (by optax's names) and the count before the step. */
  scalars<V, B>(h: Readonly<Record<string, V | number>>, count: V | number, dtype: Dtype, arith: ScheduleArith<V, B>): Record<string, V | number>;
  /**
   * Per hyperparameter: whether the factory accepts the value at `values[at]` (its own check, which
   * would throw when the transformation is built with it). The fused engine computes a scheduled
   * hyperparameter's scalars by `scalars` only where its value is checked so; a value that is not
   * accepted (or a hyperparameter without a check) rebuilds the transformation, which throws as
   * the reference path does.
   */
  readonly accepts?: Readonly<Record<string, (values: Float64Array, at: number) => boolean>>;
  /**
   * The hyperparameters the count-dependent scalars (those of `countScalars`) read, e.g. adamax's
   * `b1`: when none of them is injected, an adapter may take those scalars from the transformation as
   * built (a table of the pure path's values where the graph cannot evaluate them).
   */
  readonly countHyperparams?: readonly string[];
}

/**
 * Where a definition writes its per-step scalars: numbers in `values`, array hyperparameters (to be
 * broadcast per leaf) in `arrays`, both by the scalar's index in `scalarNames`.
 */
export interface ScalarSink {
  readonly values: Float64Array;
  readonly arrays: (ShapedArray | undefined)[];
}

/** An empty sink for `count` scalars. */
export function scalarSink(count: number): ScalarSink {
  return { values: new Float64Array(count), arrays: new Array<ShapedArray | undefined>(count).fill(undefined) };
}

/** Writes a hyperparameter's value (a number, or an array to broadcast) into slot `j`. */
export function putScalar(sink: ScalarSink, j: number, value: KernelScalar): void {
  if (typeof value === 'number') sink.values[j] = value;
  else sink.arrays[j] = value;
}

/** The names of a definition's per-step scalars (those `writeScalars` writes, or `scalars` returns). */
export function definitionScalarNames(def: ElementwiseDefinition<any>, control: Record<string, unknown>, dtype: Dtype): readonly string[] {
  return def.scalarNames ?? Object.keys(def.scalars!(control, dtype, undefined));
}

/**
 * A definition's per-step scalars as a record (the reference path, and any caller that does not
 * keep a sink), whichever form the definition states them in.
 */
export function definitionScalars<C extends Record<string, unknown>>(def: ElementwiseDefinition<C>, control: C, dtype: Dtype, extraArgs: ExtraArgs | undefined, traced?: boolean): Readonly<Record<string, KernelScalar>> {
  if (!def.writeScalars || !def.scalarNames) return def.scalars!(control, dtype, extraArgs, traced);
  const names = def.scalarNames;
  const sink = scalarSink(names.length);
  def.writeScalars(sink, control, dtype, extraArgs, traced);
  const out: Record<string, KernelScalar> = {};
  for (let j = 0; j < names.length; j++) out[names[j]] = sink.arrays[j] ?? sink.values[j];
  return out;
}

/**
 * Writes a definition's per-step scalars into a sink laid out as `names` (from
 * {@link definitionScalarNames}): directly for a definition with `writeScalars` (nothing allocated),
 * through its record otherwise.
 */
export function writeDefinitionScalars<C extends Record<string, unknown>>(def: ElementwiseDefinition<C>, sink: ScalarSink, names: readonly string[], control: C, dtype: Dtype, extraArgs: ExtraArgs | undefined, traced?: boolean): void {
  const arrays = sink.arrays;
  for (let j = 0; j < arrays.length; j++) arrays[j] = undefined;
  if (def.writeScalars && def.scalarNames === names) {
    def.writeScalars(sink, control, dtype, extraArgs, traced);
    return;
  }
  const record = definitionScalars(def, control, dtype, extraArgs, traced);
  for (let j = 0; j < names.length; j++) {
    const v = record[names[j]];
    if (v === undefined) throw new OptaxError(`${def.name}: no value for scalar '${names[j]}'`);
    putScalar(sink, j, v);
  }
}

/** A compiled definition: the definition plus its plans, shared by all paths. */
export interface CompiledElementwise<C extends Record<string, unknown>> extends ElementwiseDefinition<C> {
  readonly plan: KernelPlan;
  readonly singleLeafPlan?: KernelPlan;
}

/**
 * A definition with its plans, every key written out (not `{...definition}`, whose hidden class V8
 * derives from the source object's and may make anew): all compiled definitions then share one hidden
 * class, and the fused step that reads them stays optimized when `injectHyperparams` rebuilds its inner
 * transformation after `setHyperparams` (a new class there deoptimizes the step, which then boxes
 * doubles for thousands of steps: issue 10).
 */
export function compiledDefinition<C extends Record<string, unknown>>(definition: ElementwiseDefinition<C>, plan: KernelPlan, singleLeafPlan: KernelPlan | undefined): CompiledElementwise<C> {
  const d = definition;
  return {
    name: d.name, kernel: d.kernel, singleLeafKernel: d.singleLeafKernel, stateLeaves: d.stateLeaves,
    initControl: d.initControl, checkControl: d.checkControl, scalarNames: d.scalarNames, writeScalars: d.writeScalars,
    scalars: d.scalars, countScalars: d.countScalars, constantScalars: d.constantScalars, injectable: d.injectable,
    advance: d.advance, plan, singleLeafPlan,
  };
}

/** A compiled definition with another {@link ElementwiseDefinition.injectable} (its plans kept). */
export function withInjectable<C extends Record<string, unknown>>(def: CompiledElementwise<C>, injectable: InjectableScalars | undefined): CompiledElementwise<C> {
  return compiledDefinition({ ...def, injectable }, def.plan, def.singleLeafPlan);
}

/**
 * The kernel (and its plan) a definition uses on a tree whose leaves have these sizes: the
 * single-leaf kernel where XLA multiplies by a scalar's reciprocal (see kernel/scalar-division.ts).
 */
export function kernelForTree<C extends Record<string, unknown>>(def: CompiledElementwise<C>, leafSizes: readonly number[]): { kernel: Kernel; plan: KernelPlan } {
  if (reciprocalForTree(leafSizes) && def.singleLeafKernel && def.singleLeafPlan) return { kernel: def.singleLeafKernel, plan: def.singleLeafPlan };
  return { kernel: def.kernel, plan: def.plan };
}

/** Splits a state into its control part and its per-element trees, checking that it is one of ours. */
export function splitState<C extends Record<string, unknown>>(def: ElementwiseDefinition<C>, state: unknown): { control: C; trees: Tree[] } {
  if (!isDictNode(state)) {
    throw new OptaxError(`${def.name}: this state does not belong to ${def.name}: expected a dict, got ${describe(state)}`);
  }
  const leafKeys = def.stateLeaves;
  const controlKeys = Object.keys(def.initControl());
  const expected = [...controlKeys, ...leafKeys];
  const keys = Object.keys(state);
  if (!hasExactKeys(state, expected)) {
    throw new OptaxError(`${def.name}: this state does not belong to ${def.name}: expected keys {${showKeys(expected)}}, got {${showKeys(keys)}}`);
  }
  // Filled into a control the definition made, not built anew (Object.fromEntries): its hidden class is
  // the one the fused step's optimized code was specialized for, which a state loaded between steps
  // (setState, setHyperparams) would otherwise change, deoptimizing the step (issue 10).
  const control: Record<string, unknown> = def.initControl();
  for (const k of controlKeys) control[k] = state[k];
  def.checkControl(control);
  return { control: control as C, trees: leafKeys.map((k) => state[k] as Tree) };
}

/** Builds a state from its parts, in the definition's key order. */
export function joinState<C extends Record<string, unknown>>(def: ElementwiseDefinition<C>, control: C, trees: readonly Tree[]): any {
  const state: Record<string, unknown> = { ...control };
  def.stateLeaves.forEach((k, i) => { state[k] = trees[i]; });
  return state;
}

/** Broadcasts the array scalars of a kernel to one leaf. */
export function scalarsForLeaf(scalars: Readonly<Record<string, KernelScalar>>, shape: readonly number[], path: TreePath): Record<string, number | FloatArray> {
  const out: Record<string, number | FloatArray> = {};
  for (const [k, v] of Object.entries(scalars)) out[k] = typeof v === 'number' ? v : broadcastTo(v.data, v.shape, shape, path, `hyperparameter '${k}'`);
  return out;
}

/**
 * Collects the leaves of the update tree and its companion trees (state trees, params), checking
 * structure, dtype and shape. Throws before anything is computed.
 */
export function gatherLeaves(name: string, updates: Updates, trees: readonly Tree[], treeNames: readonly string[], params: Params | null | undefined, needsParams: boolean): { positions: ArrayLeaf[][]; paths: TreePath[]; paramsAt: (i: number) => ArrayLeaf | null } {
  const all: unknown[] = [updates, ...trees];
  const names = ['grads', ...treeNames];
  if (needsParams) {
    // A tree with no leaves at all (e.g. everything masked out) needs no params: optax passes a
    // MaskedNode there, optax-ts null.
    if (params === undefined || (params === null && updates !== null)) throw new OptaxError(`${name} needs params: call update(updates, state, params)`);
    // optax maps over the updates with `is_leaf=lambda x: x is None`: None updates stay None, whatever
    // the params hold (optax's own test: `add_decayed_weights(0.1).update(None, state, params)`).
    if (updates !== null) {
      all.push(params);
      names.push('params');
    }
  }
  const positions: ArrayLeaf[][] = [];
  const paths: TreePath[] = [];
  // The reference comes first: the first state tree (built by init from the params), else the params,
  // else the updates alone. A tree that does not match it is reported under its own name (grads,
  // state.nu, params), with the same wording as the fused engine's (`grads does not match params:
  // missing key(s) b`).
  const order = all.map((_, i) => i);
  if (all.length > 1) order.push(order.shift()!);
  walkTrees(order.map((i) => all[i]), (leaves, path) => {
    const byTree: ArrayLeaf[] = [];
    order.forEach((t, j) => { byTree[t] = leaves[j] as ArrayLeaf; });
    for (let j = 1; j < order.length; j++) {
      const problem = leafMismatch(leafSpec(leaves[j] as ArrayLeaf), names[order[j]], leafSpec(leaves[0] as ArrayLeaf), names[order[0]]);
      if (problem) throw new OptaxError(problem, path, names[order[j]]);
    }
    positions.push(byTree);
    paths.push(path);
  }, { names: order.map((i) => names[i]) });
  const p = needsParams && updates !== null ? all.length - 1 : -1;
  return { positions, paths, paramsAt: (i) => (p >= 0 ? positions[i][p] : null) };
}

/**
 * Makes a {@link GradientTransformation} from an elementwise definition. `update` evaluates the kernel
 * op by op on each leaf (the reference path); `init` makes zero state trees shaped like the params.
 *
 * @example
 * ```ts
 * import { elementwise, ex, roundTo } from 'optax-ts';
 * // optax's trace (heavy-ball momentum), t = g + decay * t_old, u = t, written once: init, update
 * // and the fused engine all derive from it.
 * const t = ex.add(ex.updates, ex.mul(ex.scalar('decay'), ex.state('trace')));
 * const trace = elementwise<Record<string, never>, { trace: { w: Float32Array } }>({
 *   name: 'trace',
 *   kernel: { updates: t, state: { trace: t } },
 *   stateLeaves: ['trace'],
 *   initControl: () => ({}),
 *   checkControl: () => {},
 *   advance: (control) => control,
 *   scalars: (_control, dtype) => ({ decay: roundTo(dtype, 0.9) }), // rounded to the leaf dtype, as JAX does
 * });
 * let state = trace.init({ w: new Float32Array(2) });
 * let u;
 * [u, state] = trace.update({ w: new Float32Array([1, 2]) }, state);
 * [u, state] = trace.update({ w: new Float32Array([1, 2]) }, state);
 * console.log(u.w, Array.from(state.trace.w)); // Float32Array(2) [ 1.899999976158142, 3.799999952316284 ] [ 1.899999976158142, 3.799999952316284 ]
 * ```
 */
export function elementwise<C extends Record<string, unknown>, S>(definition: ElementwiseDefinition<C>): GradientTransformation<S> {
  const d = definition as unknown as Record<string, unknown>;
  if (!isDictNode(d) || typeof d.name !== 'string' || !isDictNode(d.kernel) || !Array.isArray(d.stateLeaves)
    || !['initControl', 'checkControl', 'advance'].every((f) => typeof d[f] === 'function')
    || !(typeof d.scalars === 'function' || (typeof d.writeScalars === 'function' && Array.isArray(d.scalarNames)))) {
    throw new OptaxError(`elementwise: expected a definition {name, kernel, stateLeaves, initControl, checkControl, scalars (or scalarNames and writeScalars), advance}, got ${describe(definition)}`);
  }
  const compiled = compiledDefinition(definition, planKernel(definition.kernel), definition.singleLeafKernel && planKernel(definition.singleLeafKernel));
  const needsParams = compiled.plan.usesParams;
  const leafNames = definition.stateLeaves;
  return {
    name: definition.name,
    elementwise: compiled,
    init(params: Params): S {
      const zeros = leafNames.map(() => treeZerosLike(params));
      return joinState(definition, definition.initControl(), zeros);
    },
    update<U extends Updates>(updates: U, state: S, params?: Params | null, extraArgs?: ExtraArgs): [U, S] {
      const { control, trees } = splitState(definition, state);
      const { positions, paths, paramsAt } = gatherLeaves(definition.name, updates, trees, leafNames.map((k) => `state.${k}`), params, needsParams);
      const { plan } = kernelForTree(compiled, positions.map((l) => leafData(l[0]).length));
      const scalarCache = new Map<Dtype, Readonly<Record<string, KernelScalar>>>();
      const results = positions.map((leaves, i) => {
        const g = leaves[0];
        const dtype = leafDtype(g);
        let scalars = scalarCache.get(dtype);
        if (!scalars) { scalars = definitionScalars(definition, control, dtype, extraArgs); scalarCache.set(dtype, scalars); }
        const state: Record<string, FloatArray> = {};
        leafNames.forEach((k, j) => { state[k] = leafData(leaves[1 + j]); });
        const p = paramsAt(i);
        return evaluateKernel(plan, { dtype, updates: leafData(g), params: p && leafData(p), state, scalars: scalarsForLeaf(scalars, leafShape(g), paths[i]) }, leafNames);
      });
      let i = 0;
      const newUpdates = mapTrees(([g]: ArrayLeaf[]) => leafLike(g, results[i++].updates), [updates]);
      const newTrees = leafNames.map((k, j) => {
        let n = 0;
        return mapTrees(([s]: ArrayLeaf[]) => leafLike(s, results[n++].state[k]), [trees[j]]);
      });
      return [newUpdates, joinState(definition, definition.advance(control), newTrees)];
    },
  };
}

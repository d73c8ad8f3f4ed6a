import { defaultDevice, numpy as np } from '@jax-js/jax';
import type { Dtype } from '../core/dtype.js';
import { roundTo } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { INT32_MAX } from '../core/numerics.js';
import { type LaneWindowOps, laneWindowSums } from '../core/lane-window-sums.js';
import { XLA_REDUCE_WINDOW, xlaReduceWindows } from '../core/xla-reduce-sum.js';
import type { GradientTransformation } from '../core/transformation.js';
import { type CompiledElementwise, definitionScalars, kernelForTree } from '../kernel/elementwise.js';
import { dividesByScalar } from '../kernel/scalar-division.js';
import { applyKernel } from '../transforms/apply-updates.js';
import type { ClipByGlobalNormTransformation } from '../transforms/clip-by-global-norm.js';
import { mapTrees } from '../tree/map.js';
import { describe, isDictNode, walkTrees } from '../tree/structure.js';
import { setOwn, showKeys } from '../tree/node.js';
import { type Mask, type MaskTree, maskTree, resolveMask } from '../transforms/masked.js';
import { type ParamLabels, maskOf, resolveLabels } from '../transforms/partition.js';
import { isBooleanLeaf, mapPrefix } from '../transforms/tree-prefix.js';
import { CountScalars, type HostScalar, hostScalars } from './count-scalars.js';
import { KernelAnchors, float64Array } from './constants.js';
import { lowerEmaAccumulator } from './ema-accumulator.js';
import { recordedCall } from '../spec/record.js';
import type { Hyperparam } from '../core/hyperparams.js';
import { type EmaOptions, ema } from '../transforms/ema.js';
import { ShapedArray } from '../tree/leaf.js';
import { eagerArith } from '../schedules/arith.js';
import type { TreePath } from '../tree/path.js';
import { ArithAnchors, JaxScheduleArith } from './schedule-arith.js';
import { TracedJaxScheduleArith } from './traced-arith.js';
import { lowerTraced } from './traced.js';
import { lowerApplyIfFinite } from './apply-if-finite.js';
import { lowerMultiSteps } from './multi-steps.js';
import { lowerInjectHyperparams } from './inject-hyperparams.js';
import { ScalarReciprocals } from './scalar-reciprocals.js';
import { type Injection, injectionOf } from './injection.js';
import { JAX_LEAF_WHAT, checkJaxTree } from './check-tree.js';
import { runUpdate } from './webgl-kernels.js';
import { type JaxValue, checkBroadcast, deviceHasFloat64, divide, lowerKernel } from './kernel.js';
import { type JaxArray, type JaxTree, isJaxLeaf } from './leaf.js';

/**
 * An optax-ts transformation over pytrees of jax-js arrays, made by {@link toJaxJs}. Follows jax-js's
 * ownership rules (those of `@jax-js/optax`): **every argument is consumed**.
 *
 * - `init(params)` consumes `params` (call `init(params.ref)`, or `init(jax.tree.ref(params))` for a
 *   tree, to keep using them) and returns a new state that the caller owns.
 * - `update(updates, state, params)` consumes all three (pass `params.ref` / `jax.tree.ref(params)`:
 *   the caller still needs them for `applyUpdates`) and returns `[updates, state]`, both owned by the
 *   caller. The old state is gone: use the returned one. When `update` throws an OptaxError for a bad
 *   argument (a tree, shape, dtype or state mismatch), it throws before the first computation of the
 *   part at fault; arrays an earlier part of a chain already used are consumed.
 */
export interface JaxJsTransformation<S = any> {
  /** optax's name of the wrapped transformation (`chain`, `scale_by_adamax`, ...). */
  readonly name: string;
  /** The wrapped optax-ts transformation. */
  readonly tx: GradientTransformation<any>;
  /** The initial state for `params` (consumed): laid out as the pure path's, with jax-js arrays (the count an int32 scalar). */
  init(params: JaxTree): S;
  /** One step: `[newUpdates, newState]`. Consumes `updates`, `state` and `params`. */
  update<U extends JaxTree>(updates: U, state: S, params?: JaxTree | null): [U, S];
  /** Frees the constant tables the steps read (the per-step scalars); the transformation is unusable afterwards. */
  dispose(): void;
}

/** One lowered transformation. `params` is borrowed; `updates` and `state` are consumed. */
export interface Lowered {
  init(params: JaxTree): unknown;
  update(updates: JaxTree, state: unknown, params: JaxTree | null): [JaxTree, unknown];
  dispose(): void;
}

const SUPPORTED = 'chain, masked, partition, clip_by_global_norm, apply_if_finite, MultiSteps, inject_hyperparams (of adamax, adamaxw, scale_by_adamax, scale, scale_by_learning_rate, add_decayed_weights, clip), and the elementwise transformations (scale_by_adamax, scale, scale_by_learning_rate, scale_by_schedule, add_decayed_weights, clip, ema, identity, set_to_zero, and adamax / adamaxw made of them), with number or array hyperparameters, on float32 and float64 leaves';

/** Options of {@link toJaxJs}. */
export interface ToJaxJsOptions {
  /**
   * How the per-step scalars that depend on the count (a schedule's value, adamax's bias correction)
   * are computed in the graph:
   * - `'auto'` (the default on the wasm and cpu devices): `'table'` for a transformation whose scalars
   *   settle within 2^16 steps (adamax's bias correction for b1 up to about
   *   0.9997, a schedule that ends by then), `'graph'` for the others. Both are bit-identical to the
   *   pure path; a table is one gather per step where the graph evaluates `powf`/`cosf` in tens of
   *   operations, several kernels of their own inside `jit`.
   * - `'graph'`: evaluated from the count as jax-js operations, from the same formula the
   *   pure path evaluates (schedules/arith.ts, with src/jax-js/schedule-arith.ts's interpretation:
   *   glibc's `cosf`/`powf` rebuilt from float64 jax-js operations): any count, every float32 schedule.
   *   What it does not lower (float64 cosines and powers, an array decay's bias correction) is read
   *   from a table as in `'table'` where it settles.
   * - `'table'` (the default on WebGPU and WebGL, which have no float64): read from a table of the pure path's values, `take(table, min(count, S))` with S the
   *   count from which they stop changing (at most {@link MAX_TABLE_STEPS}); exponential decays and
   *   schedules that never settle are refused. Bit-identical by construction, whatever the device.
   */
  readonly countScalars?: 'auto' | 'graph' | 'table';
}

/**
 * The longest table `countScalars: 'auto'` builds (256 KiB of float32 per count-dependent scalar,
 * built once by evaluating the pure path's scalars at each count).
 */
const AUTO_TABLE_STEPS = 1 << 16;

/** One elementwise transformation's per-step scalars for leaves of `dtype`, as `mode` says. */
function stepScalarsOf(name: string, def: CompiledElementwise<any>, tx: GradientTransformation<any>, counted: boolean, dtype: Dtype, mode: CountScalarsMode): StepScalars {
  if (mode === 'table') return new CountScalars(name, def, tx, dtype);
  if (mode === 'auto') {
    try {
      return new CountScalars(name, def, tx, dtype, undefined, AUTO_TABLE_STEPS);
    } catch (e) {
      if (!(e instanceof OptaxError)) throw e;
      // It does not settle soon enough (or cannot be tabulated): evaluated from the count in the graph.
    }
  }
  return graphScalars(name, def, tx, counted, dtype);
}

type CountScalarsMode = NonNullable<ToJaxJsOptions['countScalars']>;

/** The lowering of `tx`, or an OptaxError naming what is not supported. */
export function lower(tx: GradientTransformation<any>, options: ToJaxJsOptions = {}): Lowered {
  if (!tx || typeof tx.init !== 'function' || typeof tx.update !== 'function') throw new OptaxError(`toJaxJs: expected a gradient transformation, got ${describe(tx)}`);
  const float64 = deviceHasFloat64();
  const mode = options.countScalars ?? (float64 ? 'auto' : 'table');
  if (mode !== 'auto' && mode !== 'graph' && mode !== 'table') throw new OptaxError(`toJaxJs: countScalars must be 'auto', 'graph' or 'table', got ${describe(mode)}`);
  if (mode !== 'table' && !float64) throw new OptaxError(`toJaxJs: countScalars: '${mode}' needs float64 operations, which the jax-js device '${defaultDevice()}' does not have (use 'wasm' or 'cpu', or countScalars: 'table')`);
  if (tx.parts) return lowerChain(tx.parts.map((p) => lower(p, options)));
  const combinator = tx.combinator;
  if (combinator?.kind === 'masked') {
    const mask = combinator.mask as Mask;
    return lowerMasked(lower(combinator.inner, options), (tree) => resolveMask(mask, tree as any, 'masked'));
  }
  if (combinator?.kind === 'partition') {
    const known = Object.keys(combinator.transforms);
    const groups = known.map((g) => ({ group: g, node: lowerMasked(lower(combinator.transforms[g], options), (tree, name) => maskOf(resolveLabels(combinator.labels as ParamLabels, tree, name, known, isJaxLeaf), g)) }));
    return lowerPartition(groups);
  }
  if (combinator?.kind === 'applyIfFinite') return lowerApplyIfFinite(combinator.maxConsecutiveErrors, lowerTraced(combinator.inner, lower(combinator.inner, options)));
  if (combinator?.kind === 'injectHyperparams') return lowerInjectHyperparams(tx, (inner) => lower(inner, options));
  if (combinator?.kind === 'multiSteps') return lowerMultiSteps(tx, combinator, lowerTraced(combinator.inner, lower(combinator.inner, options)));
  if ((tx as ClipByGlobalNormTransformation).reduction) return lowerClipByGlobalNorm(tx as ClipByGlobalNormTransformation);
  const call = recordedCall(tx);
  if (call?.name === 'ema' && !tx.elementwise) return lowerEma(call.args[0] as Hyperparam, (call.args[1] ?? {}) as EmaOptions, mode);
  if (tx.elementwise) return lowerElementwise(tx, tx.elementwise as CompiledElementwise<any>, mode);
  throw new OptaxError(`toJaxJs: ${tx.name} is not supported by the jax-js adapter yet; it lowers ${SUPPORTED}`);
}

/**
 * optax's `masked`: the inner transformation sees the masked trees (`null` where the mask is false, as
 * optax's MaskedNode); updates where it is false pass through unchanged. `maskFor(tree, name)` is the
 * mask for a tree (a mask function gets the jax-js tree: of `params` in `init`, of `updates` in
 * `update`, as optax).
 */
function lowerMasked(inner: Lowered, maskFor: (tree: JaxTree, treeName: string) => MaskTree): Lowered {
  // optax's MaskedNode is `null` on the pure path; jax-js's pytrees (inside `jit`) take no null, so here
  // it is an empty dict, a subtree without leaves.
  const apply = (tree: JaxTree, mask: MaskTree, name: string): JaxTree => maskTree(tree, mask, name, isJaxLeaf, () => ({}));
  return {
    init: (params) => ({ inner_state: inner.init(apply(params, maskFor(params, 'params'), 'params')) }),
    update(updates, state, params) {
      if (!isDictNode(state) || Object.keys(state).length !== 1 || !Object.hasOwn(state, 'inner_state')) throw new OptaxError(`masked: this state does not belong to masked: expected {inner_state}, got ${describe(state)}`);
      const mask = maskFor(updates, 'updates');
      const maskedUpdates = apply(updates, mask, 'updates');
      const maskedParams = params === null ? null : apply(params, mask, 'params');
      const [innerUpdates, innerState] = inner.update(maskedUpdates, state.inner_state, maskedParams);
      // The inner transformation consumed the masked-in updates; the masked-out ones move to the output.
      const merged = mapPrefix(mask, [updates, innerUpdates], isBooleanLeaf, (keep, [old, fresh]) => (keep ? fresh : old), { prefix: 'mask', trees: ['updates', 'inner updates'], leaf: 'a boolean' }, isJaxLeaf);
      return [merged, { inner_state: innerState }];
    },
    dispose: () => inner.dispose(),
  };
}

/** optax's `partition` (`multi_transform`): each label's transformation, masked to its leaves, in turn. */
function lowerPartition(groups: readonly { group: string; node: Lowered }[]): Lowered {
  const known = groups.map((g) => g.group);
  return {
    init(params) {
      const inner_states: Record<string, unknown> = {};
      for (const { group, node } of groups) setOwn(inner_states, group, node.init(params));
      return { inner_states };
    },
    update(updates, state, params) {
      const s = state as { inner_states?: unknown };
      if (!isDictNode(state) || Object.keys(state).length !== 1 || !isDictNode(s.inner_states) || Object.keys(s.inner_states).length !== known.length || known.some((k) => !Object.hasOwn(s.inner_states as object, k))) {
        throw new OptaxError(`partition: this state does not belong to this partition: expected {inner_states: {${known.join(', ')}}}, got ${describe(isDictNode(state) ? s.inner_states : state)}`);
      }
      const inner_states: Record<string, unknown> = {};
      let u = updates;
      for (const { group, node } of groups) {
        const [nu, ns] = node.update(u, (s.inner_states as Record<string, unknown>)[group], params);
        u = nu;
        setOwn(inner_states, group, ns);
      }
      return [u, { inner_states }];
    },
    dispose: () => groups.forEach((g) => g.node.dispose()),
  };
}

function lowerChain(parts: Lowered[]): Lowered {
  return {
    init: (params) => parts.map((p) => p.init(params)),
    update(updates, state, params) {
      if (!Array.isArray(state) || state.length !== parts.length) throw new OptaxError(`chain: this state does not belong to this chain: expected a list of ${parts.length} states, got ${describe(state)}`);
      const next: unknown[] = [];
      let u = updates;
      parts.forEach((p, i) => {
        const [nu, ns] = p.update(u, state[i], params);
        u = nu;
        next.push(ns);
      });
      return [u, next];
    },
    dispose: () => parts.forEach((p) => p.dispose()),
  };
}

/**
 * The leaves of trees walked together (dict keys sorted, as JAX flattens), checked to match the first tree's
 * shapes and dtypes, with their paths. float32 leaves everywhere; float64 leaves (optax with x64) on
 * devices that compute in float64 (wasm, cpu). `dtypeOf(i, leafDtype)`: the dtype tree `i` must hold
 * where the first tree's leaf has `leafDtype` (default: the same).
 */
export function gather(name: string, trees: readonly unknown[], names: readonly string[], dtypeOf?: (tree: number, leafDtype: Dtype) => Dtype): { positions: JaxArray[][]; paths: TreePath[] } {
  const positions: JaxArray[][] = [];
  const paths: TreePath[] = [];
  walkTrees(trees, (leaves, path) => {
    const ref = leaves[0] as JaxArray;
    if (ref.dtype === 'float64' && !deviceHasFloat64()) throw new OptaxError(`${name}: float64 leaves need a jax-js device that computes in float64 ('wasm' or 'cpu'); '${defaultDevice()}' does not`, path, names[0]);
    if (ref.dtype !== 'float32' && ref.dtype !== 'float64') throw new OptaxError(`${name}: the jax-js adapter takes float32 and float64 leaves (got ${ref.dtype})`, path, names[0]);
    leaves.forEach((l, i) => {
      const a = l as JaxArray;
      const dtype = i === 0 || !dtypeOf ? ref.dtype : dtypeOf(i, ref.dtype as Dtype);
      if (a.dtype !== dtype || a.shape.length !== ref.shape.length || a.shape.some((d, j) => d !== ref.shape[j])) {
        throw new OptaxError(`${names[i]} does not match ${names[0]}: ${a.dtype}[${a.shape.join(', ')}] vs ${dtype}[${ref.shape.join(', ')}]`, path, names[i]);
      }
    });
    positions.push(leaves as JaxArray[]);
    paths.push(path);
  }, { isLeaf: isJaxLeaf, names, leafWhat: JAX_LEAF_WHAT });
  return { positions, paths };
}

/** Rebuilds a tree shaped like `like` with `values` (in flattening order) at its leaves. */
export function rebuild(like: unknown, values: readonly JaxArray[]): any {
  let i = 0;
  return mapTrees(() => values[i++], [like], { isLeaf: isJaxLeaf });
}

/** The per-step scalars of one elementwise transformation, for leaves of one dtype, at a count in the graph. */
export interface StepScalars {
  /** The scalars at `count` (consumed: pass `.ref`; null when the state keeps no count), owned by the caller. */
  at(count: JaxArray | null): Record<string, JaxValue>;
  dispose(): void;
}

/**
 * The scalars evaluated in the graph from the count: those that depend on it through the definition's
 * `countScalars` (the formula the pure path evaluates, here with {@link JaxScheduleArith}), the others
 * constants of the graph. What the graph cannot evaluate (a float64 cosine, an array decay's bias
 * correction: see JaxScheduleArith) is read from a table of the pure path's values instead
 * ({@link CountScalars}) when it settles; otherwise the OptaxError names both reasons. `traced`: as
 * optax computes them inside `lax.cond` (apply_if_finite, MultiSteps), with
 * {@link TracedJaxScheduleArith} (a table then holds the pure path's traced values).
 */
export function graphScalars(name: string, def: CompiledElementwise<any>, tx: GradientTransformation<any> | null, counted: boolean, dtype: Dtype, traced = false): StepScalars {
  const constants = hostScalars(definitionScalars(def, counted ? { count: 0 } : {}, dtype, undefined, traced));
  const table = (): StepScalars => {
    if (!tx) throw new OptaxError(`toJaxJs: ${name}: its per-step scalars depend on the count in a way the jax-js adapter cannot evaluate in the graph (not supported)`);
    return new CountScalars(name, def, tx, dtype, undefined, undefined, traced);
  };
  if (counted && !def.countScalars) {
    // A definition that does not say how its scalars depend on the count: its scalars are constants,
    // or (an array decay's bias correction) read from a table.
    const same = [1, 2, 1000, INT32_MAX].every((c) => {
      const other = hostScalars(definitionScalars(def, { count: c }, dtype, undefined, traced));
      return Object.keys(constants).every((k) => sameHost(constants[k], other[k]));
    });
    if (!same) return table();
  }
  const anchors = new ArithAnchors();
  const evaluate = (count: JaxArray): Record<string, JaxValue> => {
    const arith = traced ? new TracedJaxScheduleArith(name, anchors) : new JaxScheduleArith(name, anchors);
    try {
      const values = def.countScalars!(arith.input(count), dtype, arith);
      return arith.finishAll(values, dtype);
    } finally {
      arith.release();
      count.dispose();
    }
  };
  if (counted && def.countScalars) {
    // Built now on a count of 0, so that what cannot be lowered fails at toJaxJs, not at a step.
    try {
      disposeValues(evaluate(np.array(0, { dtype: np.int32 })));
    } catch (graphError) {
      anchors.dispose();
      if (!(graphError instanceof OptaxError) || !tx) throw graphError;
      try {
        return table();
      } catch (tableError) {
        if (!(tableError instanceof OptaxError)) throw tableError;
        throw new OptaxError(`${graphError.message}; nor can it be tabulated: ${tableError.message}`);
      }
    }
  }
  return {
    at(count) {
      const out: Record<string, JaxValue> = { ...constants };
      if (count === null) return out;
      if (!def.countScalars) {
        count.dispose();
        return out;
      }
      return Object.assign(out, evaluate(count));
    },
    dispose: () => anchors.dispose(),
  };
}

function sameHost(a: HostScalar, b: HostScalar): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b);
  return a.data.length === b.data.length && a.data.every((x, i) => Object.is(x, b.data[i]));
}

/**
 * The scalars of a stage of an `injectHyperparams` inner transformation: its `injectable` formula, the
 * injected hyperparameters read from the arrays the step holds (the others, numbers, as built), the
 * count-dependent ones from the stage's count, all in the graph. Where the graph cannot evaluate the
 * count-dependent ones (a float64 bias correction: glibc's `pow`) and none of the hyperparameters they
 * read is injected (adamax with `staticArgs: 'b1'`), those come from `builtCountScalars` (the stage as
 * built: its table of the pure path's values), the others from the formula.
 */
function injectedScalars(name: string, def: CompiledElementwise<any>, injection: Injection, dtype: Dtype, builtCountScalars: () => StepScalars): StepScalars {
  const formula = def.injectable!;
  const anchors = new ArithAnchors();
  const make = (fromBuilt: StepScalars | null): StepScalars => ({
    at(count) {
      const current = injection.current;
      if (!current) throw new OptaxError(`internal: ${name}: an injected stage run outside its inject_hyperparams step`);
      const h: Record<string, number | JaxArray> = { ...formula.hyperparams };
      for (const k of Object.keys(h)) if (injection.names.has(k)) h[k] = current.values[k];
      const arith = new JaxScheduleArith(name, anchors);
      if (fromBuilt) {
        // The formula at a count of 0 (its count-dependent values, numbers then, are replaced), the
        // count-dependent scalars from the stage as built, at the stage's count.
        const anchor = current.count.ref;
        arith.input(anchor); // the constants' anchor (see ArithAnchors)
        anchor.dispose();
        const values = arith.finishAll(formula.scalars(h, 0, dtype, arith), dtype);
        const built = fromBuilt.at(count);
        for (const k of Object.keys(built)) {
          if (countKeys.has(k)) values[k] = built[k] as number | JaxArray;
          else if (typeof built[k] !== 'number' && !(built[k] instanceof ShapedArray)) (built[k] as JaxArray).dispose();
        }
        return values;
      }
      const c = count ?? current.count.ref;
      const values = formula.scalars(h, arith.input(c), dtype, arith);
      c.dispose();
      return arith.finishAll(values, dtype);
    },
    dispose: () => { anchors.dispose(); fromBuilt?.dispose(); },
  });
  // The count-dependent scalars' names (from the stage's own countScalars, on numbers).
  const countKeys = new Set(def.countScalars ? Object.keys(def.countScalars(0, dtype, eagerArith)) : []);
  // Evaluated once now on arrays of the built values, so that what cannot be lowered (a power whose
  // base is an injected hyperparameter) fails at toJaxJs, not at a step.
  const probe = (scalars: StepScalars): void => {
    const values: Record<string, JaxArray> = {};
    for (const [k, v] of Object.entries(formula.hyperparams)) if (injection.names.has(k)) values[k] = dtype === 'float64' ? float64Array([v], []) : np.array(v, { dtype: np.float32 });
    const saved = injection.current;
    injection.current = { values, count: np.array(0, { dtype: np.int32 }) };
    try {
      disposeValues(scalars.at(np.array(0, { dtype: np.int32 })));
    } finally {
      injection.current.count.dispose();
      Object.values(values).forEach((a) => a.dispose());
      injection.current = saved;
    }
  };
  const inGraph = make(null);
  try {
    probe(inGraph);
    return inGraph;
  } catch (graphError) {
    const fromBuilt = graphError instanceof OptaxError && countKeys.size > 0 && formula.countHyperparams !== undefined && !formula.countHyperparams.some((k) => injection.names.has(k));
    if (!fromBuilt) {
      anchors.dispose();
      throw graphError;
    }
  }
  let built: StepScalars | undefined;
  try {
    built = builtCountScalars();
    const scalars = make(built);
    probe(scalars);
    return scalars;
  } catch (e) {
    built?.dispose();
    anchors.dispose();
    throw e;
  }
}

function lowerElementwise(tx: GradientTransformation<any>, def: CompiledElementwise<any>, mode: CountScalarsMode): Lowered {
  const name = def.name;
  const controlKeys = Object.keys(def.initControl());
  if (controlKeys.some((k) => k !== 'count')) throw new OptaxError(`toJaxJs: ${name}: its state keeps ${controlKeys.join(', ')}; the jax-js adapter supports a step count only (not supported yet)`);
  const counted = controlKeys.length === 1;
  const leafNames = def.stateLeaves;
  const usesParams = def.plan.usesParams || !!def.singleLeafPlan?.usesParams;
  const injection = injectionOf(def);
  const scalarsFor = (dtype: Dtype): StepScalars => {
    if (injection) return injectedScalars(name, def, injection, dtype, () => stepScalarsOf(name, def, tx, counted, dtype, mode));
    return stepScalarsOf(name, def, tx, counted, dtype, mode);
  };
  // float32's built now, so that what the adapter cannot lower fails at toJaxJs, not at the first step;
  // float64's (x64) at the first step with float64 leaves.
  const stepScalars = new Map<Dtype, StepScalars>([['float32', scalarsFor('float32')]]);
  const anchors = new KernelAnchors();
  return {
    init(params) {
      gather(name, [params], ['params']);
      const state: Record<string, unknown> = {};
      if (counted) state.count = np.array(0, { dtype: np.int32 });
      for (const k of leafNames) state[k] = mapTrees(([p]: JaxArray[]) => np.zeros(p.shape, { dtype: p.dtype }), [params], { isLeaf: isJaxLeaf, root: 'params' });
      return state;
    },
    update(updates, state, params) {
      const expected = [...controlKeys, ...leafNames];
      if (!isDictNode(state) || Object.keys(state).length !== expected.length || expected.some((k) => !Object.hasOwn(state, k))) {
        throw new OptaxError(`${name}: this state does not belong to ${name}: expected keys {${showKeys(expected)}}, got ${isDictNode(state) ? `{${showKeys(Object.keys(state))}}` : describe(state)}`);
      }
      const count = counted ? state.count : null;
      if (counted && (!isJaxLeaf(count) || count.dtype !== 'int32' || count.shape.length !== 0)) throw new OptaxError(`${name}: state.count must be an int32 scalar jax-js array, got ${isJaxLeaf(count) ? `${count.dtype}[${count.shape.join(', ')}]` : describe(count)}`);
      const needsParams = usesParams && updates !== null;
      if (needsParams && (params === null || params === undefined)) throw new OptaxError(`${name} needs params: call update(updates, state, params)`);
      const trees = [updates, ...leafNames.map((k) => state[k]), ...(needsParams ? [params] : [])];
      const { positions, paths } = gather(name, trees, ['grads', ...leafNames.map((k) => `state.${k}`), ...(needsParams ? ['params'] : [])]);
      const { kernel } = kernelForTree(def, positions.map((l) => l[0].size));
      // The scalars of each dtype the tree holds (built before anything is consumed), then checked
      // against every leaf: an array hyperparameter must broadcast against it.
      const dtypes = [...new Set(positions.map((l) => l[0].dtype as Dtype))];
      for (const d of dtypes) if (!stepScalars.has(d)) stepScalars.set(d, scalarsFor(d));
      const hostByDtype = new Map(dtypes.map((d) => [d, hostScalars(definitionScalars(def, counted ? { count: 0 } : {}, d, undefined))]));
      positions.forEach((l, i) => {
        for (const [k, v] of Object.entries(hostByDtype.get(l[0].dtype as Dtype)!)) if (typeof v !== 'number') checkBroadcast(v.shape, l[0].shape, paths[i], `hyperparameter '${k}'`);
      });
      const scalarsByDtype = new Map(dtypes.map((d) => [d, stepScalars.get(d)!.at(count === null ? null : (count as JaxArray).ref)]));
      // Each scalar divisor's reciprocal, made once for all the leaves (scalar-reciprocals.ts).
      const reciprocals = new Map(dtypes.map((d) => {
        const source = stepScalars.get(d);
        const fromTable = source instanceof CountScalars && count !== null ? (k: string) => source.reciprocalAt(k, count as JaxArray) : undefined;
        return [d, new ScalarReciprocals(scalarsByDtype.get(d)!, fromTable)];
      }));
      const outUpdates: JaxArray[] = [];
      const outState: JaxArray[][] = leafNames.map(() => []);
      for (const leaves of positions) {
        const st: Record<string, JaxArray> = {};
        leafNames.forEach((k, j) => { st[k] = leaves[1 + j]; });
        const dtype = leaves[0].dtype as Dtype;
        const recip = reciprocals.get(dtype)!;
        const out = lowerKernel(name, kernel, leafNames, { updates: leaves[0], params: needsParams ? leaves[leaves.length - 1] : null, state: st, scalars: scalarsByDtype.get(dtype)!, reciprocal: (k) => recip.get(k) }, dtype, anchors);
        // The kernel borrowed the gradient and the old state; they are consumed here (params are the caller's).
        leaves.slice(0, 1 + leafNames.length).forEach((a) => a.dispose());
        outUpdates.push(out.updates);
        leafNames.forEach((k, j) => outState[j].push(out.state[k]));
      }
      for (const sc of scalarsByDtype.values()) disposeValues(sc);
      for (const r of reciprocals.values()) r.dispose();
      const next: Record<string, unknown> = {};
      if (counted) {
        const c = count as JaxArray;
        // int32, saturating at 2^31-1 as optax's safe_increment.
        next.count = np.where(np.equal(c.ref, INT32_MAX), c.ref, np.add(c, 1));
      }
      leafNames.forEach((k, j) => { next[k] = rebuild(state[k], outState[j]); });
      return [rebuild(updates, outUpdates), next];
    },
    dispose: () => {
      for (const sc of stepScalars.values()) sc.dispose();
      anchors.dispose();
    },
  };
}

/** `ema` with an `accumulatorDtype` (ema-accumulator.ts), its scalars those of the plain `ema` definition. */
function lowerEma(decay: Hyperparam, options: EmaOptions, mode: CountScalarsMode): Lowered {
  const inner = ema(decay, { debias: options.debias ?? true });
  const def = inner.elementwise as CompiledElementwise<any>;
  const scalarsFor = (dtype: Dtype): StepScalars => stepScalarsOf('ema', def, inner, true, dtype, mode);
  const stepScalars = new Map<Dtype, StepScalars>([['float32', scalarsFor('float32')]]);
  const anchors = new KernelAnchors();
  const lowered = lowerEmaAccumulator(decay, options.debias ?? true, options.accumulatorDtype!, {
    anchors,
    scalarsAt: (dtype, count) => {
      if (!stepScalars.has(dtype)) stepScalars.set(dtype, scalarsFor(dtype));
      return stepScalars.get(dtype)!.at(count);
    },
    dispose: disposeValues,
    gather,
    rebuild,
  });
  return {
    init: (params) => lowered.init(params),
    update: (updates, state) => lowered.update(updates, state),
    dispose: () => {
      for (const sc of stepScalars.values()) sc.dispose();
      anchors.dispose();
    },
  };
}

/** laneWindowSums' operations as jax-js operations (each consumes its operands). */
function jaxLaneOps(windows: JaxArray): LaneWindowOps<JaxArray> {
  const dtype = windows.dtype;
  return {
    zeros: (count) => np.zeros([count, 1], { dtype }),
    padColumns: (t, n) => np.pad(t, [[0, 0], [0, n]]),
    reshape: (t, shape) => np.reshape(t, shape),
    split: (t, axis, n) => np.split(t, n, axis).map((piece) => np.squeeze(piece, axis)),
    add: (x, y) => np.add(x, y),
    halves: (t) => np.split(t, 2, 1) as [JaxArray, JaxArray],
  };
}

/**
 * `jnp.sum(x)` with XLA:CPU's windows (`xlaReduceWindows`): each level pads with zeros (which add
 * nothing to a sum of squares: `s + 0 = s` for `s >= 0`, and NaN stays NaN), groups every window's
 * elements, row-major, into one row, and sums each row (in lanes where the last dimension is
 * padded: `laneWindowSums`); the last level's sums are summed whole.
 */
export function xlaOrderedSum(x: JaxArray): JaxArray {
  const { levels } = xlaReduceWindows(x.shape);
  if (levels.length === 0) return np.sum(x);
  const dtype: Dtype = x.dtype === np.float64 ? 'float64' : 'float32';
  let y = x;
  for (const { dims, window, out, padLow, padHigh, laneRows } of levels) {
    y = np.reshape(y, [...dims]);
    if (padLow.some((p) => p) || padHigh.some((p) => p)) y = np.pad(y, dims.map((_, k) => [padLow[k], padHigh[k]] as [number, number]));
    y = np.reshape(y, out.flatMap((o, k) => [o, window[k]]));
    y = np.transpose(y, [...dims.map((_, k) => 2 * k), ...dims.map((_, k) => 2 * k + 1)]);
    const count = out.reduce((a, b) => a * b, 1), width = window.reduce((a, b) => a * b, 1);
    if (laneRows) {
      const windows = np.reshape(y, [count, width / XLA_REDUCE_WINDOW, XLA_REDUCE_WINDOW]);
      y = laneWindowSums(jaxLaneOps(windows), windows, count, width / XLA_REDUCE_WINDOW, dtype);
      continue;
    }
    // One full sum per window: jax-js's full sum adds in order, its sum along an axis does not
    // (measured, jax-js 0.1.25 wasm).
    const rows = np.split(np.reshape(y, [count, width]), count, 0);
    y = np.stack(rows.map((row) => np.sum(row)));
  }
  return np.sum(y);
}

function lowerClipByGlobalNorm(tx: ClipByGlobalNormTransformation): Lowered {
  const { maxNorm, kernel, divisionKernel } = tx.reduction;
  const name = tx.name;
  const anchors = new KernelAnchors();
  return {
    init: (params) => { gather(name, [params], ['params']); return {}; },
    update(updates, state) {
      if (!isDictNode(state) || Object.keys(state).length !== 0) throw new OptaxError(`${name}: this state does not belong to ${name}: expected {} (it keeps no state), got ${describe(state)}`);
      const { positions } = gather(name, [updates], ['grads']);
      if (positions.length === 0) return [updates, {}];
      // optax.tree.norm: each leaf's sum of squares in its dtype, added from 0 in flattening order
      // (promoted to float64 from the first float64 sum on: combineLeafSums), then sqrt. A leaf's sum
      // follows XLA's windows (xlaReduceWindows); inside a window, and for what is left, jax-js's full
      // sum, measured to add in order (see the README on parity).
      let total: JaxArray | undefined;
      for (const [g] of positions) {
        let s = xlaOrderedSum(np.square(g.ref));
        if (total !== undefined && total.dtype !== s.dtype) {
          if (total.dtype === 'float32') total = total.astype(np.float64);
          else s = s.astype(np.float64);
        }
        total = total === undefined ? s : np.add(total, s);
      }
      const normDtype = total!.dtype as Dtype;
      const norm = np.sqrt(total!);
      // optax's trigger (in the norm's dtype): when norm < max_norm every scalar is 1, which leaves each
      // update as it was.
      // (A float64 number reaches jax-js's graph as a float32 literal: float64 constants are anchored.)
      const constant = (d: Dtype, v: number): number | JaxArray => (d === 'float32' ? roundTo(d, v) : anchors.literal(d, v));
      const trigger = np.less(norm.ref, constant(normDtype, maxNorm));
      // Per leaf dtype: the norm cast to it, its reciprocal and max_norm in it (writeClipScalars).
      const dtypes = [...new Set(positions.map(([g]) => g.dtype as Dtype))];
      const scalarsByDtype = new Map(dtypes.map((d) => {
        const n = d === normDtype ? norm.ref : norm.ref.astype(np.float32);
        const inv = d === 'float32' ? np.trueDivide(1, n.ref) : divide(1, n.ref, 'float64', anchors, 0);
        const scalars: Record<string, JaxValue> = {
          inv_norm: np.where(trigger.ref, 1, inv),
          norm: np.where(trigger.ref, 1, n),
          max_norm: np.where(trigger.ref, 1, constant(d, maxNorm)),
        };
        return [d, scalars] as const;
      }));
      norm.dispose();
      trigger.dispose();
      const out = positions.map(([g]) => {
        const d = g.dtype as Dtype;
        const r = lowerKernel(name, dividesByScalar(g.size) ? divisionKernel : kernel, [], { updates: g, params: null, state: {}, scalars: scalarsByDtype.get(d)! }, d, anchors);
        g.dispose();
        return r.updates;
      });
      for (const sc of scalarsByDtype.values()) disposeValues(sc);
      return [rebuild(updates, out), {}];
    },
    dispose: () => anchors.dispose(),
  };
}

export function disposeValues(values: Record<string, JaxValue>): void {
  for (const v of Object.values(values)) if (typeof v !== 'number' && !(v instanceof ShapedArray)) v.dispose();
}

/**
 * `params + updates`, leaf by leaf (optax's `apply_updates`, the same `p + u` kernel as the pure path).
 * Consumes both trees; returns the new params, owned by the caller.
 *
 * @example
 * ```ts
 * import * as jax from '@jax-js/jax';
 * import { applyUpdates } from 'optax-ts/jax-js';
 * await jax.init('wasm');
 * jax.defaultDevice('wasm');
 * const np = jax.numpy;
 * const params = applyUpdates({ w: np.array([1, 2]) }, { w: np.array([0.5, -0.5]) });
 * console.log(await params.w.data()); // Float32Array(2) [ 1.5, 1.5 ]
 * ```
 */
export function applyUpdates<P extends JaxTree>(params: P, updates: JaxTree): P {
  checkJaxTree('apply_updates', params, 'params');
  checkJaxTree('apply_updates', updates, 'updates');
  const { positions } = gather('apply_updates', [params, updates], ['params', 'updates']);
  const out = positions.map(([p, u]) => {
    // p + u: no constant, so no anchors.
    const r = lowerKernel('apply_updates', applyKernel, [], { updates: u, params: p, state: {}, scalars: {} }, p.dtype as Dtype, null);
    p.dispose();
    u.dispose();
    return r.updates;
  });
  return rebuild(params, out);
}

/** Wraps a lowered transformation with the public ownership rules (params consumed). */
export function wrap(tx: GradientTransformation<any>, node: Lowered): JaxJsTransformation {
  const disposeTree = (t: JaxTree | null | undefined): void => {
    if (t === null || t === undefined) return;
    walkTrees([t], ([a]) => (a as JaxArray).dispose(), { isLeaf: isJaxLeaf, names: ['params'] });
  };
  return {
    name: tx.name,
    tx,
    init(params) {
      checkJaxTree(tx.name, params, 'params');
      const state = node.init(params);
      disposeTree(params);
      return state;
    },
    update(updates, state, params) {
      // Every tree checked before any array is consumed (a freed or non-jax-js leaf named by its path).
      checkJaxTree(tx.name, updates, 'grads');
      checkJaxTree(tx.name, state, 'state');
      checkJaxTree(tx.name, params, 'params');
      // On WebGL, inside jit: kernels cut down to what its shader compiler takes, or refused before anything is consumed.
      const out = runUpdate(tx.name, (u, s, p) => node.update(u, s, p), updates, state, params ?? null);
      disposeTree(params);
      return out as [any, any];
    },
    dispose: () => node.dispose(),
  };
}

import { numpy as np } from '@jax-js/jax';
import { OptaxError } from '../core/errors.js';
import { INT32_MAX } from '../core/numerics.js';
import type { GradientTransformation } from '../core/transformation.js';
import type { Expr, Kernel } from '../kernel/expr.js';
import { topologicalOrder } from '../kernel/expr.js';
import { maskTree, resolveMask } from '../transforms/masked.js';
import { type Stage, composeTraced, rebuildState, stagesOf, stateAt, tracedStateRoots } from '../transforms/traced.js';
import { describe, isDictNode, walkTrees } from '../tree/structure.js';
import { showKeys } from '../tree/node.js';
import { type JaxValue, deviceHasFloat64, lowerKernel } from './kernel.js';
import { KernelAnchors } from './constants.js';
import { type JaxArray, type JaxTree, isJaxLeaf } from './leaf.js';
import { type Lowered, type StepScalars, disposeValues, gather, graphScalars, rebuild } from './transformation.js';
import type { Dtype } from '../core/dtype.js';
import { CountScalars } from './count-scalars.js';

/** The result of a traced step: as {@link Lowered}'s, plus MultiSteps' pre-scale value (see transforms/traced.ts). */
export interface TracedStep {
  readonly updates: JaxTree;
  readonly state: unknown;
  /** `y` where the computation ends with `u = c * y`, `c` a constant (every leaf), else undefined. */
  readonly preScale?: JaxTree;
}

/** A transformation lowered as optax runs it inside `lax.cond` (apply_if_finite, MultiSteps). */
export interface TracedLowered {
  init(params: JaxTree): unknown;
  /** One step; `updates` and `state` consumed, `params` borrowed. `computedUpdates`: see transforms/traced.ts. */
  update(updates: JaxTree, state: unknown, params: JaxTree | null, computedUpdates: boolean): TracedStep;
  dispose(): void;
}

/**
 * `tx` lowered with optax's traced numerics, as the pure path's `tracedUpdate` computes them
 * (transforms/traced.ts): a transformation made of elementwise stages (alone, chained, or masked with a
 * tree of booleans) is composed into one expression graph per leaf by the same `composeTraced`,
 * rewritten as XLA and LLVM do (fused multiply-adds: fma.ts), its per-step scalars evaluated from the
 * counts in the graph as traced schedules. Any other transformation runs as `plain` lowers it (eager
 * numerics, as on the pure path).
 */
export function lowerTraced(tx: GradientTransformation<any>, plain: Lowered): TracedLowered {
  // optax traces an inject_hyperparams step inside lax.cond too (its schedules traced, its hyperparameters
  // operands): not lowered.
  if (tx.combinator?.kind === 'injectHyperparams') throw new OptaxError('toJaxJs: inject_hyperparams directly inside apply_if_finite or MultiSteps (traced by optax) is not lowered by the jax-js adapter');
  const stages = stagesOf(tx);
  if (!stages) {
    return {
      init: (params) => plain.init(params),
      update(updates, state, params) {
        const [u, s] = plain.update(updates, state, params);
        return { updates: u, state: s };
      },
      dispose: () => plain.dispose(),
    };
  }
  const roots = tracedStateRoots(stages);
  const counted = stages.map((st) => Object.hasOwn(st.def.initControl(), 'count'));
  const anchors = new KernelAnchors();
  // Each stage's traced scalars for leaves of a dtype: evaluated in the graph where the device has
  // float64, else (webgl, webgpu) read from a table of the pure path's traced values. float32's built
  // now, so that what cannot be lowered fails at toJaxJs; float64's (x64) at the first step with
  // float64 leaves.
  const scalarsFor = (dtype: Dtype): StepScalars[] => stages.map((st, i) => {
    const own = stageTransformation(tx, st);
    return deviceHasFloat64() ? graphScalars(st.def.name, st.def, own, counted[i], dtype, true) : new CountScalars(st.def.name, st.def, own, dtype, undefined, undefined, true);
  });
  const scalars = new Map<Dtype, StepScalars[]>([['float32', scalarsFor('float32')]]);
  return {
    init: (params) => plain.init(params),
    update(updates, state, params, computedUpdates) {
      const name = tx.name;
      // Each stage's state: its count and its state trees, checked as the plain lowering checks them.
      const parts = stages.map((st, i) => stageState(st, stateAt(state, st.path, tx), counted[i]));
      const { positions } = gather(name, [updates], ['grads']);
      const leaves = positions.map((p) => p[0]);
      // Which leaves each masked stage runs on.
      const inside = stages.map((st) => {
        if (st.mask === undefined) return undefined;
        const kept = new Set<unknown>();
        walkTrees([maskTree(updates, resolveMask(st.mask, updates as any, 'masked'), 'updates', isJaxLeaf, () => ({}))], ([l]) => { kept.add(l); }, { isLeaf: isJaxLeaf, names: ['updates'] });
        return leaves.map((l) => kept.has(l));
      });
      const runsOn = (i: number, li: number): boolean => inside[i] === undefined || inside[i]![li];
      const signature = (li: number): string => stages.map((_, i) => (runsOn(i, li) ? '1' : '0')).join('');
      const outputNames = roots.map((_, k) => `state${k}`);
      const kernels = new Map<string, { kernel: Kernel; usesParams: boolean; scaled: boolean }>();
      const kernelFor = (li: number) => {
        const sig = signature(li);
        let k = kernels.get(sig);
        if (!k) {
          const t = composeTraced(stages, (i) => sig[i] === '1', (i) => leaves.filter((_, lj) => runsOn(i, lj)).map((l) => l.size), { computedUpdates });
          const state: Record<string, Expr> = {};
          outputNames.forEach((n, j) => { state[n] = t.states[j]; });
          // The pre-scale value only for MultiSteps (computedUpdates), which reads it: apply_if_finite
          // does not, and an output nobody reads is an array computed and left alive (eagerly).
          if (t.preScale && computedUpdates) state.preScale = t.preScale;
          const usesParams = topologicalOrder([t.updates, ...Object.values(state)]).some((e) => e.kind === 'params');
          kernels.set(sig, (k = { kernel: { updates: t.updates, state }, usesParams, scaled: state.preScale !== undefined }));
        }
        return k;
      };
      leaves.forEach((_, li) => kernelFor(li));
      const needsParams = [...kernels.values()].some((k) => k.usesParams) && leaves.length > 0;
      if (needsParams && params === null) throw new OptaxError(`${name} needs params: call update(updates, state, params)`);
      // The pre-scale (MultiSteps' folded zeros), leaf by leaf as XLA folds it (tracedUpdate): a leaf
      // whose computation has none gets its update.
      const scaled = [...kernels.values()].some((k) => k.scaled);
      const trees = roots.map((r) => parts[r.stage].trees[stages[r.stage].def.stateLeaves.indexOf(r.leaf)]);
      const { positions: all } = gather(name, [updates, ...trees, ...(needsParams ? [params] : [])], ['grads', ...roots.map((r) => `state.${r.name}`), ...(needsParams ? ['params'] : [])]);
      // The scalars of each dtype the tree holds, as the pure path's per-dtype cache.
      const dtypes = [...new Set(all.map((row) => row[0].dtype as Dtype))];
      for (const d of dtypes) if (!scalars.has(d)) scalars.set(d, scalarsFor(d));
      const valuesByDtype = new Map(dtypes.map((d) => {
        const values: Record<string, JaxValue> = {};
        scalars.get(d)!.forEach((sc, i) => { for (const [k, v] of Object.entries(sc.at(counted[i] ? parts[i].count!.ref : null))) values[`${i}/${k}`] = v; });
        return [d, values] as const;
      }));
      const outUpdates: JaxArray[] = [];
      const outStates: JaxArray[][] = roots.map(() => []);
      const outPre: JaxArray[] = [];
      all.forEach((row, li) => {
        const { kernel } = kernelFor(li);
        const names = Object.keys(kernel.state);
        const st: Record<string, JaxArray> = {};
        roots.forEach((r, k) => { st[r.name] = row[1 + k]; });
        const dtype = row[0].dtype as Dtype;
        const out = lowerKernel(name, kernel, names, { updates: row[0], params: needsParams ? row[row.length - 1] : null, state: st, scalars: valuesByDtype.get(dtype)! }, dtype, anchors);
        row.slice(0, 1 + roots.length).forEach((a) => a.dispose());
        outUpdates.push(out.updates);
        outputNames.forEach((n, k) => outStates[k].push(out.state[n]));
        if (scaled) outPre.push(out.state.preScale ?? out.updates.ref);
      });
      for (const values of valuesByDtype.values()) disposeValues(values);
      const newStates = new Map<string, unknown>();
      stages.forEach((st, i) => {
        const next: Record<string, unknown> = {};
        if (counted[i]) {
          const c = parts[i].count!;
          next.count = np.where(np.equal(c.ref, INT32_MAX), c.ref, np.add(c, 1));
        }
        st.def.stateLeaves.forEach((leaf) => {
          const k = roots.findIndex((r) => r.stage === i && r.leaf === leaf);
          next[leaf] = rebuild(trees[k], outStates[k]);
        });
        newStates.set(st.path.join('/'), next);
      });
      return {
        updates: rebuild(updates, outUpdates),
        state: rebuildState(tx, newStates),
        ...(scaled ? { preScale: rebuild(updates, outPre) } : {}),
      };
    },
    dispose: () => { for (const list of scalars.values()) list.forEach((s) => s.dispose()); anchors.dispose(); plain.dispose(); },
  };
}

/** A stage's count (when it keeps one) and its state trees, checked to belong to it. */
function stageState(st: Stage, state: unknown, counted: boolean): { count: JaxArray | null; trees: unknown[] } {
  const name = st.def.name;
  const expected = [...(counted ? ['count'] : []), ...st.def.stateLeaves];
  if (!isDictNode(state) || Object.keys(state).length !== expected.length || expected.some((k) => !Object.hasOwn(state, k))) {
    throw new OptaxError(`${name}: this state does not belong to ${name}: expected keys {${showKeys(expected)}}, got ${isDictNode(state) ? `{${showKeys(Object.keys(state))}}` : describe(state)}`);
  }
  const count = counted ? state.count : null;
  if (counted && (!isJaxLeaf(count) || count.dtype !== 'int32' || count.shape.length !== 0)) throw new OptaxError(`${name}: state.count must be an int32 scalar jax-js array, got ${isJaxLeaf(count) ? `${count.dtype}[${count.shape.join(', ')}]` : describe(count)}`);
  return { count: count as JaxArray | null, trees: st.def.stateLeaves.map((k) => state[k]) };
}

/** The transformation a stage's definition belongs to (the masked one's inner), for its schedule's record. */
function stageTransformation(tx: GradientTransformation<any>, st: Stage): GradientTransformation<any> {
  let t = tx;
  for (const i of st.path) t = t.parts![i];
  return t.combinator?.kind === 'masked' ? t.combinator.inner : t;
}

import { defaultDevice, numpy as np } from '@jax-js/jax';
import { type Dtype, roundTo } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import type { GradientTransformation } from '../core/transformation.js';
import { recordedCall } from '../spec/record.js';
import { accumulateKernel, runningMeanFactor } from '../transforms/multi-steps.js';
import { MAX_TABLE_STEPS } from '../kernel/count-table.js';
import type { SkipFunction, SkipRule } from '../transforms/skip-updates.js';
import { mapTrees } from '../tree/map.js';
import { describe, isDictNode } from '../tree/structure.js';
import { showKeys } from '../tree/node.js';
import { allFinite, expectScalar, refTree, safeIncrement, selectTrees } from './apply-if-finite.js';
import { deviceHasFloat64, divide, lowerKernel } from './kernel.js';
import { type JaxArray, isJaxLeaf } from './leaf.js';
import type { TracedLowered } from './traced.js';
import { KernelAnchors } from './constants.js';
import { type Lowered, gather, rebuild, xlaOrderedSum } from './transformation.js';

type MultiStepsInfo = Extract<NonNullable<GradientTransformation<any>['combinator']>, { kind: 'multiSteps' }>;

const KEYS = ['mini_step', 'gradient_step', 'inner_opt_state', 'acc_grads', 'skip_state'];

/** `0 * x` as IEEE has it (±0 with x's sign, NaN where x is not finite), with no constant for jax-js's simplifier to fold (`x * 0` becomes 0 there). Consumes x. */
function timesZero(x: JaxArray): JaxArray {
  return np.multiply(x.ref, np.subtract(x.ref, x));
}

/** A built-in skip function's rule, or an OptaxError: a function of your own is JavaScript, not a graph. */
function skipRuleOf(fn: MultiStepsInfo['shouldSkip']): SkipRule | undefined {
  if (fn === undefined) return undefined;
  const rule = (fn as Partial<SkipFunction<unknown>>).skipRule;
  if (!rule) throw new OptaxError('toJaxJs: MultiSteps: a shouldSkipUpdateFn of your own runs in JavaScript and cannot be lowered to the jax-js graph; skipNotFinite and skipLargeUpdates are');
  return rule;
}

/** float64 if any leaf is, else float32 (optax's promotion of a list of per-leaf values; float32 for none). */
function highestDtype(leaves: readonly JaxArray[]): Dtype {
  return leaves.some((l) => l.dtype === 'float64') ? 'float64' : 'float32';
}

/** The skip state of `rule` for these updates (borrowed), and whether to skip, in the graph. */
function skipStep(rule: SkipRule, leaves: readonly JaxArray[]): { skip: JaxArray; state: Record<string, JaxArray> } {
  if (rule.kind === 'not_finite') {
    let count: JaxArray = np.array(0, { dtype: np.int32 });
    for (const g of leaves) count = np.add(count, np.sum(np.logicalNot(np.isfinite(g.ref)).astype(np.int32)));
    const skip = np.greater(count.ref, 0);
    return { skip, state: { should_skip: skip.ref, num_not_finite: count } };
  }
  // skip_large_updates: each leaf's sum of squares in its dtype, in XLA's order (as clipByGlobalNorm's),
  // the sums converted (exactly) to the highest dtype, stacked and reduced by one more XLA sum;
  // `max_squared_norm` rounded to that dtype.
  const dtype = highestDtype(leaves);
  const sums = leaves.map((g) => {
    const s = xlaOrderedSum(np.square(g.ref));
    return s.dtype === dtype ? s : s.astype(np.float64);
  });
  const total = sums.length === 0 ? np.array(0, { dtype: np.float32 }) : xlaOrderedSum(np.stack(sums));
  const skip = np.logicalNot(np.less(total.ref, roundTo(dtype, rule.maxSquaredNorm)));
  return { skip, state: { should_skip: skip.ref, norm_squared: total } };
}

/** The skip state `init` holds: the rule's state for zero updates (no skip, zero count or norm, the norm in the params' highest dtype, as optax's `eval_shape`). */
function initialSkipState(rule: SkipRule | undefined, dtype: Dtype): unknown {
  if (!rule) return [];
  return rule.kind === 'not_finite'
    ? { should_skip: np.array(false), num_not_finite: np.array(0, { dtype: np.int32 }) }
    : { should_skip: np.array(false), norm_squared: np.array(0, { dtype: dtype === 'float64' ? np.float64 : np.float32 }) };
}

/**
 * `r = 1 / (n + 1)` rounded to `dtype` (runningMeanFactor) for the mini-step count `n` (borrowed), in
 * the graph. With float64 (wasm, cpu): the correctly rounded float64 quotient (divide64), rounded once
 * more to float32 for float32, as the pure path's JavaScript division and fround. Without (webgl,
 * webgpu, whose division is not exact): read from a table of the pure path's values for n = 0..k-1
 * (the mini-step count stays below k).
 */
function runningMean(dtype: Dtype, n: JaxArray, k: number, anchors: KernelAnchors): JaxArray {
  if (deviceHasFloat64()) {
    const r = divide(1, np.add(n.ref, 1).astype(np.float64), 'float64', anchors, 0);
    return dtype === 'float64' ? r : r.astype(np.float32);
  }
  const table = np.array(Float32Array.from({ length: k }, (_, i) => runningMeanFactor(i, 'float32')));
  return np.take(table, np.clip(n.ref, 0, k - 1));
}

/**
 * optax's `MultiSteps` in the jax-js graph, without a readback: the running mean (or sum) by the same
 * `accumulateKernel` as the pure path (`fma(g - acc, 1/(n+1), acc)`, the fma built exactly: fma.ts),
 * the inner step always computed traced (`inner`, with `computedUpdates`: optax's `lax.cond`), then
 * `emit = mini_step == k - 1` selects with `where`: the inner update or optax's zeros as XLA
 * simplifies `emit * u` (the pure path's `silentUpdates`: +0 on a rank-0 leaf, `+0 * y` with `y` the
 * update before a constant final factor on leaves of two or more elements, else `+0 * u`), the new or
 * the old inner state, and `0 * acc` or `acc`. A built-in skip function is evaluated in the graph too,
 * and a skipped mini-step selects zeros and the old state but for `skip_state`.
 *
 * `everyKSchedule` must be a number (a function of the step runs in JavaScript). Leaves of float32 or
 * float64 (x64), the accumulator in `accumulatorDtype` (float32 by default, even for float64 leaves, as
 * optax; `null`: each leaf's dtype), the running mean computed in the wider of the two dtypes as the
 * pure path computes it.
 */
export function lowerMultiSteps(tx: GradientTransformation<any>, info: MultiStepsInfo, inner: TracedLowered): Lowered {
  const name = 'MultiSteps';
  const k = (recordedCall(tx)?.args[1] as { everyKSchedule?: unknown } | undefined)?.everyKSchedule;
  if (typeof k !== 'number') {
    inner.dispose();
    throw new OptaxError('toJaxJs: MultiSteps: everyKSchedule must be a number for the jax-js adapter (a function of the gradient step runs in JavaScript)');
  }
  if (!deviceHasFloat64() && k > MAX_TABLE_STEPS) {
    inner.dispose();
    throw new OptaxError(`toJaxJs: MultiSteps: on the jax-js device '${defaultDevice()}' (no float64) the running mean's 1 / (n + 1) is read from a table of k entries; everyKSchedule ${k} is more than ${MAX_TABLE_STEPS}`);
  }
  const accDtype = (leaf: Dtype): Dtype => info.accumulatorDtype ?? leaf;
  const rule = skipRuleOf(info.shouldSkip);
  const accumulate = accumulateKernel(info.useGradMean);
  const anchors = new KernelAnchors();
  return {
    init(params) {
      const leaves = gather(name, [params], ['params']).positions.map((p) => p[0]);
      const acc_grads = mapTrees(([p]: JaxArray[]) => np.zeros(p.shape, { dtype: accDtype(p.dtype as Dtype) === 'float64' ? np.float64 : np.float32 }), [params], { isLeaf: isJaxLeaf, root: 'params' });
      return { mini_step: np.array(0, { dtype: np.int32 }), gradient_step: np.array(0, { dtype: np.int32 }), inner_opt_state: inner.init(params), acc_grads, skip_state: initialSkipState(rule, highestDtype(leaves)) };
    },
    update(updates, state, params) {
      if (!isDictNode(state) || Object.keys(state).length !== KEYS.length || KEYS.some((key) => !Object.hasOwn(state, key))) {
        throw new OptaxError(`${name}: this state does not belong to ${name}: expected {${showKeys(KEYS)}}, got ${isDictNode(state) ? `{${showKeys(Object.keys(state))}}` : describe(state)}`);
      }
      expectScalar(name, 'mini_step', state.mini_step, 'int32');
      expectScalar(name, 'gradient_step', state.gradient_step, 'int32');
      const { positions } = gather(name, [updates, state.acc_grads], ['grads', 'state.acc_grads'], (_, d) => accDtype(d));
      const n = state.mini_step, gs = state.gradient_step;
      // Skipping: decided on the incoming updates.
      const skipped = rule ? skipStep(rule, positions.map((p) => p[0])) : undefined;
      // The running mean in the wider of the gradient's and the accumulator's dtype (r of that dtype),
      // handed to the inner step in the gradient's dtype (optax.tree.cast_like).
      const wideOf = ([g, acc]: JaxArray[]): Dtype => (g.dtype === 'float64' || acc.dtype === 'float64' ? 'float64' : 'float32');
      const rs = new Map<Dtype, JaxArray>();
      if (info.useGradMean) for (const d of new Set(positions.map(wideOf))) rs.set(d, runningMean(d, n, k, anchors));
      const accNew = positions.map((leaves) => {
        const [g, acc] = leaves;
        const wide = wideOf(leaves);
        const widen = (x: JaxArray): JaxArray => (x.dtype === wide ? x.ref : x.ref.astype(np.float64));
        const gw = widen(g), aw = widen(acc);
        const r = rs.get(wide);
        const out = lowerKernel(name, accumulate, [], { updates: gw, params: null, state: { acc: aw }, scalars: r ? { r } : {} }, wide, anchors).updates;
        gw.dispose();
        aw.dispose();
        g.dispose();
        return out;
      });
      for (const r of rs.values()) r.dispose();
      const forInner = accNew.map((a, i) => (a.dtype === positions[i][0].dtype ? a.ref : a.ref.astype(np.float32)));
      const emit = np.equal(n.ref, k - 1);
      const oldInner = refTree(state.inner_opt_state);
      const keptInner = skipped ? refTree(state.inner_opt_state) : undefined;
      const step = inner.update(rebuild(updates, forInner), state.inner_opt_state, params, true);
      const pre = step.preScale === undefined ? undefined : gather(name, [step.preScale], ['updates']).positions.map((p) => p[0]);
      const emitted = gather(name, [step.updates], ['updates']).positions.map((p, i) => {
        const u = p[0];
        let silent: JaxArray;
        if (u.shape.length === 0) silent = np.zeros([], { dtype: u.dtype === 'float64' ? np.float64 : np.float32 });
        else if (pre && u.size > 1) silent = timesZero(pre[i].ref);
        else silent = timesZero(u.ref);
        return np.where(emit.ref, u, silent);
      });
      pre?.forEach((y) => y.dispose());
      let newUpdates = emitted;
      let inner_opt_state = selectTrees(emit, step.state, oldInner, ['inner state', 'state.inner_opt_state']);
      // (1 - emit) * acc, stored in the accumulator's dtype.
      let acc = positions.map(([, old], i) => {
        const fresh = accNew[i];
        const next = np.where(emit.ref, timesZero(fresh.ref), fresh);
        return [old, next.dtype === old.dtype ? next : next.astype(np.float32)] as const;
      });
      let mini_step = np.remainder(safeIncrement(n.ref), k);
      let gradient_step = np.where(emit.ref, safeIncrement(gs.ref), gs.ref);
      emit.dispose();
      let skip_state: unknown = state.skip_state;
      if (skipped) {
        // A skipped mini-step: zeros, and the state as it was but for skip_state.
        const s = skipped.skip;
        newUpdates = newUpdates.map((u) => np.where(s.ref, 0, u));
        inner_opt_state = selectTrees(s, keptInner, inner_opt_state, ['state.inner_opt_state', 'inner state']);
        acc = acc.map(([old, next]) => [old, np.where(s.ref, old.ref, next)] as const);
        mini_step = np.where(s.ref, n.ref, mini_step);
        gradient_step = np.where(s.ref, gs.ref, gradient_step);
        s.dispose();
        disposeTree(state.skip_state);
        skip_state = skipped.state;
      }
      // The old state's arrays are now all read.
      n.dispose();
      gs.dispose();
      acc.forEach(([old]) => old.dispose());
      return [rebuild(updates, newUpdates), { mini_step, gradient_step, inner_opt_state, acc_grads: rebuild(state.acc_grads, acc.map(([, next]) => next)), skip_state }];
    },
    dispose: () => { anchors.dispose(); inner.dispose(); },
  };
}

function disposeTree(tree: unknown): void {
  if (tree === undefined) return;
  mapTrees(([a]: JaxArray[]) => { a.dispose(); return null; }, [tree], { isLeaf: isJaxLeaf });
}

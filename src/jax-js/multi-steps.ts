import { numpy as np } from '@jax-js/jax';
import { roundTo } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import type { GradientTransformation } from '../core/transformation.js';
import { recordedCall } from '../spec/record.js';
import { accumulateKernel } from '../transforms/multi-steps.js';
import type { SkipFunction, SkipRule } from '../transforms/skip-updates.js';
import { mapTrees } from '../tree/map.js';
import { describe, isDictNode } from '../tree/structure.js';
import { showKeys } from '../tree/node.js';
import { allFinite, expectScalar, refTree, safeIncrement, selectTrees } from './apply-if-finite.js';
import { divide, lowerKernel } from './kernel.js';
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

/** The skip state of `rule` for these updates (borrowed), and whether to skip, in the graph. */
function skipStep(rule: SkipRule, leaves: readonly JaxArray[]): { skip: JaxArray; state: Record<string, JaxArray> } {
  if (rule.kind === 'not_finite') {
    let count: JaxArray = np.array(0, { dtype: np.int32 });
    for (const g of leaves) count = np.add(count, np.sum(np.logicalNot(np.isfinite(g.ref)).astype(np.int32)));
    const skip = np.greater(count.ref, 0);
    return { skip, state: { should_skip: skip.ref, num_not_finite: count } };
  }
  // skip_large_updates: each leaf's sum of squares in XLA's order (as clipByGlobalNorm's), the sums
  // stacked and reduced by one more XLA sum; `max_squared_norm` rounded to float32.
  const sums = leaves.map((g) => xlaOrderedSum(np.square(g.ref)));
  const total = sums.length === 0 ? np.array(0, { dtype: np.float32 }) : xlaOrderedSum(np.stack(sums));
  const skip = np.logicalNot(np.less(total.ref, roundTo('float32', rule.maxSquaredNorm)));
  return { skip, state: { should_skip: skip.ref, norm_squared: total } };
}

/** The skip state `init` holds: the rule's state for zero updates (no skip, zero count or norm). */
function initialSkipState(rule: SkipRule | undefined): unknown {
  if (!rule) return [];
  return rule.kind === 'not_finite'
    ? { should_skip: np.array(false), num_not_finite: np.array(0, { dtype: np.int32 }) }
    : { should_skip: np.array(false), norm_squared: np.array(0, { dtype: np.float32 }) };
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
 * `everyKSchedule` must be a number (a function of the step runs in JavaScript), and the accumulator
 * float32 (`accumulatorDtype` `'float32'` or `null` with float32 leaves).
 */
export function lowerMultiSteps(tx: GradientTransformation<any>, info: MultiStepsInfo, inner: TracedLowered): Lowered {
  const name = 'MultiSteps';
  const k = (recordedCall(tx)?.args[1] as { everyKSchedule?: unknown } | undefined)?.everyKSchedule;
  if (typeof k !== 'number') {
    inner.dispose();
    throw new OptaxError('toJaxJs: MultiSteps: everyKSchedule must be a number for the jax-js adapter (a function of the gradient step runs in JavaScript)');
  }
  if (info.accumulatorDtype === 'float64') {
    inner.dispose();
    throw new OptaxError("toJaxJs: MultiSteps: a float64 accumulator is not lowered by the jax-js adapter (float32 leaves and accumulators are)");
  }
  const rule = skipRuleOf(info.shouldSkip);
  const accumulate = accumulateKernel(info.useGradMean);
  const anchors = new KernelAnchors();
  return {
    init(params) {
      const acc_grads = mapTrees(([p]: JaxArray[]) => np.zeros(p.shape, { dtype: np.float32 }), [params], { isLeaf: isJaxLeaf, root: 'params' });
      gather(name, [params], ['params'], true);
      return { mini_step: np.array(0, { dtype: np.int32 }), gradient_step: np.array(0, { dtype: np.int32 }), inner_opt_state: inner.init(params), acc_grads, skip_state: initialSkipState(rule) };
    },
    update(updates, state, params) {
      if (!isDictNode(state) || Object.keys(state).length !== KEYS.length || KEYS.some((key) => !Object.hasOwn(state, key))) {
        throw new OptaxError(`${name}: this state does not belong to ${name}: expected {${showKeys(KEYS)}}, got ${isDictNode(state) ? `{${showKeys(Object.keys(state))}}` : describe(state)}`);
      }
      expectScalar(name, 'mini_step', state.mini_step, 'int32');
      expectScalar(name, 'gradient_step', state.gradient_step, 'int32');
      const { positions } = gather(name, [updates, state.acc_grads], ['grads', 'state.acc_grads'], true);
      const n = state.mini_step, gs = state.gradient_step;
      // Skipping: decided on the incoming updates.
      const skipped = rule ? skipStep(rule, positions.map((p) => p[0])) : undefined;
      // r = 1 / (n + 1) rounded to float32 (runningMeanFactor): the float64 quotient is the correctly
      // rounded one, then rounded once more, as the pure path's JavaScript division and fround.
      const r = info.useGradMean ? divide(1, np.add(n.ref, 1).astype(np.float64), 'float64', anchors, 0).astype(np.float32) : undefined;
      const accNew = positions.map(([g, acc]) => {
        const out = lowerKernel(name, accumulate, [], { updates: g, params: null, state: { acc }, scalars: r ? { r } : {} }, 'float32', anchors).updates;
        g.dispose();
        return out;
      });
      r?.dispose();
      const emit = np.equal(n.ref, k - 1);
      const oldInner = refTree(state.inner_opt_state);
      const keptInner = skipped ? refTree(state.inner_opt_state) : undefined;
      const step = inner.update(rebuild(updates, accNew.map((a) => a.ref)), state.inner_opt_state, params, true);
      const pre = step.preScale === undefined ? undefined : gather(name, [step.preScale], ['updates'], true).positions.map((p) => p[0]);
      const emitted = gather(name, [step.updates], ['updates'], true).positions.map((p, i) => {
        const u = p[0];
        let silent: JaxArray;
        if (u.shape.length === 0) silent = np.zeros([], { dtype: np.float32 });
        else if (pre && u.size > 1) silent = timesZero(pre[i].ref);
        else silent = timesZero(u.ref);
        return np.where(emit.ref, u, silent);
      });
      pre?.forEach((y) => y.dispose());
      let newUpdates = emitted;
      let inner_opt_state = selectTrees(emit, step.state, oldInner, ['inner state', 'state.inner_opt_state']);
      let acc = positions.map(([, old], i) => {
        const fresh = accNew[i];
        const next = np.where(emit.ref, timesZero(fresh.ref), fresh);
        return [old, next] as const;
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

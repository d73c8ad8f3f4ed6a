import { type Dtype, allocate, roundTo } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { type Hyperparam, acceptsRange, checkHyperparam, biasCorrectionWriter, hyperNumber, constantScalars, oneMinus, writeHyper } from '../core/hyperparams.js';
import { safeIncrement } from '../core/numerics.js';
import { biasCorrectionOf } from '../core/bias-correction.js';
import type { GradientTransformation } from '../core/transformation.js';
import { type Kernel, ex } from '../kernel/expr.js';
import { type ScalarSink, definitionScalars, elementwise, gatherLeaves, scalarsForLeaf, splitState } from '../kernel/elementwise.js';
import { type ArrayLeaf, leafData, leafDtype, leafLike, leafShape } from '../tree/leaf.js';
import { mapTrees } from '../tree/map.js';
import type { Params, Tree, Updates } from '../tree/tree.js';
import { type CountState, advanceCount, checkCount } from './count.js';
import { readOptions } from '../core/options.js';
import { recordCall } from '../spec/record.js';

/** The state of {@link ema} (optax's `EmaState`). */
export interface EmaState {
  /** Steps taken: int32, saturating at 2^31-1. */
  count: number;
  /** The moving average (not debiased), in `accumulatorDtype` when one is given. */
  ema: Tree;
}

/** Options of {@link ema}. */
export interface EmaOptions {
  /** Divide by `1 - decay^t` so that early averages are not biased towards 0. Default true. */
  debias?: boolean;
  /**
   * The dtype the average is stored in. Default: each leaf's own dtype. With another dtype each
   * operation runs in the dtype JAX's promotion gives it, the stored value is rounded to this one,
   * and the updates come out in the promoted dtype (as in optax).
   */
  accumulatorDtype?: Dtype | null;
}

// ema = (1 - d) * g + d * ema, in optax's order (tree.update_moment), then u = ema / (1 - d^t).
const newEma = ex.add(ex.mul(ex.scalar('one_minus_decay'), ex.updates), ex.mul(ex.scalar('decay'), ex.state('ema')));

/**
 * The kernel of {@link ema} (with or without debiasing). `singleLeaf`: the form XLA computes on a
 * one-leaf tree, where optax's jitted bias correction divides by a scalar used once and XLA
 * multiplies by its reciprocal instead: `ema * (1 / bias)`.
 */
export function emaKernel(debias: boolean, singleLeaf = false): Kernel {
  if (!debias) return { updates: newEma, state: { ema: newEma } };
  const corrected = singleLeaf ? ex.mul(newEma, ex.div(ex.scalar('one'), ex.scalar('bias'))) : ex.div(newEma, ex.scalar('bias'));
  return { updates: corrected, state: { ema: newEma } };
}

/** The per-step scalars of {@link ema}, with and without debiasing, in the order `writeEmaScalars` writes them. */
const EMA_SCALARS = ['decay', 'one_minus_decay', 'one', 'bias'] as const;
const EMA_SCALARS_NO_DEBIAS = ['decay', 'one_minus_decay'] as const;
/** ema's range for decay: checked when built, and for a scheduled (injected) value at each fused step. */
const DECAY_RANGE = { min: 0, max: 1 };
const ACCEPTS = { decay: acceptsRange(DECAY_RANGE) };

/**
 * The per-step scalars of {@link ema} for leaves of `dtype`, before step `count`: all but the bias
 * correction depend on the dtype only, computed once per dtype.
 */
function emaScalars(decay: Hyperparam, debias: boolean): (sink: ScalarSink, count: number, dtype: Dtype) => void {
  const constants = constantScalars(debias ? 3 : 2, (sink, dtype) => {
    writeHyper(sink, 0, decay, dtype);
    writeHyper(sink, 1, decay, dtype, oneMinus);
    if (debias) sink.values[2] = 1;
  });
  const biasCorrection = biasCorrectionWriter(decay);
  return (sink, count, dtype) => {
    constants(sink, dtype);
    // As in scale_by_adamax, 1 - decay^t as XLA computes it in the dtype (core/bias-correction.ts),
    // then the subtraction, rounded again.
    if (debias) biasCorrection(sink, 3, dtype, safeIncrement(count));
  };
}

/**
 * An exponential moving average of the updates (optax's `ema`):
 *
 * ```
 * ema_t = (1 - decay) * g_t + decay * ema_{t-1}
 * u_t   = ema_t / (1 - decay^t)     (debias: true, the default)
 * u_t   = ema_t                     (debias: false)
 * ```
 *
 * `t` is the step count after incrementing (int32, saturating). The bias correction is rounded as
 * XLA computes it (as scale_by_adamax's): `decay^t` correctly rounded to the leaf dtype, then
 * `1 - decay^t` rounded; on a one-leaf tree the division is a multiplication by `1 / (1 - decay^t)`.
 * Unlike `trace` (`decay * trace + g`), the average is a convex combination.
 *
 * @param decay - the decay rate in [0, 1], a number or an array broadcast against each leaf.
 * @param options - `debias` (default true), `accumulatorDtype` (default: the leaf's dtype).
 *
 * @example
 * ```ts
 * import { ema } from 'optax-ts';
 * const tx = ema(0.5);
 * let state = tx.init({ w: new Float64Array(2) });
 * let u;
 * [u, state] = tx.update({ w: new Float64Array([2, 0]) }, state);
 * [u, state] = tx.update({ w: new Float64Array([4, 0]) }, state);
 * // 2.5 / 0.75, computed as 2.5 * (1 / 0.75) since the tree has one leaf of two or more elements
 * // (XLA's rounding; a one-element leaf would divide: 3.3333333333333335)
 * console.log(u.w, state.ema); // Float64Array(2) [ 3.333333333333333, 0 ] { w: Float64Array(2) [ 2.5, 0 ] }
 * ```
 */
export function ema(decay: Hyperparam, options: EmaOptions = {}): GradientTransformation<EmaState> {
  const { debias = true, accumulatorDtype = null } = readOptions('ema', options, { debias: true, accumulatorDtype: true });
  checkHyperparam('ema', 'decay', decay, DECAY_RANGE);
  if (typeof debias !== 'boolean') throw new OptaxError(`ema: debias must be a boolean, got ${typeof debias}`);
  if (accumulatorDtype !== null && accumulatorDtype !== 'float32' && accumulatorDtype !== 'float64') {
    throw new OptaxError(`ema: accumulatorDtype must be 'float32', 'float64' or null, got ${String(accumulatorDtype)}`);
  }
  const write = emaScalars(decay, debias);
  const nDecay = hyperNumber(decay);
  const tx = elementwise<CountState, EmaState>({
    name: 'ema',
    kernel: emaKernel(debias),
    singleLeafKernel: debias ? emaKernel(debias, true) : undefined,
    stateLeaves: ['ema'],
    initControl: () => ({ count: 0 }),
    checkControl: checkCount('ema'),
    advance: advanceCount,
    scalarNames: debias ? EMA_SCALARS : EMA_SCALARS_NO_DEBIAS,
    writeScalars: (sink, { count }, dtype) => write(sink, count, dtype),
    // The debiasing over ScheduleArith, for the jax-js adapter's graph (an array decay is per element).
    countScalars: debias && typeof decay === 'number' ? (count, dtype, a) => ({ bias: biasCorrectionOf(a, dtype, decay, count) }) : undefined,
    // Injected: every scalar `write` writes, from the decay of the step (as scale_by_adamax's from b1).
    injectable: nDecay === undefined ? undefined : {
      hyperparams: { decay: nDecay },
      accepts: ACCEPTS,
      scalars: (h, count, d, a) => {
        const common = { decay: a.cast(d, h.decay), one_minus_decay: a.sub(d, 1, h.decay) };
        return debias ? { ...common, one: 1, bias: biasCorrectionOf(a, d, h.decay, count) } : common;
      },
    },
  });
  return recordCall(accumulatorDtype === null ? tx : withAccumulator(tx, decay, debias, accumulatorDtype), 'ema', [decay, options]);
}

/**
 * `ema` with its average stored in another dtype. JAX promotes per operation: `(1-d) * g` runs in
 * g's dtype, `d * ema` in the accumulator's, their sum and the debiasing in the wider of the two.
 * This path is not elementwise-fused (it is rare); it reuses the definition's control state.
 */
function withAccumulator(tx: GradientTransformation<EmaState>, decay: Hyperparam, debias: boolean, acc: Dtype): GradientTransformation<EmaState> {
  const def = tx.elementwise!;
  return {
    name: 'ema',
    init: (params: Params): EmaState => ({
      count: 0,
      ema: mapTrees(([p]: ArrayLeaf[]) => leafLike(p, allocate(acc, leafData(p).length)), [params]),
    }),
    update<U extends Updates>(updates: U, state: EmaState): [U, EmaState] {
      const { control, trees } = splitState<CountState>(def, state);
      const { positions, paths } = gatherLeaves('ema', updates, [], [], null, false);
      // The state leaves keep their own dtype: check structure and sizes here, not dtypes.
      const stateLeaves: ArrayLeaf[] = [];
      mapTrees(([g, e]: ArrayLeaf[], path) => {
        if (leafData(e).length !== leafData(g).length) throw new OptaxError(`state.ema leaf has ${leafData(e).length} elements, grads leaf has ${leafData(g).length}`, path, 'grads');
        stateLeaves.push(e);
      }, [updates, trees[0]], { names: ['grads', 'state.ema'], root: 'grads' });
      const outU: ArrayLeaf[] = [], outE: ArrayLeaf[] = [];
      const single = positions.length === 1; // see emaKernel
      positions.forEach(([g], i) => {
        const e = stateLeaves[i];
        const gd = leafDtype(g), ed = leafDtype(e);
        const wide: Dtype = gd === 'float64' || ed === 'float64' ? 'float64' : 'float32';
        const scalars = (dtype: Dtype) => scalarsForLeaf(definitionScalars(def, control, dtype, undefined), leafShape(g), paths[i]);
        const sg = scalars(gd), se = scalars(ed), sw = scalars(wide);
        const at = (s: number | ArrayLike<number>, j: number): number => (typeof s === 'number' ? s : s[j]);
        const gx = leafData(g), ex0 = leafData(e), n = gx.length;
        const u = allocate(wide, n), next = allocate(ed, n); // stores round to their dtype
        for (let j = 0; j < n; j++) {
          const a = roundTo(gd, at(sg.one_minus_decay, j) * gx[j]);
          const b = roundTo(ed, at(se.decay, j) * ex0[j]);
          const m = roundTo(wide, a + b);
          // Without debiasing there is no bias scalar (reading it crashed the step).
          u[j] = !debias ? m : single ? m * roundTo(wide, 1 / at(sw.bias, j)) : m / at(sw.bias, j);
          next[j] = m;
        }
        outU.push(leafLike(g, u));
        outE.push(leafLike(e, next));
      });
      let k = 0, l = 0;
      const newUpdates = mapTrees(() => outU[k++], [updates]);
      const newEma = mapTrees(() => outE[l++], [trees[0]]);
      return [newUpdates, { count: safeIncrement(control.count), ema: newEma }];
    },
  };
}

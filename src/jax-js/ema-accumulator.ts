import { numpy as np } from '@jax-js/jax';
import type { Dtype } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { INT32_MAX } from '../core/numerics.js';
import type { Hyperparam } from '../core/hyperparams.js';
import { ShapedArray } from '../tree/leaf.js';
import { mapTrees } from '../tree/map.js';
import { describe, isDictNode, walkTrees } from '../tree/structure.js';
import type { KernelAnchors } from './constants.js';
import { type JaxValue, divide } from './kernel.js';
import { type JaxArray, type JaxTree, isJaxLeaf } from './leaf.js';

/** The per-step scalars of the inner `ema` definition for one dtype, at a count (consumed). */
export type ScalarsAt = (dtype: Dtype, count: JaxArray) => Record<string, JaxValue>;

/** What {@link lowerEmaAccumulator} needs from the adapter. */
export interface EmaAccumulatorParts {
  readonly anchors: KernelAnchors;
  readonly scalarsAt: ScalarsAt;
  readonly dispose: (values: Record<string, JaxValue>) => void;
  readonly gather: (name: string, trees: readonly unknown[], names: readonly string[]) => { positions: JaxArray[][] };
  readonly rebuild: (like: unknown, values: readonly JaxArray[]) => any;
}

/**
 * optax's `ema` with `accumulator_dtype` (transforms/ema.ts's `withAccumulator`) as jax-js operations:
 * JAX promotes per operation, so `(1 - d) * g` runs in g's dtype, `d * ema` in the accumulator's,
 * their sum and the debiasing in the wider of the two; the average is stored in the accumulator's
 * dtype and the updates come out in the wider one. On a one-leaf tree the debiasing multiplies by
 * `1 / (1 - d^t)` (XLA's rewrite of a division by a scalar used once), as the pure path does. Each
 * scalar is the inner `ema` definition's for the dtype of the operation it enters.
 */
export function lowerEmaAccumulator(decay: Hyperparam, debias: boolean, acc: Dtype, parts: EmaAccumulatorParts) {
  const name = 'ema';
  return {
    init(params: JaxTree) {
      parts.gather(name, [params], ['params']);
      return {
        count: np.array(0, { dtype: np.int32 }),
        ema: mapTrees(([p]: JaxArray[]) => np.zeros(p.shape, { dtype: acc === 'float64' ? np.float64 : np.float32 }), [params], { isLeaf: isJaxLeaf, root: 'params' }),
      };
    },
    update(updates: JaxTree, state: unknown): [JaxTree, unknown] {
      const s = state as { count?: unknown; ema?: unknown };
      if (!isDictNode(state) || Object.keys(state).length !== 2 || !Object.hasOwn(state, 'count') || !Object.hasOwn(state, 'ema')) {
        throw new OptaxError(`${name}: this state does not belong to ${name}: expected keys {count, ema}, got ${describe(state)}`);
      }
      const count = s.count as JaxArray;
      if (!isJaxLeaf(count) || count.dtype !== 'int32' || count.shape.length !== 0) throw new OptaxError(`${name}: state.count must be an int32 scalar jax-js array, got ${describe(count)}`);
      const { positions } = parts.gather(name, [updates], ['grads']);
      // The state leaves keep the accumulator's dtype: matched by structure and shape, not dtype.
      const stored: JaxArray[] = [];
      walkTrees([updates, s.ema], ([g, e], path) => {
        const a = e as JaxArray, b = g as JaxArray;
        if (a.dtype !== acc || a.shape.length !== b.shape.length || a.shape.some((d, j) => d !== b.shape[j])) {
          throw new OptaxError(`state.ema does not match grads: ${a.dtype}[${a.shape.join(', ')}] vs ${acc}[${b.shape.join(', ')}]`, path, 'state.ema');
        }
        stored.push(a);
      }, { isLeaf: isJaxLeaf, names: ['grads', 'state.ema'] });
      const dtypes = new Set<Dtype>([acc]);
      for (const [g] of positions) {
        const gd = g.dtype as Dtype;
        dtypes.add(gd);
        dtypes.add(gd === 'float64' || acc === 'float64' ? 'float64' : 'float32');
      }
      const scalars = new Map<Dtype, Record<string, JaxValue>>();
      for (const d of dtypes) scalars.set(d, parts.scalarsAt(d, count.ref));
      const single = positions.length === 1;
      const { anchors } = parts;
      const operand = (v: JaxValue, d: Dtype, rank: number): JaxArray => {
        if (typeof v === 'number') return anchors.literal(d, v);
        if (v instanceof ShapedArray) return anchors.array(d, v.data, v.shape.length > rank ? v.shape.slice(v.shape.length - rank) : v.shape);
        return v.ref;
      };
      const outU: JaxArray[] = [], outE: JaxArray[] = [];
      positions.forEach(([g], i) => {
        const e = stored[i];
        const gd = g.dtype as Dtype, rank = g.shape.length;
        const wide: Dtype = gd === 'float64' || acc === 'float64' ? 'float64' : 'float32';
        const toWide = (x: JaxArray, d: Dtype): JaxArray => (d === wide ? x : x.astype(np.float64));
        const a = np.multiply(operand(scalars.get(gd)!.one_minus_decay, gd, rank), g.ref);
        const b = np.multiply(operand(scalars.get(acc)!.decay, acc, rank), e.ref);
        const m = np.add(toWide(a, gd), toWide(b, acc));
        let u: JaxArray;
        if (!debias) u = m.ref;
        else {
          const bias = scalars.get(wide)!.bias;
          if (single) {
            const inv = divide(1, typeof bias === 'number' || bias instanceof ShapedArray ? bias : bias.ref, wide, anchors, rank);
            u = np.multiply(m.ref, inv);
          } else u = divide(m.ref, typeof bias === 'number' || bias instanceof ShapedArray ? bias : bias.ref, wide, anchors, rank);
        }
        outU.push(u);
        outE.push(acc === wide ? m : m.astype(np.float32));
        g.dispose();
        e.dispose();
      });
      for (const v of scalars.values()) parts.dispose(v);
      const next = {
        // int32, saturating at 2^31-1 as optax's safe_increment.
        count: np.where(np.equal(count.ref, INT32_MAX), count.ref, np.add(count, 1)),
        ema: parts.rebuild(s.ema, outE),
      };
      return [parts.rebuild(updates, outU), next];
    },
  };
}

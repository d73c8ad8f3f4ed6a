import { type Dtype, type FloatArray, allocate } from '../core/dtype.js';
import { type KernelPlan, planKernel, runPlan, withSubnormalMode } from '../kernel/interpret.js';
import { allArraysFinite } from '../transforms/apply-if-finite.js';
import type { GlobalNorm } from '../transforms/clip-by-global-norm.js';
import type { Guard, Stage } from './analyze.js';
import type { LeafTable } from './leaves.js';

/**
 * The finiteness check of a nested `applyIfFinite` (analyze.ts's `Guard.nested`): optax checks the
 * updates the guard receives, which are the gradients on its leaves where nothing runs before it, and
 * their clipped values where `clipByGlobalNorm` does (the only stage the engine lets run before a
 * nested guard). Where the clip's scalars are all 1 (optax's `trigger`: the norm is below `maxNorm`)
 * the clipped values are the gradients, bit for bit, and a finite norm proves them finite; otherwise each clipped leaf is computed by the
 * reference interpreter from the clip's own kernel (its math written once), block by block into a
 * scratch array, and checked there: a zero norm, a subnormal one or a huge `maxNorm` can make finite
 * gradients clip to infinities or NaN.
 */
export class GuardInput {
  /** Leaves no clip runs on before the guard: their gradients are checked. */
  private readonly raw: readonly number[];
  /** Per clip stage: its kernel's plan and the guard's leaves it runs on. */
  private readonly clipped: readonly { readonly stage: Stage; readonly plan: KernelPlan; readonly leaves: readonly number[] }[];
  private readonly scratch = new Map<Dtype, FloatArray>();

  constructor(stages: readonly Stage[], nested: NonNullable<Guard['nested']>, private readonly table: LeafTable, private readonly block = 2048) {
    const covered = new Set<number>();
    this.clipped = nested.prefix.map((k) => {
      const stage = stages[k];
      const leaves = stage.leaves.filter((i) => nested.leaves.includes(i));
      leaves.forEach((i) => covered.add(i));
      return { stage, plan: planKernel(stage.kernel), leaves };
    });
    this.raw = nested.leaves.filter((i) => !covered.has(i));
  }

  /**
   * Whether every update the guard receives is finite. `grads(leaf)`: the gradient of a leaf (the
   * engine's view, or the caller's array about to be copied in); `norm`: their global norm (needed
   * when a clip runs before the guard); `flush`: XLA's subnormal mode (the clip computed in it).
   */
  finite(grads: (leaf: number) => FloatArray, norm: GlobalNorm | undefined, flush: boolean): boolean {
    // The norm is over every gradient (a clip runs first on all leaves): a NaN or an infinity makes
    // it NaN or infinite, so a finite norm proves every gradient finite without a pass over them.
    const gradsFinite = norm !== undefined && norm.value - norm.value === 0;
    if (!gradsFinite) for (const i of this.raw) if (!allArraysFinite([grads(i)])) return false;
    for (const { stage, plan, leaves } of this.clipped) {
      if (stage.source.kind !== 'globalNorm' || !norm) throw new Error('internal: a nested applyIfFinite after a stage other than clip_by_global_norm');
      const reduction = stage.source.reduction;
      for (const i of leaves) {
        const dtype = this.table.leaves[i].dtype;
        const scalars = reduction.scalars(norm, dtype) as Readonly<Record<string, number>>;
        // optax's trigger: every scalar 1, the clip leaves each value as it is.
        let identity = true;
        for (const name of plan.scalars) if (scalars[name] !== 1) identity = false;
        const g = grads(i);
        if (identity ? !gradsFinite && !allArraysFinite([g]) : !(gradsFinite && this.clipStaysFinite(scalars, dtype)) && !withSubnormalMode(flush, () => this.clippedFinite(plan, dtype, g, scalars))) return false;
      }
    }
    return true;
  }

  /**
   * Whether finite gradients are sure to clip to finite values, from the scalars alone: then no pass
   * is needed. Each gradient is at most 1.14 times the computed norm: the norm's square is the sum of
   * the rounded squares, added in at most 2^22 roundings (float32 sums; 2^50 in float64) each losing
   * a factor of at most (1 - 2^-24), and (1 - 2^-24)^(2^22) > 0.77. So with a normal (or zero)
   * `inv_norm` in the dtype (the reciprocal of the norm rounded to it) and a normal nonzero `norm`
   * (the divisor of one-element leaves), `|g * inv_norm|` and `|g / norm|` are below 1.2 and the
   * clipped value below `2 * max_norm`: finite when `max_norm` is at most half the largest finite
   * value. Subnormal scalars (flushed in XLA's mode) and huge trees are left to the computed check.
   */
  private clipStaysFinite(scalars: Readonly<Record<string, number>>, dtype: Dtype): boolean {
    const normal = dtype === 'float32' ? 2 ** -126 : 2 ** -1022;
    const largest = dtype === 'float32' ? 3.4028234663852886e38 : Number.MAX_VALUE;
    const roundings = this.table.leaves.reduce((n, l) => n + l.length + 1, 0);
    const fewEnough = roundings <= (this.table.leaves.some((l) => l.dtype === 'float32') ? 2 ** 22 : 2 ** 50);
    const inv = scalars.inv_norm, norm = scalars.norm, max = scalars.max_norm;
    return fewEnough && (inv === 0 || (inv >= normal && inv <= largest)) && norm >= normal && norm <= largest && max >= 0 && max <= largest / 2;
  }

  /** Whether the clip's kernel gives finite values on `g`, computed block by block. */
  private clippedFinite(plan: KernelPlan, dtype: Dtype, g: FloatArray, scalars: Readonly<Record<string, number>>): boolean {
    let out = this.scratch.get(dtype);
    if (!out) this.scratch.set(dtype, (out = allocate(dtype, this.block)));
    const scratch = Array.from({ length: plan.temps }, () => allocate(dtype, this.block));
    for (let lo = 0; lo < g.length; lo += this.block) {
      const hi = Math.min(g.length, lo + this.block);
      // Written at [lo, hi) of a block-sized output: offset it so that the block lands at 0.
      runPlan(plan, { dtype, updates: g.subarray(lo, hi), state: {}, scalars }, { updates: out, state: {} }, 0, hi - lo, scratch);
      if (!allArraysFinite([out.subarray(0, hi - lo)])) return false;
    }
    return true;
  }
}

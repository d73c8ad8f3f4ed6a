/**
 * The arithmetic of a schedule, in the two ways optax's schedules get evaluated.
 *
 * Each schedule writes its formula once, against this interface; {@link eagerArith} and
 * {@link tracedArith} interpret it.
 * - *Eager* (optax called op by op): every jnp operation is its own XLA computation and Python numbers
 *   are arguments, so each operation rounds once to the dtype, in optax's order (./float.ts).
 * - *Traced* (the schedule runs inside `apply_if_finite`'s or `MultiSteps`' `lax.cond`, one XLA
 *   computation in which Python numbers are constants): XLA's algebraic simplifier and LLVM rewrite
 *   the formula (xla/hlo/transforms/simplifiers/algebraic_simplifier.cc; docs/numerics.md §1, §4):
 *   - `A / Const => A * (1 / Const)` (`HandleDivide`), the reciprocal constant-folded in the dtype;
 *   - `(A * C1) * C2 => A * (C1 * C2)` (`HandleMultiply`), the constant product folded in the dtype;
 *   - `pow(A, 0) => 1` and `pow(A, 1) => A` (`HandlePower`);
 *   - a multiplication used only by an addition or subtraction is contracted into one fused
 *     multiply-add (LLVM's DAG combiner under XLA:CPU's `FPOpFusion::Fast`, as in transforms/traced.ts).
 *
 * Only the operations whose traced form differs are here; the others (`mul`, `add`, `cos`, ...) round
 * the same way in both and come from ./float.ts.
 *
 * @internal
 */
import type { Dtype } from '../core/dtype.js';
import { fusedMultiplyAdd } from '../core/fused-multiply-add.js';
import { add, div, ftz, mul, pow, sub, toDtype } from './float.js';

/** The operations of a schedule whose bits depend on whether it is evaluated eagerly or traced. */
export interface ScheduleArith {
  /** True for the traced interpretation. */
  readonly traced: boolean;
  /** `x / c`, `c` a Python number already cast to `d`. */
  divConst(d: Dtype, x: number, c: number): number;
  /** `(k * x) / c`, `k` and `c` Python numbers cast to `d` (cosine's `pi * count / decay_steps`). */
  scaleDivConst(d: Dtype, k: number, x: number, c: number): number;
  /** `1 - x / c`, `c` a Python number cast to `d` (the polynomial schedule's `frac`). */
  oneMinusDivConst(d: Dtype, x: number, c: number): number;
  /** `a * b + c` where the product has no other use. */
  mulAdd(d: Dtype, a: number, b: number, c: number): number;
  /** `x ** y` (`lax.pow`) with `y` a Python number cast to `d`. */
  powConst(d: Dtype, x: number, y: number): number;
}

/** XLA's constant folding of `1 / c` in the dtype (HloEvaluator on the host: rounded, not flushed). */
function reciprocal(d: Dtype, c: number): number {
  return toDtype(d, 1 / c);
}

/** One fused multiply-add rounded to `d`, operands and result flushed like every XLA:CPU op. */
function fma(d: Dtype, a: number, b: number, c: number): number {
  return ftz(d, fusedMultiplyAdd(d, ftz(d, a), ftz(d, b), ftz(d, c)));
}

/** Eager evaluation: each operation rounds, in optax's order. */
export const eagerArith: ScheduleArith = {
  traced: false,
  divConst: (d, x, c) => div(d, x, c),
  scaleDivConst: (d, k, x, c) => div(d, mul(d, k, x), c),
  oneMinusDivConst: (d, x, c) => sub(d, 1, div(d, x, c)),
  mulAdd: (d, a, b, c) => add(d, mul(d, a, b), c),
  powConst: (d, x, y) => pow(d, x, y),
};

/** Traced evaluation: the formula as XLA and LLVM rewrite it inside `lax.cond` (see the module comment). */
export const tracedArith: ScheduleArith = {
  traced: true,
  divConst: (d, x, c) => mul(d, x, reciprocal(d, c)),
  // (k * x) * (1 / c), then (A * C1) * C2 => A * (C1 * C2): one folded constant.
  scaleDivConst: (d, k, x, c) => mul(d, x, toDtype(d, k * reciprocal(d, c))),
  // 1 - x * (1 / c): the product feeds only the subtraction, so it is contracted: fma(-x, 1/c, 1).
  oneMinusDivConst: (d, x, c) => fma(d, -x, reciprocal(d, c), 1),
  mulAdd: (d, a, b, c) => fma(d, a, b, c),
  powConst: (d, x, y) => (y === 0 ? 1 : y === 1 ? x : pow(d, x, y)),
};

/** The interpretation for `traced`. */
export function arithFor(traced: boolean): ScheduleArith {
  return traced ? tracedArith : eagerArith;
}

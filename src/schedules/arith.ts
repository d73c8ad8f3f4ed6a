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
 *   - `pow(A, 0) => 1`, `pow(A, 1) => A`, `pow(A, 2) => A * A`, `pow(A, 3) => A * (A * A)` and
 *     `pow(A, -1) => 1 / A` for a constant exponent (`HandlePower`; its `pow(A, 0.5) => sqrt(A)` needs
 *     `IsNonNegative(A)`, which no schedule's base satisfies: a product of two different operands, a
 *     sum or an fma is not recognized);
 *   - `Mul(Mul(a, C1), C2) => Mul(a, C1 * C2)` when both constants are plain `constant`s
 *     (`HandleMultiply`, operands in any order; a broadcast scalar does not match it);
 *   - operations whose operands are all constants are evaluated at compile time by `HloConstantFolding`
 *     (HloEvaluator, on the host: rounded to the dtype, not flushed);
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
  /**
   * `k * (x / c)`, `k` and `c` constants of dtype `d`. `plain`: both reach XLA as plain constants (not
   * broadcast scalars), so that traced `Mul(Mul(x, 1/c), k)` folds into `x * fold(1/c * k)`.
   */
  mulDivConst(d: Dtype, k: number, x: number, c: number, plain: boolean): number;
  /**
   * `k * (x / c) + a`, the quotient computed in dtype `q` (then converted to `d`), the rest in `d`;
   * `k`, `c` and `a` constants. `plain` as for {@link mulDivConst}: traced, the constants fold only
   * when `q === d` (a convert in between stops the pattern); either way the product is contracted
   * into the addition.
   */
  mulDivConstAdd(d: Dtype, q: Dtype, k: number, x: number, c: number, a: number, plain: boolean): number;
  /** `a - b` of two values that are constants of the traced computation (eagerly: an XLA op). */
  constSub(d: Dtype, a: number, b: number): number;
  /** `a * b` of two constants (see {@link constSub}). */
  constMul(d: Dtype, a: number, b: number): number;
  /** `a / b` of two constants (see {@link constSub}). */
  constDiv(d: Dtype, a: number, b: number): number;
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
  mulDivConst: (d, k, x, c) => mul(d, k, div(d, x, c)),
  mulDivConstAdd: (d, q, k, x, c, a) => add(d, mul(d, k, div(q, x, c)), a),
  constSub: (d, a, b) => sub(d, a, b),
  constMul: (d, a, b) => mul(d, a, b),
  constDiv: (d, a, b) => div(d, a, b),
};

/** `pow(x, y)` for a constant `y` after `HandlePower`'s rewrites (see the module comment). */
function tracedPow(d: Dtype, x: number, y: number): number {
  if (y === 0) return 1;
  if (y === 1) return x;
  if (y === 2) return mul(d, x, x);
  if (y === 3) return mul(d, x, mul(d, x, x));
  if (y === -1) return div(d, 1, x);
  return pow(d, x, y);
}

/** Traced evaluation: the formula as XLA and LLVM rewrite it inside `lax.cond` (see the module comment). */
export const tracedArith: ScheduleArith = {
  traced: true,
  divConst: (d, x, c) => mul(d, x, reciprocal(d, c)),
  // (k * x) * (1 / c), then (A * C1) * C2 => A * (C1 * C2): one folded constant.
  scaleDivConst: (d, k, x, c) => mul(d, x, toDtype(d, k * reciprocal(d, c))),
  // 1 - x * (1 / c): the product feeds only the subtraction, so it is contracted: fma(-x, 1/c, 1).
  oneMinusDivConst: (d, x, c) => fma(d, -x, reciprocal(d, c), 1),
  mulAdd: (d, a, b, c) => fma(d, a, b, c),
  powConst: tracedPow,
  // k * (x * (1/c)): with plain constants `Mul(Mul(x, 1/c), k)` folds the two constants.
  mulDivConst: (d, k, x, c, plain) => (plain ? mul(d, x, toDtype(d, reciprocal(d, c) * k)) : mul(d, k, mul(d, x, reciprocal(d, c)))),
  // The product feeds only the addition: one fused multiply-add, of the folded form when it folds.
  mulDivConstAdd: (d, q, k, x, c, a, plain) => (plain && q === d
    ? fma(d, x, toDtype(d, reciprocal(d, c) * k), a)
    : fma(d, k, mul(q, x, reciprocal(q, c)), a)),
  constSub: (d, a, b) => toDtype(d, a - b),
  constMul: (d, a, b) => toDtype(d, a * b),
  constDiv: (d, a, b) => toDtype(d, a / b),
};

/** The interpretation for `traced`. */
export function arithFor(traced: boolean): ScheduleArith {
  return traced ? tracedArith : eagerArith;
}

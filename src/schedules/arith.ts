/**
 * The arithmetic of a schedule, in the two ways optax's schedules get evaluated.
 *
 * Each schedule writes its formula once, against this interface; {@link eagerArith} and
 * {@link tracedArith} interpret it on numbers, and the jax-js adapter (src/jax-js/schedule-arith.ts)
 * as jax-js operations on the step count in the graph.
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
 * The operations whose traced form differs are the last five; the others (`mul`, `add`, `cos`, ...)
 * round the same way in both and come from ./float.ts.
 *
 * @internal
 */
import type { Dtype } from '../core/dtype.js';
import { fusedMultiplyAdd } from '../core/fused-multiply-add.js';
import type { Schedule } from '../core/schedule.js';
import { safeIncrement } from '../core/numerics.js';
import { add, cos, div, ftz, fromInt, mul, pow, res, sub, subInt32, toDtype } from './float.js';

/**
 * The operations a schedule's formula is written against, generic in the value type `V` (a number in
 * JavaScript, a jax-js array in the graph: src/jax-js/schedule-arith.ts) and the condition type `B`.
 * Every operand may also be a plain number: a Python constant, already cast to its dtype by the caller
 * ({@link toDtype}). Float operations round to the dtype `d` they are given, as one XLA op does.
 */
export interface ScheduleArith<V = number, B = boolean> {
  /** True for the traced interpretation (inside optax's `lax.cond`). */
  readonly traced: boolean;
  /** `a + b`, `a - b`, `a * b`, `a / b` in `d`. */
  add(d: Dtype, a: V | number, b: V | number): V | number;
  sub(d: Dtype, a: V | number, b: V | number): V | number;
  mul(d: Dtype, a: V | number, b: V | number): V | number;
  div(d: Dtype, a: V | number, b: V | number): V | number;
  /** `-x` (exact). */
  neg(x: V | number): V | number;
  /** `min`/`max` of two floats (exact; NaN propagates). */
  min(a: V | number, b: V | number): V | number;
  max(a: V | number, b: V | number): V | number;
  /** `floor(x)` (exact). */
  floor(x: V | number): V | number;
  /** `cos(x)` in `d` (glibc's `cosf`/`cos`). */
  cos(d: Dtype, x: V | number): V | number;
  /** `x ** y` in `d` (`lax.pow`: glibc's `powf`/`pow`). */
  pow(d: Dtype, x: V | number, y: V | number): V | number;
  /** An int32 converted to `d` (round to nearest even). */
  fromInt(d: Dtype, n: V | number): V | number;
  /** XLA's convert of an array value to `d` (rounding, then flush-to-zero). */
  convert(d: Dtype, x: V | number): V | number;
  /** `x` rounded to `d` without a flush (numpy's cast of a Python float, `jnp.asarray(x, dtype)`). */
  cast(d: Dtype, x: V | number): V | number;
  /** int32 `x + 1`, saturating at 2^31-1 (optax's `safe_increment`). */
  increment(x: V | number): V | number;
  /** int32 `a - b`, wrapping. */
  subInt(a: V | number, b: V | number): V | number;
  /** int32 `min(max(x, lo), hi)`. */
  clampInt(x: V | number, lo: number, hi: number): V | number;
  /** `a <= b` and `a < b` (ints or floats). */
  le(a: V | number, b: V | number): B | boolean;
  lt(a: V | number, b: V | number): B | boolean;
  /** `a && b`. */
  and(a: B | boolean, b: B | boolean): B | boolean;
  /** `1` where `c` holds, else `0`, in `d`. */
  indicator(d: Dtype, c: B | boolean): V | number;
  /** `c ? then() : otherwise()` (jnp.where: in the graph both are evaluated). */
  select(c: B | boolean, then: () => V | number, otherwise: () => V | number): V | number;
  /** Whether `x` is a value of this interpretation (a foreign schedule may return anything). */
  isValue(x: unknown): boolean;
  /** Calls another schedule with `count` (its formula, in this interpretation). */
  call(schedule: Schedule, count: V | number): V | number;
  /** `x / c`, `c` a Python number already cast to `d`. */
  divConst(d: Dtype, x: V | number, c: number): V | number;
  /** `(k * x) / c`, `k` and `c` Python numbers cast to `d` (cosine's `pi * count / decay_steps`). */
  scaleDivConst(d: Dtype, k: number, x: V | number, c: number): V | number;
  /** `1 - x / c`, `c` a Python number cast to `d` (the polynomial schedule's `frac`). */
  oneMinusDivConst(d: Dtype, x: V | number, c: number): V | number;
  /** `a * b + c` where the product has no other use. */
  mulAdd(d: Dtype, a: V | number, b: V | number, c: V | number): V | number;
  /** `x ** y` (`lax.pow`) with `y` a Python number cast to `d`. */
  powConst(d: Dtype, x: V | number, y: number): V | number;
  /**
   * `k * (x / c)`, `k` and `c` constants of dtype `d`. `plain`: both reach XLA as plain constants (not
   * broadcast scalars), so that traced `Mul(Mul(x, 1/c), k)` folds into `x * fold(1/c * k)`.
   */
  mulDivConst(d: Dtype, k: number, x: V | number, c: number, plain: boolean): V | number;
  /**
   * `k * (x / c) + a`, the quotient computed in dtype `q` (then converted to `d`), the rest in `d`;
   * `k`, `c` and `a` constants. `plain` as for {@link mulDivConst}: traced, the constants fold only
   * when `q === d` (a convert in between stops the pattern); either way the product is contracted
   * into the addition.
   */
  mulDivConstAdd(d: Dtype, q: Dtype, k: number, x: V | number, c: number, a: number, plain: boolean): V | number;
  /** `a - b` of two values that are constants of the traced computation (eagerly: an XLA op). */
  constSub(d: Dtype, a: number, b: number): number;
  /** `a * b` of two constants (see {@link constSub}). */
  constMul(d: Dtype, a: number, b: number): number;
  /** `a / b` of two constants (see {@link constSub}). */
  constDiv(d: Dtype, a: number, b: number): number;
}

/** A schedule's formula, written once against {@link ScheduleArith} (see schedules/typed.ts). */
export type ScheduleFormula = <V, B>(count: V | number, arith: ScheduleArith<V, B>) => V | number;

/**
 * `x ** n` for an integer `n`, as `lax.integer_pow` lowers it: `x*x` for 2, `(x*x)*x` for 3, `1/x` for
 * -1, otherwise square-and-multiply from the lowest bit (each product rounded), and `1 / acc` for a
 * negative `n`. jnp.power takes this path when the exponent is a concrete Python int, which is how
 * optax's `frac**power` runs for `polynomial_schedule(power=2)`; it can differ from the correctly
 * rounded `pow` by an ulp (e.g. for n = 3). The same products traced or not.
 */
export function intPow<V, B>(a: ScheduleArith<V, B>, d: Dtype, x: V | number, n: number): V | number {
  if (n === 0) return 1;
  let m = Math.abs(n);
  let base = x;
  let acc: V | number | undefined;
  while (m > 0) {
    if (m % 2 === 1) acc = acc === undefined ? base : a.mul(d, acc, base);
    m = Math.floor(m / 2);
    if (m > 0) base = a.mul(d, base, base);
  }
  return n < 0 ? a.div(d, 1, acc as V | number) : (acc as V | number);
}

/** XLA's constant folding of `1 / c` in the dtype (HloEvaluator on the host: rounded, not flushed). */
function reciprocal(d: Dtype, c: number): number {
  return toDtype(d, 1 / c);
}

/** One fused multiply-add rounded to `d`, operands and result flushed like every XLA:CPU op. */
export function fma(d: Dtype, a: number, b: number, c: number): number {
  return ftz(d, fusedMultiplyAdd(d, ftz(d, a), ftz(d, b), ftz(d, c)));
}

/** Schedules' traced forms, registered by schedules/typed.ts (kept here to avoid an import cycle). */
let tracedFormOf: (s: Schedule) => Schedule = (s) => s;
/** @internal */
export function setTracedFormLookup(lookup: (s: Schedule) => Schedule): void {
  tracedFormOf = lookup;
}
/** The traced form of a schedule (schedules/typed.ts's `tracedSchedule`). @internal */
export function tracedFormLookup(s: Schedule): Schedule {
  return tracedFormOf(s);
}

/**
 * The operations the interpretation-specific ones below are written over: on numbers (./float.ts),
 * or recorded into a schedule program (./program.ts), so that each rewrite is written once.
 */
export interface ArithPrimitives<V> {
  add(d: Dtype, a: V | number, b: V | number): V | number;
  sub(d: Dtype, a: V | number, b: V | number): V | number;
  mul(d: Dtype, a: V | number, b: V | number): V | number;
  div(d: Dtype, a: V | number, b: V | number): V | number;
  neg(x: V | number): V | number;
  pow(d: Dtype, x: V | number, y: V | number): V | number;
  /** One fused multiply-add rounded to `d` (operands and result flushed). */
  fma(d: Dtype, a: V | number, b: V | number, c: V | number): V | number;
}

/** The operations whose eager and traced forms differ (see the module comment). */
type Rewritten = 'divConst' | 'scaleDivConst' | 'oneMinusDivConst' | 'mulAdd' | 'powConst' | 'mulDivConst' | 'mulDivConstAdd' | 'constSub' | 'constMul' | 'constDiv';
/** The {@link Rewritten} operations of one interpretation, over its primitives. @internal */
export type RewrittenOps<V> = Pick<ScheduleArith<V, unknown>, Rewritten>;

/** Eagerly, each jnp operation is one XLA op: optax's order, each rounded. @internal */
export function eagerOps<V>(p: ArithPrimitives<V>): RewrittenOps<V> {
  return {
    divConst: (d, x, c) => p.div(d, x, c),
    scaleDivConst: (d, k, x, c) => p.div(d, p.mul(d, k, x), c),
    oneMinusDivConst: (d, x, c) => p.sub(d, 1, p.div(d, x, c)),
    mulAdd: (d, a, b, c) => p.add(d, p.mul(d, a, b), c),
    powConst: (d, x, y) => p.pow(d, x, y),
    mulDivConst: (d, k, x, c) => p.mul(d, k, p.div(d, x, c)),
    mulDivConstAdd: (d, q, k, x, c, a) => p.add(d, p.mul(d, k, p.div(q, x, c)), a),
    constSub: (d, a, b) => sub(d, a, b),
    constMul: (d, a, b) => mul(d, a, b),
    constDiv: (d, a, b) => div(d, a, b),
  };
}

/** Traced: the formula as XLA and LLVM rewrite it inside `lax.cond` (see the module comment). @internal */
export function tracedOps<V>(p: ArithPrimitives<V>): RewrittenOps<V> {
  return {
    divConst: (d, x, c) => p.mul(d, x, reciprocal(d, c)),
    // (k * x) * (1 / c), then (A * C1) * C2 => A * (C1 * C2): one folded constant.
    scaleDivConst: (d, k, x, c) => p.mul(d, x, toDtype(d, k * reciprocal(d, c))),
    // 1 - x * (1 / c): the product feeds only the subtraction, so it is contracted: fma(-x, 1/c, 1).
    oneMinusDivConst: (d, x, c) => p.fma(d, p.neg(x), reciprocal(d, c), 1),
    mulAdd: (d, a, b, c) => p.fma(d, a, b, c),
    // pow(x, y) for a constant y after HandlePower's rewrites (see the module comment).
    powConst: (d, x, y) => {
      if (y === 0) return 1;
      if (y === 1) return x;
      if (y === 2) return p.mul(d, x, x);
      if (y === 3) return p.mul(d, x, p.mul(d, x, x));
      if (y === -1) return p.div(d, 1, x);
      return p.pow(d, x, y);
    },
    // k * (x * (1/c)): with plain constants `Mul(Mul(x, 1/c), k)` folds the two constants.
    mulDivConst: (d, k, x, c, plain) => (plain ? p.mul(d, x, toDtype(d, reciprocal(d, c) * k)) : p.mul(d, k, p.mul(d, x, reciprocal(d, c)))),
    // The product feeds only the addition: one fused multiply-add, of the folded form when it folds.
    mulDivConstAdd: (d, q, k, x, c, a, plain) => (plain && q === d
      ? p.fma(d, x, toDtype(d, reciprocal(d, c) * k), a)
      : p.fma(d, k, p.mul(q, x, reciprocal(q, c)), a)),
    constSub: (d, a, b) => toDtype(d, a - b),
    constMul: (d, a, b) => toDtype(d, a * b),
    constDiv: (d, a, b) => toDtype(d, a / b),
  };
}

/** The operations whose bits do not depend on eager or traced evaluation, on numbers (./float.ts). */
const numberOps = {
  add, sub, mul, div,
  neg: (x: number) => -x,
  min: (a: number, b: number) => Math.min(a, b),
  max: (a: number, b: number) => Math.max(a, b),
  floor: (x: number) => Math.floor(x),
  cos, pow, fromInt, fma,
  convert: res,
  subInt: subInt32,
  cast: toDtype,
  increment: safeIncrement,
  clampInt: (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi),
  le: (a: number, b: number) => a <= b,
  lt: (a: number, b: number) => a < b,
  and: (a: boolean, b: boolean) => a && b,
  indicator: (_d: Dtype, c: boolean) => (c ? 1 : 0),
  // Only the branch jnp.where selects is computed: the other's value cannot change the result.
  select: (c: boolean, then: () => number, otherwise: () => number) => (c ? then() : otherwise()),
  isValue: (x: unknown) => typeof x === 'number',
};

/** Eager evaluation: each operation rounds, in optax's order. */
export const eagerArith: ScheduleArith<number, boolean> = {
  ...numberOps,
  traced: false,
  call: (s, count) => s(count),
  ...(eagerOps<number>(numberOps) as RewrittenOps<number>),
} as ScheduleArith<number, boolean>;

/** Traced evaluation: the formula as XLA and LLVM rewrite it inside `lax.cond` (see the module comment). */
export const tracedArith: ScheduleArith<number, boolean> = {
  ...numberOps,
  traced: true,
  call: (s, count) => tracedFormOf(s)(count),
  ...(tracedOps<number>(numberOps) as RewrittenOps<number>),
} as ScheduleArith<number, boolean>;

/** The interpretation for `traced`. */
export function arithFor(traced: boolean): ScheduleArith<number, boolean> {
  return traced ? tracedArith : eagerArith;
}

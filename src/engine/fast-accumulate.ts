import { type Expr, ex, topologicalOrder } from '../kernel/expr.js';
import type { FastVariant, FusedOutput } from './program.js';

/**
 * The fast variant ({@link FusedProgram.fast}) of MultiSteps' accumulating pass, derived from its
 * exact program: no new math, only a proof that part of it cannot change the result.
 *
 * An accumulating pass stores the new accumulator and `p + zero * y` (transforms/multi-steps.ts,
 * compose.ts; `zero` is the scalar 0): the inner update `y` (or its value before a constant factor)
 * is computed only for its sign and for whether it is finite, and costs as much as the inner chain
 * itself, fused multiply-adds included (an exact emulation, the dearest operation of the traced
 * numerics). Where `y` is finite and `p` is not -0, `p + zero * y` is `p`, bit for bit: `zero * y` is
 * a zero of either sign, and `p + (+-0)` is `p` for every `p` but -0 (+0 stays +0; NaN stays NaN).
 *
 * So the fast variant stores the same accumulator and leaves `p` as it is (a NaN that the addition
 * might have quieted aside), under checks that prove `y` finite
 * without computing the fused multiply-adds that only `y` needs. Such an fma (one no stored output
 * depends on) is "replaced" by a bound: `|fma(a, b, c)| <= |a| |b| + |c|` up to one rounding. Every
 * value depending on it must be a product, a quotient with it as the dividend, a negation or an
 * absolute value of it and of values that do not depend on such an fma (computed exactly, as in the
 * exact program), so its magnitude is at most `N / D`: N the bound times the other factors' magnitudes,
 * D the divisors' magnitudes. The check `N < 2^100 D` at each such value proves it is at most about
 * `2^100`, so finite, in the exact computation too: every bound and every exact operation rounds
 * at most a few times by `1 + 2^-24` (or `2^-53`), far inside the margin to `2^128`. A NaN, an infinite
 * or zero divisor, or a bound that overflows fails the check (the comparison is false), and so does
 * a `p` of -0: that vector runs the exact program. Where a value does not fit this shape (an fma
 * inside a sum, a difference, a max, a square root, a divisor), there is no fast variant.
 *
 * The code generators that ignore the variant (plain JS, the interpreter) run the exact program.
 * @internal
 */
export function fastAccumulateVariant(y: Expr, stateOutputs: readonly FusedOutput[]): FastVariant | undefined {
  const stored = new Set(topologicalOrder(stateOutputs.map((o) => o.expr)));
  // Values that depend on the streams (the others are the same for every element).
  const varying = new Set<Expr>();
  // For each value that depends on an fma only y needs: its bound N and divisor D (undefined: 1).
  const bounds = new Map<Expr, { n: Expr; d: Expr | undefined }>();
  const below: { a: Expr; b?: Expr; k: number }[] = [];
  const check = (bound: { n: Expr; d: Expr | undefined }): void => { below.push({ a: bound.n, ...(bound.d ? { b: bound.d } : {}), k: LIMIT_LOG2 }); };
  for (const e of topologicalOrder([y])) {
    if (e.kind === 'updates' || e.kind === 'params' || e.kind === 'state') { varying.add(e); continue; }
    if (e.kind === 'scalar') continue;
    const operands = e.kind === 'unary' ? [e.a] : e.kind === 'binary' ? [e.a, e.b] : [e.a, e.b, e.c];
    if (operands.some((o) => varying.has(o))) varying.add(e);
    const bounded = operands.map((o) => bounds.get(o));
    if (e.kind === 'fma' && varying.has(e) && !stored.has(e)) {
      if (bounded.some(Boolean)) return undefined;
      const bound = { n: ex.add(ex.mul(ex.abs(e.a), ex.abs(e.b)), ex.abs(e.c)), d: undefined };
      bounds.set(e, bound);
      check(bound);
      continue;
    }
    if (!bounded.some(Boolean)) continue;
    if (e.kind === 'unary' && (e.op === 'neg' || e.op === 'abs')) {
      bounds.set(e, bounded[0]!);
    } else if (e.kind === 'binary' && e.op === 'mul' && bounded.filter(Boolean).length === 1) {
      const [x, other] = bounded[0] ? [bounded[0], e.b] : [bounded[1]!, e.a];
      const bound = { n: ex.mul(x.n, ex.abs(other)), d: x.d };
      bounds.set(e, bound);
      check(bound);
    } else if (e.kind === 'binary' && e.op === 'div' && bounded[0] && !bounded[1]) {
      const bound = { n: bounded[0].n, d: bounded[0].d ? ex.mul(bounded[0].d, ex.abs(e.b)) : ex.abs(e.b) };
      bounds.set(e, bound);
      check(bound);
    } else {
      return undefined;
    }
  }
  if (!bounds.has(y)) return undefined; // nothing to leave out
  // `p + zero * y` is then `p` (a NaN aside, which the addition may quiet): p is not stored.
  return { below, notNegativeZero: [ex.params], outputs: stateOutputs };
}

/** log2 of the bound the checks hold each value below: far from float32's 2^128, rounding included. */
const LIMIT_LOG2 = 100;

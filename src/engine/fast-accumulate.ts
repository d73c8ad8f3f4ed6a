import { type Expr, ex, topologicalOrder } from '../kernel/expr.js';
import { CAP_CONSTANT, type CappedChecks, type FastVariant, type FusedOutput, ZERO_CONSTANT } from './program.js';

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
  const checked: { n: Expr; d: Expr | undefined }[] = [];
  const check = (bound: { n: Expr; d: Expr | undefined }): void => { checked.push(bound); };
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
  const below = checked.map(({ n, d }) => ({ a: n, ...(d ? { b: d } : {}), k: LIMIT_LOG2 }));
  const capped = cappedChecks(checked);
  // `p + zero * y` is then `p` (a NaN aside, which the addition may quiet): p is not stored.
  return { below, notNegativeZero: [ex.params], outputs: stateOutputs, ...(capped ? { capped } : {}) };
}

/**
 * Checks that imply `checks` (each `n < 2^LIMIT_LOG2 d`, or `n < 2^LIMIT_LOG2`) for every element
 * where a few per-element facts hold, given per-call checks of scalars only.
 *
 * A bound `n` is built of `abs`, `*` and `+` over the program's values (see above); every rounded
 * `*`, `+`, `/` and `max` is monotonic in each operand where the operands are not negative, so
 * replacing each varying `|x|` by an upper bound of it gives an upper bound of `n` computed by the
 * same ops: `|x| < CAP` per element (a cap, false for NaN) makes `|x|` at most `CAP`; `|u * x|` and
 * `|x / u|` (u per call) are `|u| |x|` and `|x| / |u|` exactly, so only `x` needs the cap. Likewise a
 * divisor `d` (a product of `|x|`) is at least the same product of lower bounds of each `|x|`, each
 * not negative: a per-call `|u|`, `|u| L(z)` for `u * z`, and for `max(A, B)` (NaN if either is)
 * `max(l, +0)` where `A >= l`, B checked not NaN per element: `A = |z| + u` is at least `u` where z
 * is not NaN (fl(|z| + u) >= fl(0 + u)), `A = |z|` at least +0. Then `n <= N` and `d >= D` at every
 * element, `N`, `D` per call; `N < 2^k D` per call gives `n < 2^k d` (fl(2^k d) is monotonic too).
 *
 * MultiSteps(adamax): the caps are the running mean and mu, the NaN check is `b2 * nu`, and the
 * per-call checks hold for eps > 0 (the divisor is at least eps) unless eps is tiny next to the
 * bias correction: a handful of comparisons per element instead of the bound's arithmetic.
 * Returns undefined where a bound does not have this shape.
 */
function cappedChecks(checks: readonly { n: Expr; d: Expr | undefined }[]): CappedChecks | undefined {
  const caps = new Set<Expr>(), notNaN = new Set<Expr>();
  const cap = ex.scalar(CAP_CONSTANT), zero = ex.scalar(ZERO_CONSTANT);
  // The same for every element: no stream among its leaves (the program's values and the bounds built of them).
  const memo = new Map<Expr, boolean>();
  const uniform = (e: Expr): boolean => {
    let u = memo.get(e);
    if (u === undefined) memo.set(e, (u = topologicalOrder([e]).every((x) => x.kind !== 'updates' && x.kind !== 'params' && x.kind !== 'state')));
    return u;
  };
  const upperAbs = (x: Expr): Expr => {
    if (uniform(x)) return ex.abs(x);
    if (x.kind === 'unary' && (x.op === 'neg' || x.op === 'abs')) return upperAbs(x.a);
    if (x.kind === 'binary' && x.op === 'mul' && uniform(x.a) !== uniform(x.b)) {
      const [u, z] = uniform(x.a) ? [x.a, x.b] : [x.b, x.a];
      return ex.mul(ex.abs(u), upperAbs(z));
    }
    if (x.kind === 'binary' && x.op === 'div' && uniform(x.b)) return ex.div(upperAbs(x.a), ex.abs(x.b));
    caps.add(x);
    return cap;
  };
  const upper = (e: Expr): Expr | undefined => {
    if (uniform(e)) return e;
    if (e.kind === 'unary' && e.op === 'abs') return upperAbs(e.a);
    if (e.kind === 'binary' && (e.op === 'mul' || e.op === 'add')) {
      const a = upper(e.a), b = upper(e.b);
      return a && b ? ex[e.op](a, b) : undefined;
    }
    return undefined;
  };
  const checksOfCall: { a: Expr; b?: Expr; k: number }[] = [];
  // x not NaN: `u * z` (u per call) is not NaN where z is not, given u finite and not 0 (per call).
  const requireNotNaN = (x: Expr): void => {
    if (x.kind === 'binary' && x.op === 'mul' && uniform(x.a) !== uniform(x.b)) {
      const [u, z] = uniform(x.a) ? [x.a, x.b] : [x.b, x.a];
      checksOfCall.push({ a: zero, b: ex.abs(u), k: 0 }, { a: ex.abs(u), k: INFINITE_LOG2 });
      requireNotNaN(z);
      return;
    }
    notNaN.add(x);
  };
  // l with A >= l wherever the per-element checks hold (A itself not NaN).
  const lowerSigned = (a: Expr): Expr | undefined => {
    if (uniform(a)) return a;
    if (a.kind === 'unary' && a.op === 'abs') { requireNotNaN(a.a); return zero; }
    if (a.kind === 'binary' && a.op === 'add') {
      const [p, u] = uniform(a.b) ? [a.a, a.b] : uniform(a.a) ? [a.b, a.a] : [undefined, undefined];
      if (p && u && p.kind === 'unary' && p.op === 'abs') { requireNotNaN(p.a); return u; }
    }
    return undefined;
  };
  // L >= 0 (or NaN) with |x| >= L wherever the per-element checks hold.
  const lowerAbs = (x: Expr): Expr | undefined => {
    if (uniform(x)) return ex.abs(x);
    if (x.kind === 'unary' && (x.op === 'neg' || x.op === 'abs')) return lowerAbs(x.a);
    if (x.kind === 'binary' && x.op === 'mul' && uniform(x.a) !== uniform(x.b)) {
      const [u, z] = uniform(x.a) ? [x.a, x.b] : [x.b, x.a];
      const l = lowerAbs(z);
      return l && ex.mul(ex.abs(u), l);
    }
    if (x.kind === 'binary' && x.op === 'max') {
      for (const [a, b] of [[x.a, x.b], [x.b, x.a]]) {
        if (uniform(b)) continue; // (B's NaN check is per element)
        const l = lowerSigned(a);
        if (l) { requireNotNaN(b); return ex.max(l, zero); }
      }
    }
    return undefined;
  };
  // A divisor bound: a product of |x|.
  const lowerDivisor = (d: Expr): Expr | undefined => {
    if (d.kind === 'unary' && d.op === 'abs') return lowerAbs(d.a);
    if (d.kind === 'binary' && d.op === 'mul') {
      const a = lowerDivisor(d.a), b = lowerDivisor(d.b);
      return a && b ? ex.mul(a, b) : undefined;
    }
    return undefined;
  };
  for (const { n, d } of checks) {
    const a = upper(n), b = d && lowerDivisor(d);
    if (!a || (d && !b)) return undefined;
    checksOfCall.push({ a, ...(b ? { b } : {}), k: LIMIT_LOG2 });
  }
  // A capped value is not NaN: no separate check.
  for (const x of caps) notNaN.delete(x);
  return { capLog2: CAP_LOG2, caps: [...caps], notNaN: [...notNaN], uniform: checksOfCall };
}

/** log2 of the bound the checks hold each value below: far from float32's 2^128, rounding included. */
const LIMIT_LOG2 = 100;

/**
 * log2 of the cap of {@link cappedChecks}: values up to 2^40 (about 1e12) pass, and with adamax's
 * bound the per-call checks hold for eps down to about 2^(40 + 1 + log2(1 / bias) - 100).
 */
const CAP_LOG2 = 40;

/** A power of two beyond every float64 (2^1024 is Infinity): `|u| < 2^INFINITE_LOG2` holds where u is finite. */
const INFINITE_LOG2 = 1024;

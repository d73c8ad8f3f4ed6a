import { numpy as np } from '@jax-js/jax';
import type { JaxArray } from './leaf.js';

/** The smallest and largest magnitudes where {@link divide64}'s exact correction runs (see there). */
export const EXACT_DIVISION_RANGE = [2 ** -900, 2 ** 900] as const;

/**
 * `x / y` in float64, correctly rounded (IEEE division, what XLA computes), from jax-js operations:
 * jax-js divides by multiplying with the reciprocal (`q0 = x * (1/y)`, two roundings, within 1.5 ulp of
 * the quotient Q). The correctly rounded quotient is then q0 or one of its neighbours, and which one is
 * decided exactly: with `s = |q0|`, `r = |x| - s |y|` is computed without error (Dekker's product; the
 * residual of a quotient within two ulps is a double), `ulp(s)` is Rump's `ufp(s) * 2^-52` (`ufp(s) =
 * |(1 - 2^-53)(phi s) - phi s|`, `phi = 2^52 + 1`), and Q lies beyond the midpoint above s when
 * `r > |y| ulp(s) / 2` (below: `-r > |y| ulp'(s) / 2`, `ulp'` halved at a power of two); both sides of
 * these comparisons are exact, and Q is never a midpoint. Where an operand or q0 lies outside
 * {@link EXACT_DIVISION_RANGE} (where Dekker's split could overflow or its error term underflow), and
 * for zeros, infinities and NaN, the result is q0 (IEEE's results for the special values; otherwise
 * within 1.5 ulp). `k(c)` gives the constant `c` as an array the simplifier cannot fold (see
 * KernelAnchors). Inputs are borrowed; the result is owned by the caller.
 */
export function divide64(x: JaxArray | number, y: JaxArray | number, k: (c: number) => JaxArray): JaxArray {
  const arena: JaxArray[] = [];
  const keep = (a: JaxArray): JaxArray => { arena.push(a); return a; };
  const r = (a: JaxArray | number): JaxArray | number => (typeof a === 'number' ? a : a.ref);
  const o = (fn: (...xs: any[]) => JaxArray, ...xs: (JaxArray | number)[]): JaxArray => keep(fn(...xs.map(r)));
  const c = (v: number): JaxArray => keep(k(v));
  const xa = typeof x === 'number' ? c(x) : x, ya = typeof y === 'number' ? c(y) : y;
  const q0 = o(np.trueDivide, xa, ya);
  const A = o(np.abs, xa), B = o(np.abs, ya), s = o(np.abs, q0);
  // 2^-900 and 2^900 as products of constants float32 holds (a literal reaches jax-js as float32).
  const power = (e: number): JaxArray => Array.from({ length: 8 }, () => c(2 ** (e / 9))).reduce((p, f) => o(np.multiply, p, f), c(2 ** (e / 9)));
  const lo = power(Math.log2(EXACT_DIVISION_RANGE[0])), hi = power(Math.log2(EXACT_DIVISION_RANGE[1]));
  const inRange = (v: JaxArray): JaxArray => o(np.logicalAnd, o(np.greaterEqual, v, lo), o(np.lessEqual, v, hi));
  const safe = o(np.logicalAnd, o(np.logicalAnd, inRange(A), inRange(B)), inRange(s));
  // Dekker's product s * B = p + e, exactly.
  const split = (v: JaxArray): [JaxArray, JaxArray] => {
    const t = o(np.multiply, v, c(134217729));
    const h = o(np.subtract, t, o(np.subtract, t, v));
    return [h, o(np.subtract, v, h)];
  };
  const p = o(np.multiply, s, B);
  const [sh, sl] = split(s), [bh, bl] = split(B);
  let e = o(np.subtract, o(np.multiply, sh, bh), p);
  e = o(np.add, e, o(np.multiply, sh, bl));
  e = o(np.add, e, o(np.multiply, sl, bh));
  e = o(np.add, e, o(np.multiply, sl, bl));
  const res = o(np.subtract, o(np.subtract, A, p), e); // |x| - s |y|, exact
  // Rump's ufp(s), then ulp(s) and the ulp below s.
  const phiS = o(np.multiply, s, c(2 ** 52 + 1));
  const ufp = o(np.abs, o(np.subtract, o(np.multiply, phiS, c(1 - 2 ** -53)), phiS));
  const ulp = o(np.multiply, ufp, c(2 ** -52));
  const ulpBelow = o(np.where, o(np.equal, ufp, s), o(np.multiply, ulp, c(0.5)), ulp);
  const halfGapAbove = o(np.multiply, o(np.multiply, B, ulp), c(0.5));
  const halfGapBelow = o(np.multiply, o(np.multiply, B, ulpBelow), c(0.5));
  const up = o(np.greater, res, halfGapAbove);
  const down = o(np.greater, o(np.negative, res), halfGapBelow);
  const corrected = o(np.where, up, o(np.add, s, ulp), o(np.where, down, o(np.subtract, s, ulpBelow), s));
  const signed = o(np.where, o(np.less, q0, c(0)), o(np.negative, corrected), corrected);
  const out = np.where(safe.ref, signed.ref, q0.ref);
  for (const a of arena) a.dispose();
  return out;
}

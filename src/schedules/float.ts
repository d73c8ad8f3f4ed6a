/**
 * Scalar arithmetic as XLA's CPU backend performs it, for the schedules.
 *
 * optax evaluates a schedule op by op (eagerly), each op an XLA computation on one scalar. To get the
 * same bits in JS we round after every op to the op's dtype, in optax's order of operations:
 * - `+ - * /` of two float32 values computed in double and rounded once with `Math.fround` are exactly
 *   the IEEE float32 results (double has more than 2*24+2 bits, so the double rounding is innocuous).
 * - XLA's CPU runtime runs with flush-to-zero and denormals-are-zero (see conformance/FORMAT.md):
 *   subnormal inputs count as zero and subnormal results become zero. Every op here does the same.
 *   Python constants (init_value, ...) are converted to float32 on the host by numpy, so they are
 *   rounded with {@link toDtype} (no flush) and only flushed when an op reads them.
 * - `cos` and `pow` are libm calls in XLA (glibc's `cosf`/`powf`/`cos`/`pow`), which return the
 *   correctly rounded result in all but rare cases. For float32, `Math.cos`/`Math.pow` rounded to
 *   float32 give that; for float64, `Math.cos`/`Math.pow` are only faithful (an ulp off at ~5% of the
 *   recorded x64 steps), so float64 uses the correctly rounded versions of ./libm.ts.
 *
 * @internal
 */
import type { Dtype } from '../core/dtype.js';
import { cosAt as libmCosAt } from '../core/libm/cos.js';
import { powAt as libmPowAt } from '../core/libm/pow.js';
import { cosfAt } from '../core/libm/cosf.js';
import { powfAt } from '../core/libm/powf.js';

/** The smallest normal float32 (2^-126) and float64 (2^-1022). */
const MIN_NORMAL_F32 = 1.1754943508222875e-38;
const MIN_NORMAL_F64 = 2.2250738585072014e-308;

/** Flushes a subnormal of `dtype` to a zero of the same sign (XLA CPU's FTZ/DAZ). */
export function ftz(dtype: Dtype, x: number): number {
  const min = dtype === 'float32' ? MIN_NORMAL_F32 : MIN_NORMAL_F64;
  return x !== 0 && x > -min && x < min ? (x < 0 ? -0 : 0) : x;
}

/** Rounds a host-side (python) constant to `dtype`, as numpy's cast does: no flush. */
export function toDtype(dtype: Dtype, x: number): number {
  return dtype === 'float32' ? Math.fround(x) : x;
}

/** The result of an XLA op: rounded to `dtype`, then flushed. */
export function res(dtype: Dtype, x: number): number {
  return ftz(dtype, dtype === 'float32' ? Math.fround(x) : x);
}

/** `a + b` in `dtype` (operands already of `dtype`). */
export function add(d: Dtype, a: number, b: number): number {
  return res(d, ftz(d, a) + ftz(d, b));
}

/** `a - b` in `dtype`. */
export function sub(d: Dtype, a: number, b: number): number {
  return res(d, ftz(d, a) - ftz(d, b));
}

/** `a * b` in `dtype`. */
export function mul(d: Dtype, a: number, b: number): number {
  return res(d, ftz(d, a) * ftz(d, b));
}

/** `a / b` in `dtype`. */
export function div(d: Dtype, a: number, b: number): number {
  return res(d, ftz(d, a) / ftz(d, b));
}

/**
 * `cos(x)` in `dtype` (XLA's `cosine`, i.e. libm `cosf`/`cos`): glibc's `cosf` and `cos`, bit for bit
 * ({@link cosf}, core/libm/cos.ts).
 */
export function cos(d: Dtype, x: number): number {
  T[3] = x;
  cosAt(d, T, 3, 5);
  return T[5];
}

/**
 * `r[o] = cos(d, r[x])`, registers in and out: {@link cos} itself, in the form that passes no double
 * across a call (as {@link powAt}): what a schedule program runs at every step.
 */
export function cosAt(d: Dtype, r: Float64Array, x: number, o: number): void {
  T[0] = ftz(d, r[x]);
  if (d === 'float32') cosfAt(T, 0, 2);
  else libmCosAt(T, 0, 2);
  r[o] = res(d, T[2]);
}

/** Scratch registers of {@link powAt} and {@link cosAt} (0-2), and of {@link pow} and {@link cos} (3-5). */
const T = new Float64Array(6);

/** `x ** y` with a float exponent in `dtype` (`lax.pow`): glibc's `powf`/`pow` bit for bit. */
export function pow(d: Dtype, x: number, y: number): number {
  T[3] = x;
  T[4] = y;
  powAt(d, T, 3, 4, 5);
  return T[5];
}

/**
 * `r[o] = pow(d, r[x], r[y])`, registers in and out: {@link pow} itself, in the form that passes no
 * double across a call (glibc's pow is too large for V8 to inline, and a double returned from a call
 * that is not inlined is a new heap number): what a schedule program runs at every step.
 */
export function powAt(d: Dtype, r: Float64Array, x: number, y: number, o: number): void {
  T[0] = ftz(d, r[x]);
  T[1] = ftz(d, r[y]);
  if (d === 'float32') powfAt(T, 0, 1, 2);
  else libmPowAt(T, 0, 1, 2);
  r[o] = res(d, T[2]);
}

/** An int32 converted to `dtype` (XLA's convert: round to nearest even, e.g. 2^31-1 -> 2^31 in float32). */
export function fromInt(d: Dtype, n: number): number {
  return d === 'float32' ? Math.fround(n) : n;
}

/** int32 subtraction with two's-complement wrap-around, like XLA's `s32` subtract. */
export function subInt32(a: number, b: number): number {
  return (a - b) | 0;
}

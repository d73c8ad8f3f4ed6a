import { defaultDevice, numpy as np } from '@jax-js/jax';
import { fusedMultiplyAdd } from '../core/fused-multiply-add.js';
import { OptaxError } from '../core/errors.js';
import type { Dtype } from '../core/dtype.js';
import { deviceHasFloat64, negate } from './kernel.js';
import type { JaxArray } from './leaf.js';
import { fmaFromOps } from './fma-ops.js';
import { TestSwitch } from './test-switch.js';

type Operand = number | JaxArray;

const F32_MAX = 3.4028234663852886e38;

/**
 * `a * b + c` of float32 values with one rounding to float32 (XLA:CPU's fused multiply-add, which
 * jax-js has no op for), exactly, from float64 jax-js operations (the wasm and cpu devices):
 *
 * - `p = a * b` in float64 is exact (24 + 24 bits), so `s = p + c` in float64 is the exact value
 *   rounded once; rounding `s` to float32 is a second rounding. The float32 rounding boundaries
 *   (midpoints between neighbouring float32 values, and the overflow threshold `2^128 - 2^103`) are
 *   doubles, and rounding to double is monotonic, so `float32(s)` is the correct result unless `s`
 *   is exactly such a boundary and was inexact (the reasoning of core/fused-multiply-add.ts).
 * - `s` is a midpoint exactly when `t = s + (s - f)`, with `f = float32(s)`, is a float32 other than
 *   `f` (then `f` and `t` are the two float32 values around `s`; both steps are exact).
 * - The error of `s` is Knuth's TwoSum `e` (exact): where `s` is a midpoint and `e != 0`, the exact
 *   value lies on `e`'s side of `s`, so the result is the larger of `f` and `t` for `e > 0`, the
 *   smaller for `e < 0`. At the overflow threshold (`f` infinite, `|s| = MAX + 2^103`), an `e`
 *   pointing towards zero gives `±MAX`.
 *
 * Constants (numbers, already float32 values) only ever appear as the subtrahend of a subtraction or
 * a factor of a multiplication whose product is not multiplied again: jax-js's expression simplifier
 * reassociates `(x + c) + y` into `(x + y) + c` (and likewise for `*`) in its fused kernels, which
 * would change a TwoSum; subtractions are not reassociated (see src/jax-js/schedule-arith.ts).
 *
 * Checked against core/fused-multiply-add.ts (test/jax-js/fma.test.ts) on midpoints, subnormals,
 * overflow, signed zeros, infinities and NaN, eagerly and inside `jit`.
 */
export function fmaFloat32(a: Operand, b: Operand, c: Operand): Operand {
  if (typeof a === 'number' && typeof b === 'number' && typeof c === 'number') return fusedMultiplyAdd('float32', a, b, c);
  if (!deviceHasFloat64()) throw new OptaxError(`toJaxJs: XLA's fused multiply-add (in the traced inner step of apply_if_finite and MultiSteps) is emulated exactly from float64 operations, which the jax-js device '${defaultDevice()}' does not have (use 'wasm' or 'cpu')`);
  const wide = (x: Operand): Operand => (typeof x === 'number' ? x : x.astype(np.float64));
  let A = wide(a), B = wide(b);
  // A constant zero factor: jax-js's simplifier turns `x * 0` into 0 (losing NaN for an infinite x,
  // and the sign). `x - x` is +0 for finite x and NaN otherwise: `x * ±(x - x)` is the IEEE product.
  const zeroFactor = (k: number, x: JaxArray): JaxArray => {
    const z = np.subtract(x.ref, x.ref);
    return Object.is(k, -0) ? negate(z) : z;
  };
  if (A === 0 && typeof B !== 'number') A = zeroFactor(A, B);
  else if (B === 0 && typeof A !== 'number') B = zeroFactor(B, A);
  // p = a * b, exact. Two numbers fold in JavaScript (exactly); a number is only ever the second factor.
  const p: Operand = typeof A === 'number' && typeof B === 'number' ? A * B : typeof A === 'number' ? np.multiply(B, A) : np.multiply(A, B);
  if (typeof p === 'number') return fmaConstantProduct(p, c as JaxArray);
  const C = wide(c);
  // A constant zero addend: `x - 0` and `x + 0` are simplified to `x`; the product is exact, so the
  // result is its one rounding, with IEEE's sign of a zero sum (+0 unless both zeros are -0; `z * z` is +0 for either zero, where jax-js's `abs(-0)` is -0).
  if (C === 0) return (Object.is(C, -0) ? p : np.where(np.equal(p.ref, 0), np.multiply(p.ref, p.ref), p)).astype(np.float32);
  // s = p + c as p - (-c): never `Add(p, const)`, which the simplifier would move past later additions.
  const s = typeof C === 'number' ? np.subtract(p.ref, -C) : np.add(p.ref, C.ref);
  return finish(p, s, C);
}

/** `p + c` for an exact float64 product `p` that is a number and a float32 array `c`. */
function fmaConstantProduct(p: number, c: JaxArray): JaxArray {
  const C = c.astype(np.float64);
  // +0 + c is c but for c = -0 (then +0); `c - 0` would be simplified to c. -0 + c is c.
  if (p === 0) return (Object.is(p, -0) ? C : np.where(np.equal(C.ref, 0), np.multiply(C.ref, C.ref), C)).astype(np.float32);
  const s = np.subtract(C.ref, -p);
  return finish(p, s, C);
}

/** The float32 rounding of `s = fl64(p + C)`, corrected where it is a float32 midpoint (see {@link fmaFloat32}). Consumes its arrays. */
function finish(p: Operand, s: JaxArray, C: Operand): JaxArray {
  const ref = (x: Operand): Operand => (typeof x === 'number' ? x : x.ref);
  const f32 = s.ref.astype(np.float32);
  const f = f32.ref.astype(np.float64);
  // t = s + (s - f): the other float32 around s when s is a midpoint.
  const t = np.add(s.ref, np.subtract(s.ref, f.ref));
  const tRounded = t.ref.astype(np.float32).astype(np.float64);
  const midpoint = np.logicalAnd(np.logicalAnd(np.notEqual(s.ref, f.ref), np.equal(tRounded, t.ref)), np.isfinite(t.ref));
  // TwoSum: s + e = p + C exactly.
  const bb = np.subtract(s.ref, ref(p));
  const e = np.add(np.subtract(ref(p), np.subtract(s.ref, bb.ref)), typeof C === 'number' ? negate(np.subtract(bb, C)) : np.subtract(ref(C), bb));
  if (typeof p !== 'number') p.dispose();
  if (typeof C !== 'number') C.dispose();
  const up = np.greater(e.ref, 0);
  const inexact = np.notEqual(e.ref, 0);
  const corrected = np.where(up.ref, np.maximum(f.ref, t.ref), np.minimum(f.ref, t));
  let out = np.where(np.logicalAnd(midpoint, inexact.ref), corrected, f).astype(np.float32);
  // The overflow threshold: s = ±(MAX + 2^103) exactly, rounded to ±infinity, but the exact value lies
  // below it in magnitude when e points towards zero.
  const atThreshold = np.logicalAnd(np.isinf(f32), np.equal(np.subtract(np.abs(s.ref), F32_MAX), 2 ** 103));
  const towardsZero = np.logicalAnd(inexact, np.notEqual(up, np.greater(s.ref, 0)));
  out = np.where(np.logicalAnd(atThreshold, towardsZero), np.where(np.greater(s, 0), F32_MAX, -F32_MAX).astype(np.float32), out);
  e.dispose();
  return out;
}

const float32Ops = new TestSwitch();

/**
 * Runs `fn` with every float32 fused multiply-add built from float32 operations only (fma-ops.ts, what
 * the webgl and webgpu devices run) even on a device with float64: for tests on the wasm device, whose
 * float32 operations round as IEEE's, of the algorithm the GPU devices run. Internal (not exported from
 * the package). Traces made inside `fn` (a `jit`'s first call) keep the algorithm they were built with.
 */
export function withFloat32OpsFma<T>(fn: () => Promise<T>): Promise<T> {
  return float32Ops.during(fn);
}

/**
 * `a * b + c` rounded once to `dtype` (core/fused-multiply-add.ts's), as a jax-js value: two numbers
 * fold on the host; float32 on a device with float64 is {@link fmaFloat32} (float64 ops, about 30 of
 * them); float32 on webgl and webgpu, and float64 on wasm and cpu, are fma-ops.ts's algorithms from
 * operations of the dtype only. Array operands are consumed; `constant(c)` gives a number as an
 * anchored 0-d array of `dtype`, owned by the caller (see fma-ops.ts).
 */
export function fusedMultiplyAddJax(dtype: Dtype, a: Operand, b: Operand, c: Operand, constant: (c: number) => JaxArray): Operand {
  if (typeof a === 'number' && typeof b === 'number' && typeof c === 'number') return fusedMultiplyAdd(dtype, a, b, c);
  if (dtype === 'float32' && deviceHasFloat64() && !float32Ops.on()) return fmaFloat32(a, b, c);
  if (dtype === 'float64' && !deviceHasFloat64()) throw new OptaxError(`toJaxJs: a float64 fused multiply-add needs a jax-js device that computes in float64 ('wasm' or 'cpu'); '${defaultDevice()}' does not`);
  return fmaFromOps(dtype, a, b, c, constant);
}

import { defaultDevice, numpy as np } from '@jax-js/jax';
import type { Dtype } from '../core/dtype.js';
import { roundTo } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { type Expr, type Kernel, applyBinary, applyUnary, topologicalOrder } from '../kernel/expr.js';
import type { JaxArray } from './leaf.js';
import { fusedMultiplyAddJax } from './fma.js';

/** A value while lowering: a per-step constant (already rounded to the dtype) or a jax-js array. */
export type JaxValue = number | JaxArray;

/** The inputs of one leaf's kernel. Borrowed: the caller still owns (and disposes) every array here. */
export interface KernelInputs {
  readonly updates: JaxArray;
  readonly params: JaxArray | null;
  readonly state: Readonly<Record<string, JaxArray>>;
  readonly scalars: Readonly<Record<string, JaxValue>>;
}

/** The outputs of one leaf's kernel, owned by the caller. */
export interface KernelOutputs {
  readonly updates: JaxArray;
  readonly state: Record<string, JaxArray>;
}

/**
 * Evaluates a transformation's {@link Kernel} (the same `ex.*` graph the pure path interprets and the
 * fused engine compiles) as jax-js operations, one op per node, so inside `jit` it is part of the
 * traced graph. Each node is one jax-js op rounded to the leaf dtype, as one XLA op is; a node whose
 * operands are all per-step constants is folded in JavaScript with the same rounding.
 *
 * Ownership: the inputs are borrowed (each use takes a `.ref`); every intermediate is used by
 * reference while other nodes still need it and consumed by its last use, so nothing leaks.
 */
export function lowerKernel(name: string, kernel: Kernel, stateNames: readonly string[], inputs: KernelInputs, dtype: Dtype): KernelOutputs {
  const roots = [kernel.updates, ...stateNames.map((k) => kernel.state[k])];
  const order = topologicalOrder(roots);
  const uses = new Map<Expr, number>();
  const bump = (e: Expr): void => { uses.set(e, (uses.get(e) ?? 0) + 1); };
  for (const e of order) {
    if (e.kind === 'unary') bump(e.a);
    else if (e.kind === 'binary') { bump(e.a); bump(e.b); }
    else if (e.kind === 'fma') { bump(e.a); bump(e.b); bump(e.c); }
  }
  roots.forEach(bump);
  const values = new Map<Expr, JaxValue>();
  const take = (e: Expr): JaxValue => {
    const v = values.get(e)!;
    const left = uses.get(e)! - 1;
    uses.set(e, left);
    if (typeof v === 'number') return v;
    return left > 0 ? v.ref : v;
  };
  for (const e of order) {
    let v: JaxValue;
    switch (e.kind) {
      case 'updates': v = inputs.updates.ref; break;
      case 'params':
        if (!inputs.params) throw new OptaxError(`${name} needs params: call update(updates, state, params)`);
        v = inputs.params.ref;
        break;
      case 'state': {
        const s = inputs.state[e.name];
        if (!s) throw new OptaxError(`toJaxJs: ${name}: the kernel reads a state leaf '${e.name}' it does not keep`);
        v = s.ref;
        break;
      }
      case 'scalar': {
        const s = inputs.scalars[e.name];
        if (s === undefined) throw new OptaxError(`toJaxJs: ${name}: no value for the per-step scalar '${e.name}'`);
        v = typeof s === 'number' ? s : s.ref;
        break;
      }
      case 'unary': {
        const a = take(e.a);
        if (typeof a === 'number') v = roundTo(dtype, applyUnary(e.op, a));
        else v = e.op === 'neg' ? negate(a) : e.op === 'abs' ? np.abs(a) : np.sqrt(a);
        break;
      }
      case 'binary': {
        const a = take(e.a), b = take(e.b);
        if (typeof a === 'number' && typeof b === 'number') { v = roundTo(dtype, applyBinary(e.op, a, b)); break; }
        switch (e.op) {
          case 'add': v = np.add(a, b); break;
          case 'sub': v = np.subtract(a, b); break;
          case 'mul': v = np.multiply(a, b); break;
          case 'div': v = divide(a, b, dtype); break;
          case 'max': v = np.maximum(a, b); break;
          case 'min': v = np.minimum(a, b); break;
        }
        break;
      }
      case 'fma': {
        // XLA's contraction inside a traced computation (apply_if_finite, MultiSteps): jax-js has no
        // fma op; it is built exactly from float64 operations (fma.ts).
        const a = take(e.a), b = take(e.b), c = take(e.c);
        v = fusedMultiplyAddJax(name, dtype, a, b, c);
        break;
      }
      default:
        throw new OptaxError(`toJaxJs: ${name}: unsupported expression node ${(e as Expr).kind}`);
    }
    values.set(e, v);
  }
  const out = (e: Expr): JaxArray => {
    const v = take(e);
    // A root that folded to a constant still has the leaf's shape.
    return typeof v === 'number' ? np.full(inputs.updates.shape, v, { dtype: inputs.updates.dtype }) : v;
  };
  const updates = out(kernel.updates);
  const state: Record<string, JaxArray> = {};
  for (const k of stateNames) state[k] = out(kernel.state[k]);
  return { updates, state };
}

/**
 * `a / b` correctly rounded to float32, as XLA's division. jax-js divides by multiplying with the
 * reciprocal (two roundings: about a quarter of float32 quotients come out one ulp off). Where the
 * device has float64 (wasm, cpu), the quotient is computed in float64 and rounded once to float32:
 * float64's reciprocal-and-multiply is within 2^-52 of the true quotient, and a quotient of two
 * float32 values is either a float32 value or at least 2^-49 (relatively) away from every float32
 * rounding boundary, so the final rounding is the correct one (checked over 200,000 random bit
 * patterns, subnormals, zeros, infinities and NaN included). WebGPU and WebGL have no float64:
 * there the division is jax-js's own.
 */
export function divide(a: JaxValue, b: JaxValue, dtype: Dtype): JaxArray {
  if (dtype !== 'float32' || !deviceHasFloat64()) return np.trueDivide(a, b);
  const wide = (x: JaxValue): JaxValue => (typeof x === 'number' ? x : x.astype(np.float64));
  return np.trueDivide(wide(a), wide(b)).astype(np.float32);
}

/**
 * `-x` as IEEE negation (exact, flips the sign of zeros). jax-js 0.1.25's `negative(x)` is `0 - x`,
 * which gives +0 for +0 (measured); `x * -1` is the IEEE negation (and jax-js's simplifier only turns
 * `a + x * -1` into `a - x`, the same value).
 */
export function negate(x: JaxArray): JaxArray {
  return np.multiply(x, -1);
}

/** Whether the active jax-js device computes in float64 (wasm and cpu do; WebGPU and WebGL do not). */
export function deviceHasFloat64(): boolean {
  const device = defaultDevice();
  return device === 'wasm' || device === 'cpu';
}

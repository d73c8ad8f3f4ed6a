import { numpy as np } from '@jax-js/jax';
import type { Dtype } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import type { JaxArray } from './leaf.js';

/**
 * A float64 jax-js array holding exactly `values` (any doubles: subnormals, zeros of either sign,
 * infinities and NaN included), of `shape` (default: one dimension). jax-js 0.1.25 cannot take a
 * Float64Array on Node 20/22 (its type check reads the global `Float16Array`, absent there), and a
 * number operand reaches its graph as a float32 literal; so each double `v = m * 2^e` (m in [1, 2)) is
 * sent as float32 values whose float64 arithmetic is exact: m as three float32 parts (24 + 24 + 5
 * bits), summed in double exactly, then multiplied by 2^e as up to nine float32 powers of two,
 * applied from the one nearest 1 so that no product but the last can leave the normal range (the last
 * rounds exactly: the result is `v`, a double).
 */
export function float64Array(values: ArrayLike<number>, shape: readonly number[] = [values.length]): JaxArray {
  const n = values.length;
  const FACTORS = 9;
  const parts = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  const factors = Array.from({ length: FACTORS }, () => new Float32Array(n).fill(1));
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === 0 || !Number.isFinite(v)) {
      parts[0][i] = v;
      // -0 + +0 is +0: a -0 is summed from -0 parts.
      if (Object.is(v, -0)) parts[1][i] = parts[2][i] = -0;
      continue;
    }
    let e = Math.floor(Math.log2(Math.abs(v)));
    // log2 may be off by one near powers of two: settle e so that |v| / 2^e lies in [1, 2).
    while (Math.abs(v) / 2 ** e >= 2) e++;
    while (Math.abs(v) / 2 ** e < 1) e--;
    const m = e >= -1022 ? v / 2 ** e : (v * 2 ** 600) / 2 ** (e + 600); // exact: a power of two scaling
    const a = Math.fround(m), b = Math.fround(m - a), c = Math.fround(m - a - b);
    if (a + b + c !== m) throw new OptaxError(`internal: ${v} does not split into float32 parts`);
    parts[0][i] = a; parts[1][i] = b; parts[2][i] = c;
    // 2^e as powers of two of at most 2^±126 each, the partial one first.
    let rest = e, k = 0;
    const step = 126 * Math.sign(rest);
    const chunks: number[] = [];
    while (Math.abs(rest) > 126) { chunks.push(step); rest -= step; }
    chunks.unshift(rest);
    for (const c2 of chunks) factors[k++][i] = 2 ** c2;
  }
  let out = parts.map((p) => np.array(p).astype(np.float64)).reduce((x, y) => np.add(x, y));
  for (const f of factors) {
    if (f.every((x) => x === 1)) continue;
    out = np.multiply(out, np.array(f).astype(np.float64));
  }
  return np.reshape(out, [...shape]);
}

/**
 * Constants for the lowered kernels, opaque to jax-js's expression simplifier.
 *
 * Why: jax-js's simplifier (its `AluExp.simplify`, in every backend, eagerly and inside `jit`) folds
 * literal constants together in double precision and reassociates `(x * c1) * c2` into
 * `x * (c1 * c2)`: measured on `chain(scale(0.3), scale(0.7), scale(1.1))`, jitted, 393 of 1000 float32
 * results differed from optax's (test/jax-js/transformation.test.ts holds it). A value *loaded from a
 * buffer* of 128 or more distinct elements (jax-js inlines smaller or uniform arrays as literals) is
 * opaque to those rules, so each operation rounds as one XLA operation does.
 *
 * A float32 constant `c` is element 0 of a buffer of its own, `[c, 1, 2, ..., 127]` (made once per
 * value, kept until {@link dispose}), read through a view (a slice): inside `jit` the kernel that uses
 * it loads it, which costs one load (a SIMD splat in jax-js's vectorized kernels), where `z + c` with
 * `z` a loaded zero costs an addition per element too (measured: an anchored moment update over 670k
 * float32 elements took 0.26-0.29 ms against 0.21 ms loading the constants). A float64 constant is
 * added to a loaded zero in float32-exact parts (inside `jit`, jax-js turns a number operand into a
 * float32 literal; the parts add up to `c` exactly): its buffer would be built from jax-js operations,
 * which inside a `jit` trace are traced, not computed.
 */
export class KernelAnchors {
  private readonly buffer32: JaxArray;
  private readonly buffer64: JaxArray;
  /** The float32 constants' buffers, by bit pattern. */
  private readonly constants32 = new Map<number, JaxArray>();

  constructor() {
    // 128 distinct values: jax-js keeps the array a buffer (not a literal) inside `jit` too.
    this.buffer32 = np.array(Float32Array.from({ length: 128 }, (_, i) => i));
    this.buffer64 = this.buffer32.ref.astype(np.float64);
  }

  /**
   * A zero of `dtype` the simplifier cannot see is zero. Owned by the caller. It is a view (a slice)
   * of the buffer, not a `take`: inside `jit` a view is read by the kernel that uses it, where a
   * gather is a kernel of its own (jax-js's `splitGraphDataflow` materializes every gather), one
   * dispatch per constant per step.
   */
  zero(dtype: Dtype): JaxArray {
    return (dtype === 'float32' ? this.buffer32 : this.buffer64).ref.slice(0);
  }

  /**
   * The number `c` (already a value of `dtype`) as a 0-d array of `dtype`, opaque to the simplifier.
   * Owned by the caller.
   */
  literal(dtype: Dtype, c: number): JaxArray {
    if (dtype === 'float32') {
      BITS[0] = c;
      const key = BITS_U32[0];
      let buffer = this.constants32.get(key);
      if (!buffer) {
        buffer = np.array(Float32Array.from({ length: 128 }, (_, i) => (i === 0 ? c : i)));
        this.constants32.set(key, buffer);
      }
      return buffer.ref.slice(0);
    }
    let parts: number[];
    try {
      parts = float32Parts(dtype, c);
    } catch {
      return this.array(dtype, [c], []); // a double beyond float32's range (e.g. 1e-300)
    }
    let out = this.zero(dtype);
    for (const part of parts) out = np.add(out, part);
    return out;
  }

  /** Host values (already of `dtype`) of `shape` as an array of `dtype`, opaque to the simplifier. Owned by the caller. */
  array(dtype: Dtype, data: ArrayLike<number>, shape: readonly number[]): JaxArray {
    const a = dtype === 'float32' ? np.reshape(np.array(Float32Array.from(data)), [...shape]) : float64Array(data, shape);
    return np.add(this.zero(dtype), a);
  }

  dispose(): void {
    this.buffer32.dispose();
    this.buffer64.dispose();
    for (const b of this.constants32.values()) b.dispose();
    this.constants32.clear();
  }
}

const BITS = new Float32Array(1);
const BITS_U32 = new Uint32Array(BITS.buffer);

/** `c` as a sum of numbers float32 holds exactly (one for a float32 value, up to three for a double). */
export function float32Parts(dtype: Dtype | 'int32', c: number): number[] {
  if (dtype === 'float32') return [Math.fround(c)];
  if (dtype === 'int32') {
    const lo = c & 0xfff;
    return lo === c ? [c] : [c - lo, lo];
  }
  if (!Number.isFinite(c) || c === 0) return [c];
  const a = Math.fround(c), b = Math.fround(c - a), rest = c - a - b;
  if (Math.fround(rest) !== rest || !Number.isFinite(a) || (a !== 0 && Math.abs(a) < 2 ** -126)) {
    throw new OptaxError(`internal: the constant ${c} does not split into float32 parts`);
  }
  return [a, b, rest].filter((x, i) => i === 0 || x !== 0);
}

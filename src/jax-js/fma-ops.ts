import { numpy as np } from '@jax-js/jax';
import type { Dtype } from '../core/dtype.js';
import { type FmaOps, fmaFloat32FromOps, fmaFloat64FromOps } from '../core/fused-multiply-add-ops.js';
import { cutSite } from './cut-sites.js';
import type { JaxArray } from './leaf.js';

/**
 * `a * b + c` rounded once to `dtype`, as jax-js operations of that dtype only: core/fused-multiply-add-ops.ts's
 * {@link fmaFloat32FromOps} (float32 ops: jax-js's webgl and webgpu devices, which have no float64) or
 * {@link fmaFloat64FromOps} (float64 ops: the wasm and cpu devices), over jax-js's elementwise ops.
 *
 * Array operands are consumed; a number operand is a value of `dtype`. `constant(c)` gives the number
 * `c` as a 0-d array of `dtype` that jax-js's simplifier cannot see through (KernelAnchors), owned by
 * the caller: the algorithm's TwoSums and splits must round as written, and the simplifier would fold
 * `x * 0`, drop `x + 0` and reassociate `(x * c1) * c2` around literal constants. A power of two
 * beyond 2^30 or below 2^-126 (float32's 2^64, float64's 2^995 and 2^-960) is made as a product of
 * powers of two in between (each product exact): float32 cannot hold the float64 ones, and jax-js's
 * webgl and webgpu code generators print an integral float constant below 1e21 without an exponent,
 * `float(18446744073709552000)`, which GLSL reads as an overflowing int (measured) and WGSL as an
 * abstract int beyond i64.
 */
export function fmaFromOps(dtype: Dtype, a: number | JaxArray, b: number | JaxArray, c: number | JaxArray, constant: (c: number) => JaxArray): JaxArray {
  built[dtype === 'float32' ? 'float32' : 'float64']++;
  const arena: JaxArray[] = [];
  // Every value a cut site (cut-sites.ts: on WebGL inside jit, where it may be materialized; else itself).
  const keep = (x: JaxArray): JaxArray => { const y = cutSite(x); arena.push(y); return y; };
  const constants = new Map<string, JaxArray>();
  // 2^e as a product of powers of two in [2^-126, 2^30], each product exact.
  const chunk = (e: number): number => Math.max(-126, Math.min(30, e));
  const powerOfTwo = (e: number): JaxArray => {
    let out = keep(constant(2 ** chunk(e)));
    for (let rest = e - chunk(e); rest !== 0; rest -= chunk(rest)) out = keep(np.multiply(out.ref, keep(constant(2 ** chunk(rest))).ref));
    return out;
  };
  const ops: FmaOps<JaxArray, JaxArray> = {
    constant(v) {
      const key = Object.is(v, -0) ? '-0' : String(v);
      let x = constants.get(key);
      if (!x) {
        const e = Math.log2(Math.abs(v));
        // -0: the anchored zero negated (an anchor adds its constant to +0, and +0 + -0 is +0).
        if (Object.is(v, -0)) x = keep(np.multiply(ops.constant(0).ref, -1));
        else if (v !== 0 && Number.isInteger(e) && (e > 30 || e < -126)) x = v < 0 ? keep(np.multiply(powerOfTwo(e).ref, -1)) : powerOfTwo(e);
        else x = keep(constant(v));
        constants.set(key, x);
      }
      return x;
    },
    add: (x, y) => keep(np.add(x.ref, y.ref)),
    sub: (x, y) => keep(np.subtract(x.ref, y.ref)),
    mul: (x, y) => keep(np.multiply(x.ref, y.ref)),
    abs: (x) => keep(np.abs(x.ref)),
    less: (x, y) => keep(np.less(x.ref, y.ref)),
    lessEqual: (x, y) => keep(np.lessEqual(x.ref, y.ref)),
    greater: (x, y) => keep(np.greater(x.ref, y.ref)),
    greaterEqual: (x, y) => keep(np.greaterEqual(x.ref, y.ref)),
    equal: (x, y) => keep(np.equal(x.ref, y.ref)),
    notEqual: (x, y) => keep(np.notEqual(x.ref, y.ref)),
    and: (x, y) => keep(np.logicalAnd(x.ref, y.ref)),
    or: (x, y) => keep(np.logicalOr(x.ref, y.ref)),
    not: (x) => keep(np.logicalNot(x.ref)),
    isFinite: (x) => keep(np.isfinite(x.ref)),
    isInf: (x) => keep(np.isinf(x.ref)),
    where: (m, x, y) => keep(np.where(m.ref, x.ref, y.ref)),
  };
  const operand = (x: number | JaxArray): JaxArray => (typeof x === 'number' ? ops.constant(x) : keep(x));
  const out = (dtype === 'float32' ? fmaFloat32FromOps : fmaFloat64FromOps)(ops, operand(a), operand(b), operand(c)).ref;
  for (const x of arena) x.dispose();
  return out;
}

const built = { float32: 0, float64: 0 };

/**
 * How many fused multiply-adds {@link fmaFromOps} has built so far, by dtype: for the WebGL check
 * (webgl-kernels.ts), which names the float32 ones a traced update built as what made its kernel large.
 */
export function fmaFromOpsBuilt(): Readonly<{ float32: number; float64: number }> {
  return { ...built };
}

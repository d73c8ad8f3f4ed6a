import type { Dtype } from '../core/dtype.js';
import { ftz, toDtype } from '../schedules/float.js';
import { fusedMultiplyAddJax } from './fma.js';
import type { JaxArray } from './leaf.js';
import { JaxScheduleArith } from './schedule-arith.js';

type Value = number | JaxArray;

/** XLA's constant folding of `1 / c` in the dtype (on the host: rounded, not flushed), as schedules/arith.ts. */
const reciprocal = (d: Dtype, c: number): number => toDtype(d, 1 / c);

/**
 * The traced interpretation of a schedule's formula in the jax-js graph: what optax computes inside
 * `apply_if_finite`'s or `MultiSteps`' `lax.cond`, the rewrites of schedules/arith.ts's `tracedArith`
 * (division by a constant as a multiplication by its folded reciprocal, folded constant products,
 * `HandlePower`'s small integer powers, multiplications contracted into additions) on top of
 * {@link JaxScheduleArith}'s operations. The fused multiply-adds are fma.ts's exact ones (float32, and
 * float64 for x64 schedules), operands and result flushed as XLA:CPU's ops.
 */
export class TracedJaxScheduleArith extends JaxScheduleArith {
  override readonly traced: boolean = true;

  private fusedMulAdd(d: Dtype, a: Value, b: Value, c: Value): Value {
    // fusedMultiplyAddJax consumes its arrays; the arena keeps its own.
    const operand = (x: Value): Value => (typeof x === 'number' ? ftz(d, x) : this.arr(d, x).ref);
    const out = fusedMultiplyAddJax(d, operand(a), operand(b), operand(c), (k) => this.lit(d, k).ref);
    return typeof out === 'number' ? ftz(d, out) : this.flush(d, this.keep(out));
  }

  override divConst(d: Dtype, x: Value, c: number): Value { return this.mul(d, x, reciprocal(d, c)); }
  override scaleDivConst(d: Dtype, k: number, x: Value, c: number): Value { return this.mul(d, x, toDtype(d, k * reciprocal(d, c))); }
  override oneMinusDivConst(d: Dtype, x: Value, c: number): Value { return this.fusedMulAdd(d, this.neg(x), reciprocal(d, c), 1); }
  override mulAdd(d: Dtype, a: Value, b: Value, c: Value): Value { return this.fusedMulAdd(d, a, b, c); }

  override powConst(d: Dtype, x: Value, y: number): Value {
    if (y === 0) return 1;
    if (y === 1) return x;
    if (y === 2) return this.mul(d, x, x);
    if (y === 3) return this.mul(d, x, this.mul(d, x, x));
    if (y === -1) return this.div(d, 1, x);
    return this.pow(d, x, y);
  }

  override mulDivConst(d: Dtype, k: number, x: Value, c: number, plain = false): Value {
    return plain ? this.mul(d, x, toDtype(d, reciprocal(d, c) * k)) : this.mul(d, k, this.mul(d, x, reciprocal(d, c)));
  }

  override mulDivConstAdd(d: Dtype, q: Dtype, k: number, x: Value, c: number, a: number, plain = false): Value {
    return plain && q === d ? this.fusedMulAdd(d, x, toDtype(d, reciprocal(d, c) * k), a) : this.fusedMulAdd(d, k, this.mul(q, x, reciprocal(q, c)), a);
  }

  override constSub(d: Dtype, a: number, b: number): number { return toDtype(d, a - b); }
  override constMul(d: Dtype, a: number, b: number): number { return toDtype(d, a * b); }
  override constDiv(d: Dtype, a: number, b: number): number { return toDtype(d, a / b); }
}

import type { Dtype } from '../core/dtype.js';
import { ftz } from '../schedules/float.js';
import { tracedOps } from '../schedules/arith.js';
import { fusedMultiplyAddJax } from './fma.js';
import type { JaxArray } from './leaf.js';
import { JaxScheduleArith } from './schedule-arith.js';

type Value = number | JaxArray;

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

  /** The rewrites, written once (schedules/arith.ts's `tracedOps`), over this interpretation's operations. */
  private readonly rewritten = tracedOps<JaxArray>({
    add: (d, a, b) => this.add(d, a, b),
    sub: (d, a, b) => this.sub(d, a, b),
    mul: (d, a, b) => this.mul(d, a, b),
    div: (d, a, b) => this.div(d, a, b),
    neg: (x) => this.neg(x),
    pow: (d, x, y) => this.pow(d, x, y),
    fma: (d, a, b, c) => this.fusedMulAdd(d, a, b, c),
  });

  override divConst(d: Dtype, x: Value, c: number): Value { return this.rewritten.divConst(d, x, c); }
  override scaleDivConst(d: Dtype, k: number, x: Value, c: number): Value { return this.rewritten.scaleDivConst(d, k, x, c); }
  override oneMinusDivConst(d: Dtype, x: Value, c: number): Value { return this.rewritten.oneMinusDivConst(d, x, c); }
  override mulAdd(d: Dtype, a: Value, b: Value, c: Value): Value { return this.rewritten.mulAdd(d, a, b, c); }
  override powConst(d: Dtype, x: Value, y: number): Value { return this.rewritten.powConst(d, x, y); }
  override mulDivConst(d: Dtype, k: number, x: Value, c: number, plain = false): Value { return this.rewritten.mulDivConst(d, k, x, c, plain); }
  override mulDivConstAdd(d: Dtype, q: Dtype, k: number, x: Value, c: number, a: number, plain = false): Value { return this.rewritten.mulDivConstAdd(d, q, k, x, c, a, plain); }
  override constSub(d: Dtype, a: number, b: number): number { return this.rewritten.constSub(d, a, b); }
  override constMul(d: Dtype, a: number, b: number): number { return this.rewritten.constMul(d, a, b); }
  override constDiv(d: Dtype, a: number, b: number): number { return this.rewritten.constDiv(d, a, b); }
}

import type { BinaryOp, UnaryOp } from '../../kernel/expr.js';
import type { FunctionBuilder } from './function-builder.js';
import { type FloatOps, SimdOp, ValType } from './opcodes.js';

/**
 * The SIMD code of one kernel op, lane by lane, with the IEEE result of the op in the dtype.
 *
 * Most ops are one instruction. Four are written out, because V8 lowers the single WebAssembly
 * instruction to a long x64 sequence, and in an adamax step these sequences cost more than the
 * memory traffic (measured by bench/wasm-kernel.ts):
 * - `abs`/`neg` clear/flip the sign bit with a mask made once per call (V8 remakes its mask, two
 *   instructions, at every use).
 * - `min`/`max` are made of `pmin`/`pmax` (one x64 `minps`/`maxps` each, but they return an operand
 *   as is, NaN or not), where V8 emits eight instructions for `f32x4.max`:
 *   - `x = pmax(a, b)`, `y = pmax(b, a)`: when neither lane is NaN both are `max(a, b)`, except that
 *     for `±0` one of them is `-0`; when one lane is NaN, exactly one of x, y is that NaN.
 *   - `max = (x & y) | (x != y)`: `&` keeps `+0` when either is `+0`, and `x != y` is all-ones (a NaN)
 *     exactly when a NaN is in play (`-0 == +0`). Five instructions; three when an operand can never
 *     be `-0` (adamax's `|g| + eps`), see {@link VectorOpEmitter.emit}.
 *   - `min = x | y` (with pmin): `|` keeps `-0`, and OR-ing anything into a NaN keeps it a NaN (all
 *     exponent bits stay set, the fraction stays non-zero). Three instructions.
 *   The results equal `Math.max`/`Math.min` and `f32x4.max`/`min` bit for bit, but for NaN payloads
 *   and signs, which no IEEE op fixes either.
 */
/** One lane's bytes repeated across a 128-bit vector (a `v128.const` operand). */
export function splatLane(lane: readonly number[]): number[] {
  return Array.from({ length: 16 / lane.length }, () => lane).flat();
}

/** The splatted sign-bit mask of `ops`' lanes and its complement, the magnitude mask (abs, flushes). */
export function laneMasks(ops: FloatOps): { readonly sign: number[]; readonly magnitude: number[] } {
  const sign = splatLane(ops.signBit);
  return { sign, magnitude: sign.map((b) => b ^ 0xff) };
}

export class VectorOpEmitter {
  private readonly x: number;
  private readonly y: number;
  private signMask = -1;
  private magnitudeMask = -1;

  constructor(
    private readonly f: FunctionBuilder,
    private readonly ops: FloatOps,
  ) {
    this.x = f.local(ValType.v128);
    this.y = f.local(ValType.v128);
  }

  /**
   * Emits, before the loops, the masks that `abs`/`neg` of `ops` need (only those `used`), so that the
   * loops read them from locals.
   */
  prepare(used: ReadonlySet<UnaryOp | BinaryOp>): void {
    const masks = laneMasks(this.ops);
    if (used.has('neg')) {
      this.signMask = this.f.local(ValType.v128);
      this.f.v128Const(masks.sign).localSet(this.signMask);
    }
    if (used.has('abs')) {
      this.magnitudeMask = this.f.local(ValType.v128);
      this.f.v128Const(masks.magnitude).localSet(this.magnitudeMask);
    }
  }

  /**
   * Emits `op` on the vectors in locals `a` (and `b`), leaving the result on the stack. `facts` says
   * which operand can never be `-0` (see `neverNegativeZero`): `max` is then three instructions,
   *   `pmax(a, b) | (b != b)` when `a` is never `-0` (`pmax(a, b)` returns `a` for a NaN `a`, for equal
   *   zeros, which are then `+0` at worst on the `a` side, and when `b` is NaN, which `b != b` fixes),
   *   and the mirror image when `b` is never `-0`.
   */
  emit(op: UnaryOp | BinaryOp, a: number, b = -1, facts: { aNotNegativeZero?: boolean; bNotNegativeZero?: boolean } = {}): void {
    const f = this.f, ops = this.ops;
    switch (op) {
      case 'abs':
        if (this.magnitudeMask < 0) throw new Error('abs used without prepare()');
        f.localGet(a).localGet(this.magnitudeMask).simd(SimdOp.v128And);
        return;
      case 'neg':
        if (this.signMask < 0) throw new Error('neg used without prepare()');
        f.localGet(a).localGet(this.signMask).simd(SimdOp.v128Xor);
        return;
      case 'max':
        if (facts.aNotNegativeZero || facts.bNotNegativeZero) {
          const [x, y] = facts.aNotNegativeZero ? [a, b] : [b, a];
          f.localGet(x).localGet(y).simd(ops.vectorPmax);
          f.localGet(y).localGet(y).simd(ops.vectorNe).simd(SimdOp.v128Or);
          return;
        }
        this.pickBoth(ops.vectorPmax, a, b);
        f.localGet(this.x).localGet(this.y).simd(SimdOp.v128And);
        f.localGet(this.x).localGet(this.y).simd(ops.vectorNe).simd(SimdOp.v128Or);
        return;
      case 'min':
        this.pickBoth(ops.vectorPmin, a, b);
        f.localGet(this.x).localGet(this.y).simd(SimdOp.v128Or);
        return;
      case 'sqrt':
        f.localGet(a).simd(ops.vector.sqrt);
        return;
      default:
        f.localGet(a).localGet(b).simd(ops.vector[op]);
    }
  }

  /** `x = pick(a, b)`, `y = pick(b, a)`. */
  private pickBoth(pick: number, a: number, b: number): void {
    this.f.localGet(a).localGet(b).simd(pick).localSet(this.x);
    this.f.localGet(b).localGet(a).simd(pick).localSet(this.y);
  }
}

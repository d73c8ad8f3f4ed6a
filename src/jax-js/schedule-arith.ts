import { lax, numpy as np } from '@jax-js/jax';
import type { Dtype } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { INT32_MAX } from '../core/numerics.js';
import type { Schedule } from '../core/schedule.js';
import { COSF_PARTS } from '../core/libm/cosf.js';
import { POWF_PARTS } from '../core/libm/powf.js';
import { type ScheduleArith, eagerArith } from '../schedules/arith.js';
import { ftz, toDtype } from '../schedules/float.js';
import { scheduleFormula } from '../schedules/typed.js';
import { cutSite } from './cut-sites.js';
import { type JaxArray, isJaxLeaf } from './leaf.js';
import { divide64 } from './float64-division.js';
import { float64Array } from './constants.js';
import { negate } from './kernel.js';

type Value = number | JaxArray;
type Cond = boolean | JaxArray;
type Kind = 'float32' | 'float64' | 'int32';

const MIN_NORMAL: Record<Dtype, number> = { float32: 2 ** -126, float64: 2 ** -1022 };

/**
 * Buffers the in-graph arithmetic anchors its constants to (owned by the lowered transformation).
 *
 * Why: jax-js's expression simplifier (its `AluExp.simplify`, in every backend) folds a literal
 * constant with its neighbours in double precision and reassociates `(x * c1) * c2` into
 * `x * (c1 * c2)` (likewise for `+`), which changes float32 results. A constant written `z + c`, with
 * `z` a zero *loaded from a buffer*, is opaque to those rules, so every operation here rounds as one
 * XLA operation does.
 */
export class ArithAnchors {
  readonly float32: JaxArray;
  readonly float64: JaxArray;
  readonly int32: JaxArray;
  /** 2^(i/32) (powf's exp2 table) and 2^(j - 80), j = 0..160, as float64 arrays. */
  readonly exp2Table: JaxArray;
  readonly powersOfTwo: JaxArray;
  /** powf's log2 table: 1/c and log2(c), 16 entries each, as float64 arrays. */
  readonly log2Invc: JaxArray;
  readonly log2Logc: JaxArray;

  constructor() {
    this.float32 = np.array(new Float32Array([0, 1]));
    this.float64 = this.float32.ref.astype(np.float64);
    this.int32 = np.array(new Int32Array([0, 1]));
    this.exp2Table = float64Array(POWF_PARTS.exp2Table);
    this.powersOfTwo = float64Array(Array.from({ length: 161 }, (_, j) => 2 ** (j - 80)));
    this.log2Invc = float64Array(POWF_PARTS.invc);
    this.log2Logc = float64Array(POWF_PARTS.logc);
  }

  dispose(): void {
    for (const a of [this.float32, this.float64, this.int32, this.exp2Table, this.powersOfTwo, this.log2Invc, this.log2Logc]) a.dispose();
  }
}

/**
 * Whether an operation rounding to `d` has a float64 array operand while `d` is float32: a float64
 * injected hyperparameter feeding a float32 leaf's scalars (`1 - b1`). The pure path computes those in
 * double from the float64 value and rounds the result to float32 (`writeHyper`), as the eager
 * interpretation does with number operands; so the operation runs in float64, rounded once to `d`
 * (casting the operand to float32 first would round twice).
 */
function widerThan(d: Dtype, a: Value, b: Value): boolean {
  return d === 'float32' && [a, b].some((x) => typeof x !== 'number' && x.dtype === 'float64');
}

/** `c` as a sum of numbers float32 holds exactly (one for float32, up to three for a double, two for an int32). */
function literalParts(d: Kind, c: number): number[] {
  if (d === 'float32') return [toDtype('float32', c)];
  if (d === 'int32') {
    const lo = c & 0xfff;
    return lo === c ? [c] : [c - lo, lo];
  }
  if (!Number.isFinite(c)) return [c];
  const a = Math.fround(c), b = Math.fround(c - a), rest = c - a - b;
  if (Math.fround(rest) !== rest || !Number.isFinite(a)) throw new OptaxError(`internal: the constant ${c} does not split into float32 parts`);
  return [a, b, rest].filter((x, i) => i === 0 || x !== 0);
}

/**
 * The jax-js interpretation of {@link ScheduleArith}: a schedule's formula (and the bias correction)
 * evaluated as jax-js operations on the int32 step count, so inside `jit` it is part of the traced
 * graph. Numbers stay numbers (folded in JavaScript by the eager interpretation, with its rounding)
 * until they meet an array.
 *
 * Rounding, operation by operation as XLA:CPU: `+ - *` are IEEE operations in jax-js (exact match);
 * `/` in float32 is computed in float64 and rounded once (jax-js multiplies by a reciprocal; see
 * kernel.ts), in float64 corrected to the IEEE quotient (float64-division.ts); results are flushed to
 * zero below the smallest normal, as XLA:CPU does. `cos` and `pow` are glibc's `cosf` and `powf`
 * (the algorithms the pure path runs, core/libm/), rebuilt from float64 jax-js operations, each of
 * glibc's fused multiply-adds emulated with error-free transformations (Dekker's product, Knuth's
 * sum): see the README for the measured agreement.
 *
 * `pow` with a base that varies with the count (a non-integer `polynomialSchedule` power, a cosine
 * `exponent` other than 1) is powf's full path: its log2 from the base's bits (a bitcast to int32) and
 * a 16-entry table, then its exp2. Not lowered (an OptaxError names it): float64 `cos`/`pow` (x64
 * schedules with a cosine or a power, x64 bias corrections; the adapter tabulates those that settle),
 * and schedules optax-ts did not build (JavaScript functions).
 *
 * Ownership: every array made here is kept in an arena and freed by {@link JaxScheduleArith.finish},
 * which hands back the result, owned by the caller. Inputs are borrowed.
 */
export class JaxScheduleArith implements ScheduleArith<JaxArray, JaxArray> {
  readonly traced: boolean = false;
  private readonly arena: JaxArray[] = [];

  constructor(private readonly owner: string, private readonly anchors: ArithAnchors) {}

  private readonly zeros = new Map<Kind, JaxArray>();

  /** A zero of `d` that jax-js's simplifier cannot see is zero (see {@link ArithAnchors}). */
  private zero(d: Kind): JaxArray {
    let z = this.zeros.get(d);
    if (!z) {
      if (!this.count) throw new OptaxError('internal: the in-graph arithmetic needs the count');
      // Inside jit, `count - count` (a buffer would be inlined there); eagerly, where a small count is
      // itself a constant, a zero loaded from a buffer. Each is the other's no-op (jax-js drops `x + 0`).
      const i = this.zeros.get('int32') ?? this.o(np.add, this.o(np.subtract, this.count, this.count), this.keep(np.take(this.anchors.int32.ref, np.array(0, { dtype: np.int32 }))));
      this.zeros.set('int32', i);
      z = d === 'int32' ? i : this.keep(i.ref.astype(d === 'float32' ? np.float32 : np.float64));
      this.zeros.set(d, z);
    }
    return z;
  }

  private count: JaxArray | null = null;

  /** The step count (borrowed until {@link finish}): the input of the formulas, and the constants' anchor. */
  input(count: JaxArray): JaxArray {
    this.count = this.keep(count.ref);
    return this.count;
  }

  /** `fn` applied to `.ref`s of its array arguments (it consumes them), its result kept. */
  o(fn: (...xs: any[]) => JaxArray, ...xs: (JaxArray | number)[]): JaxArray {
    return this.keep(fn(...xs.map((x) => (typeof x === 'number' ? x : x.ref))));
  }

  /** Takes ownership of `x` until {@link finish}; each value a cut site (cut-sites.ts: on WebGL inside jit, where it may be materialized; else itself). */
  keep(x: JaxArray): JaxArray {
    const y = cutSite(x);
    this.arena.push(y);
    return y;
  }

  /** `value` as an array of `d` owned by the caller (a number becomes a constant), and frees the arena. */
  finish(value: Value, d: Kind): JaxArray {
    const out = this.arr(d, value).ref;
    for (const a of this.arena) a.dispose();
    this.arena.length = 0;
    this.zeros.clear();
    this.count = null;
    return out;
  }

  /** `values` as the kernel's scalars (numbers stay numbers, arrays cast to `d`, owned by the caller), and frees the arena. */
  finishAll(values: Readonly<Record<string, Value>>, d: Kind): Record<string, number | JaxArray> {
    const out: Record<string, number | JaxArray> = {};
    for (const [k, v] of Object.entries(values)) out[k] = typeof v === 'number' ? toDtype(d as Dtype, v) : this.arr(d, v).ref;
    for (const a of this.arena) a.dispose();
    this.arena.length = 0;
    this.zeros.clear();
    this.count = null;
    return out;
  }

  /** Frees whatever the arena still holds (after an error; a no-op after {@link finish}). */
  release(): void {
    for (const a of this.arena) a.dispose();
    this.arena.length = 0;
    this.zeros.clear();
    this.count = null;
  }

  /** `c` (already of its type) as an array of `d` shaped like the count. */
  broadcast(d: Kind, c: number): JaxArray {
    return this.lit(d, c); // the zero it is added to has the count's shape
  }

  /** The constant `c` of `d`, opaque to jax-js's simplifier (see {@link ArithAnchors}). */
  lit(d: Kind, c: number): JaxArray {
    // Added in parts that float32 holds exactly: inside `jit` jax-js 0.1.25 turns a number operand into a
    // weakly typed float32 literal first (measured: 134217729 arrives as 134217728 in a float64 sum);
    // its simplifier then folds the parts back together in double precision, exactly.
    let out = this.zero(d);
    for (const part of literalParts(d, c)) out = this.o(np.add, out, part);
    return out;
  }

  /** `x` as an array of `d`: a number read as an op operand (flushed), an array converted if needed. */
  arr(d: Kind, x: Value): JaxArray {
    if (typeof x === 'number') return this.lit(d, d === 'int32' ? x : ftz(d, x));
    return x.dtype === d ? x : this.keep(x.ref.astype(d === 'float32' ? np.float32 : d === 'float64' ? np.float64 : np.int32));
  }

  /** Flush-to-zero of a result (XLA:CPU): |x| below the smallest normal becomes a zero of x's sign. */
  protected flush(d: Dtype, x: JaxArray): JaxArray {
    // float64: XLA flushes below 2^-1022 too, but no float64 value here gets there (and a literal that
    // small cannot reach jax-js's graph exactly: see literalParts).
    if (d === 'float64') return x;
    const tiny = this.o(np.less, this.o(np.abs, x), this.lit(d, MIN_NORMAL[d]));
    return this.o(np.where, tiny, this.o(np.multiply, x, this.lit(d, 0)), x);
  }

  private binary(d: Dtype, a: Value, b: Value, op: (x: JaxArray, y: JaxArray) => JaxArray, fold: (d: Dtype, a: number, b: number) => number): Value {
    if (typeof a === 'number' && typeof b === 'number') return fold(d, a, b);
    if (widerThan(d, a, b)) return this.flush(d, this.arr(d, this.binary('float64', a, b, op, fold)));
    return this.flush(d, this.keep(op(this.arr(d, a).ref, this.arr(d, b).ref)));
  }

  add(d: Dtype, a: Value, b: Value): Value { return this.binary(d, a, b, np.add, eagerArith.add); }
  sub(d: Dtype, a: Value, b: Value): Value { return this.binary(d, a, b, np.subtract, eagerArith.sub); }
  mul(d: Dtype, a: Value, b: Value): Value { return this.binary(d, a, b, np.multiply, eagerArith.mul); }

  div(d: Dtype, a: Value, b: Value): Value {
    if (typeof a === 'number' && typeof b === 'number') return eagerArith.div(d, a, b);
    if (widerThan(d, a, b)) return this.flush(d, this.arr(d, this.div('float64', a, b)));
    const x = this.arr(d, a), y = this.arr(d, b);
    // float32: in float64, rounded once (see kernel.ts's divide); float64: corrected to the IEEE quotient.
    if (d === 'float32') return this.flush(d, this.keep(np.trueDivide(x.ref.astype(np.float64), y.ref.astype(np.float64)).astype(np.float32)));
    return this.flush(d, this.keep(divide64(x, y, (c) => this.lit('float64', c).ref)));
  }

  neg(x: Value): Value { return typeof x === 'number' ? -x : this.o(negate, x); }

  private pair(a: Value, b: Value): [JaxArray, JaxArray] {
    const d = (typeof a === 'number' ? (b as JaxArray).dtype : a.dtype) as Kind;
    return [this.arr(d, a), this.arr(d, b)];
  }

  min(a: Value, b: Value): Value {
    if (typeof a === 'number' && typeof b === 'number') return Math.min(a, b);
    const [x, y] = this.pair(a, b);
    return this.o(np.minimum, x, y);
  }

  max(a: Value, b: Value): Value {
    if (typeof a === 'number' && typeof b === 'number') return Math.max(a, b);
    const [x, y] = this.pair(a, b);
    return this.o(np.maximum, x, y);
  }

  floor(x: Value): Value { return typeof x === 'number' ? Math.floor(x) : this.o(np.floor, x); }

  fromInt(d: Dtype, n: Value): Value {
    if (typeof n === 'number') return eagerArith.fromInt(d, n);
    return this.keep(this.arr('int32', n).ref.astype(d === 'float32' ? np.float32 : np.float64));
  }

  convert(d: Dtype, x: Value): Value {
    if (typeof x === 'number') return eagerArith.convert(d, x);
    return this.flush(d, this.arr(d, x));
  }

  /** `x` rounded to `d` without a flush (numpy's cast of a Python float, jnp.asarray of a value). */
  cast(d: Dtype, x: Value): Value {
    return typeof x === 'number' ? toDtype(d, x) : this.arr(d, x);
  }

  subInt(a: Value, b: Value): Value {
    if (typeof a === 'number' && typeof b === 'number') return eagerArith.subInt(a, b);
    return this.o(np.subtract, this.arr('int32', a), this.arr('int32', b));
  }

  clampInt(x: Value, lo: number, hi: number): Value {
    if (typeof x === 'number') return eagerArith.clampInt(x, lo, hi);
    return this.o(np.minimum, this.o(np.maximum, this.arr('int32', x), this.lit('int32', lo)), this.lit('int32', hi));
  }

  /** `count + 1`, saturating at 2^31-1 (optax's safe_increment). */
  increment(x: Value): Value {
    if (typeof x === 'number') return x < INT32_MAX ? x + 1 : INT32_MAX;
    const c = this.arr('int32', x);
    return this.o(np.where, this.o(np.equal, c, this.lit('int32', INT32_MAX)), c, this.o(np.add, c, this.lit('int32', 1)));
  }

  le(a: Value, b: Value): Cond {
    if (typeof a === 'number' && typeof b === 'number') return a <= b;
    const [x, y] = this.pair(a, b);
    return this.o(np.lessEqual, x, y);
  }

  lt(a: Value, b: Value): Cond {
    if (typeof a === 'number' && typeof b === 'number') return a < b;
    const [x, y] = this.pair(a, b);
    return this.o(np.less, x, y);
  }

  and(a: Cond, b: Cond): Cond {
    if (typeof a === 'boolean') return a ? b : false;
    if (typeof b === 'boolean') return b ? a : false;
    return this.o(np.logicalAnd, a, b);
  }

  indicator(d: Dtype, c: Cond): Value {
    if (typeof c === 'boolean') return c ? 1 : 0;
    return this.keep(c.ref.astype(d === 'float32' ? np.float32 : np.float64));
  }

  select(c: Cond, then: () => Value, otherwise: () => Value): Value {
    if (typeof c === 'boolean') return c ? then() : otherwise();
    const a = then(), b = otherwise();
    // Two numbers (values already rounded to their type) are exact in float64.
    const d = (typeof a !== 'number' ? a.dtype : typeof b !== 'number' ? b.dtype : 'float64') as Kind;
    return this.o(np.where, c, this.arr(d, a), this.arr(d, b));
  }

  isValue(x: unknown): boolean { return typeof x === 'number' || isJaxLeaf(x); }

  call(schedule: Schedule, count: Value): Value {
    const formula = scheduleFormula(schedule);
    if (!formula) throw new OptaxError(`toJaxJs: ${this.owner}: its schedule is a function optax-ts did not build; the jax-js adapter evaluates only the library's schedules (and joins of them) in the graph`);
    return formula(count, this);
  }

  divConst(d: Dtype, x: Value, c: number): Value { return this.div(d, x, c); }
  scaleDivConst(d: Dtype, k: number, x: Value, c: number): Value { return this.div(d, this.mul(d, k, x), c); }
  oneMinusDivConst(d: Dtype, x: Value, c: number): Value { return this.sub(d, 1, this.div(d, x, c)); }
  mulAdd(d: Dtype, a: Value, b: Value, c: Value): Value { return this.add(d, this.mul(d, a, b), c); }
  powConst(d: Dtype, x: Value, y: number): Value { return this.pow(d, x, y); }
  // The eager forms (optax's op-by-op order), as eagerArith has them.
  mulDivConst(d: Dtype, k: number, x: Value, c: number): Value { return this.mul(d, k, this.div(d, x, c)); }
  mulDivConstAdd(d: Dtype, q: Dtype, k: number, x: Value, c: number, a: number): Value { return this.add(d, this.mul(d, k, this.div(q, x, c)), a); }
  constSub(d: Dtype, a: number, b: number): number { return eagerArith.constSub(d, a, b); }
  constMul(d: Dtype, a: number, b: number): number { return eagerArith.constMul(d, a, b); }
  constDiv(d: Dtype, a: number, b: number): number { return eagerArith.constDiv(d, a, b); }

  // --- float64 building blocks (exact IEEE operations of jax-js on wasm) ---

  private f64(op: (x: JaxArray, y: JaxArray) => JaxArray, a: JaxArray, b: JaxArray): JaxArray {
    return this.keep(op(a.ref, b.ref));
  }

  /** Dekker's product: `a * b = p + e` exactly (Veltkamp splitting by 2^27 + 1). */
  private twoProduct(a: JaxArray, b: JaxArray): [JaxArray, JaxArray] {
    const p = this.f64(np.multiply, a, b);
    const split = (x: JaxArray): [JaxArray, JaxArray] => {
      const c = this.f64(np.multiply, this.lit('float64', 134217729), x);
      const hi = this.f64(np.subtract, c, this.f64(np.subtract, c, x));
      return [hi, this.f64(np.subtract, x, hi)];
    };
    const [ah, al] = split(a), [bh, bl] = split(b);
    let e = this.f64(np.subtract, this.f64(np.multiply, ah, bh), p);
    e = this.f64(np.add, e, this.f64(np.multiply, ah, bl));
    e = this.f64(np.add, e, this.f64(np.multiply, al, bh));
    e = this.f64(np.add, e, this.f64(np.multiply, al, bl));
    return [p, e];
  }

  /** `a * b + c` rounded once (to double precision but for ties of the last step), as glibc's fma. */
  private fma(a: JaxArray | number, b: JaxArray | number, c: JaxArray | number): JaxArray {
    const [x, y, z] = [a, b, c].map((v) => this.arr('float64', v));
    const [p, e] = this.twoProduct(x, y);
    // Knuth's two-sum of p and z, then the two error terms added to the sum.
    const s = this.f64(np.add, p, z);
    const bb = this.f64(np.subtract, s, p);
    const t = this.f64(np.add, this.f64(np.subtract, p, this.f64(np.subtract, s, bb)), this.f64(np.subtract, z, bb));
    return this.f64(np.add, s, this.f64(np.add, t, e));
  }

  private where(c: JaxArray, a: JaxArray | number, b: JaxArray | number, d: Kind = 'float64'): JaxArray {
    return this.o(np.where, c, this.arr(d, a), this.arr(d, b));
  }

  /**
   * glibc's `cosf` (core/libm/cosf.ts) for |x| < 120: reduction by pi/2 with the fused `x - n pi/2`
   * made exact by splitting pi/2 (n <= 77 times its top 46 bits is exact, and `x - n * hi` is exact by
   * Sterbenz's lemma), then the same polynomials. Arguments of 120 and beyond (glibc's Payne-Hanek
   * reduction) give finite values but not glibc's: optax-ts's schedules only select cosines of
   * arguments in [0, pi].
   */
  cos(d: Dtype, x: Value): Value {
    if (typeof x === 'number') return eagerArith.cos(d, x);
    if (d !== 'float32') throw new OptaxError(`toJaxJs: ${this.owner}: a float64 (x64) cosine is not lowered to jax-js (jax-js's own cos computes in float32); use a float32 schedule`);
    const K = COSF_PARTS;
    const xf = this.arr('float32', x);
    const ax = this.o(np.abs, xf);
    const xd = this.arr('float64', xf);
    const cosPoly = (x2: JaxArray): JaxArray => {
      const x4 = this.f64(np.multiply, x2, x2);
      const c1 = this.fma(x2, K.C1, K.C0);
      const c2 = this.fma(x2, K.C4, K.C3);
      const x6 = this.f64(np.multiply, x2, x4);
      const c = this.fma(x4, K.C2, c1);
      return this.fma(x6, c2, c);
    };
    const sinPoly = (xs: JaxArray, x2: JaxArray): JaxArray => {
      const s1 = this.fma(x2, K.S3, K.S2);
      const x3 = this.f64(np.multiply, x2, xs);
      const x5 = this.f64(np.multiply, x2, x3);
      const s = this.fma(x3, K.S1, xs);
      return this.fma(x5, s1, s);
    };
    const small = cosPoly(this.f64(np.multiply, xd, xd));
    // n = (trunc(x * 2/pi * 2^24) + 2^23) >> 24
    const t = this.o(np.trunc, this.f64(np.multiply, xd, this.lit('float64', K.HPI_INV_2_24)));
    const n = this.o(np.floor, this.f64(np.multiply, this.f64(np.add, t, this.lit('float64', 2 ** 23)), this.lit('float64', 2 ** -24)));
    const hpiHi = Math.floor(K.HPI * 2 ** 45) * 2 ** -45; // the top 46 bits of pi/2
    const hpiLo = K.HPI - hpiHi;
    const r = this.f64(np.subtract, this.f64(np.subtract, xd, this.f64(np.multiply, n, this.lit('float64', hpiHi))), this.f64(np.multiply, n, this.lit('float64', hpiLo)));
    const q = this.f64(np.subtract, n, this.f64(np.multiply, this.lit('float64', 4), this.o(np.floor, this.f64(np.multiply, n, this.lit('float64', 0.25)))));
    const r2 = this.f64(np.multiply, r, r);
    const odd = this.o(np.logicalOr, this.o(np.equal, q, this.lit('float64', 1)), this.o(np.equal, q, this.lit('float64', 3)));
    const sinSign = this.where(this.o(np.logicalOr, this.o(np.equal, q, this.lit('float64', 1)), this.o(np.equal, q, this.lit('float64', 2))), -1, 1);
    const sinBranch = sinPoly(this.f64(np.multiply, r, sinSign), r2);
    const cosBranch = this.f64(np.multiply, cosPoly(r2), this.where(this.o(np.greaterEqual, q, this.lit('float64', 2)), -1, 1));
    const medium = this.where(odd, sinBranch, cosBranch);
    let out = this.where(this.o(np.less, ax, this.lit('float32', K.pio4)), small, medium);
    out = this.where(this.o(np.less, ax, this.lit('float32', K.tiny)), 1, out);
    out = this.where(this.o(np.isnan, xf), NaN, out);
    return this.flush('float32', this.keep(out.ref.astype(np.float32)));
  }

  /**
   * glibc's `powf` (core/libm/powf.ts): `log2(x)` in double as powf computes it (on the host for a
   * constant base; for a base that changes with the step, powf's log2 rebuilt from float64 jax-js
   * operations: see {@link log2f}), times y, then powf's exp2 (a 32-entry table, a cubic, the scale 2^k
   * as a product of two exact powers of two) in float64 jax-js operations, and powf's overflow and
   * underflow results.
   */
  pow(d: Dtype, x: Value, y: Value): Value {
    if (typeof x === 'number' && typeof y === 'number') return eagerArith.pow(d, x, y);
    if (d !== 'float32') throw new OptaxError(`toJaxJs: ${this.owner}: a float64 (x64) power is not lowered to jax-js; use float32 leaves and schedules`);
    if (typeof x !== 'number') return this.powVaryingBase(x, y);
    const base = ftz('float32', x);
    const yf = this.arr('float32', y);
    if (!(base > 0) || !Number.isFinite(base)) {
      if (base === 0) return this.where(this.o(np.equal, yf, this.lit('float32', 0)), 1, this.where(this.o(np.greater, yf, this.lit('float32', 0)), 0, Infinity), 'float32');
      throw new OptaxError(`toJaxJs: ${this.owner}: ${base} ** y is not lowered to jax-js (a positive finite base is)`);
    }
    return this.exp2f(this.f64(np.multiply, this.arr('float64', yf), this.lit('float64', POWF_PARTS.log2(base))));
  }

  /**
   * powf(x, y) for an array base `x` (a schedule's `frac ** power`, `cosine ** exponent`): y a number
   * here in every schedule (an array y also works). C99's special cases as powf has them: `x ** 0 = 1`
   * and `1 ** y = 1` (NaN included), 0 and infinity by the sign of y, a negative base NaN unless y is an
   * integer (then the sign of an odd power), NaN propagated.
   */
  private powVaryingBase(x: JaxArray, y: Value): Value {
    if (y === 1) return x; // powf(x, 1) is x: its log2 and exp2 round-trip exactly (checked over all float32 in [2^-20, 1])
    if (y === 0) return 1;
    // XLA:CPU reads a subnormal operand as zero (of its sign), as the pure path's pow does.
    const xf = this.flush('float32', this.arr('float32', x));
    const yf = this.flush('float32', this.arr('float32', y));
    const ax = this.o(np.abs, xf);
    const logx = this.log2f(ax);
    const yd = this.arr('float64', yf);
    const ylogx = this.f64(np.multiply, yd, logx);
    let out = this.arr('float32', this.exp2f(ylogx) as JaxArray);
    // powf's special cases (C99): a zero or infinite base by the sign of y; a negative sign bit with an
    // odd integer y gives the sign; a finite negative base with a non-integer y is NaN; NaN propagates;
    // x ** 0 = 1 ** y = 1.
    const yNegative = this.o(np.less, yd, this.lit('float64', 0));
    out = this.where(this.o(np.equal, ax, this.lit('float32', 0)), this.where(yNegative, Infinity, 0, 'float32'), out, 'float32');
    out = this.where(this.o(np.isinf, ax), this.where(yNegative, 0, Infinity, 'float32'), out, 'float32');
    const integer = this.o(np.equal, this.o(np.floor, yd), yd);
    const half = this.f64(np.multiply, yd, this.lit('float64', 0.5));
    const odd = this.o(np.logicalAnd, integer, this.o(np.notEqual, this.o(np.floor, half), half));
    // A product, not a select: jax-js's where turns a selected -0 into +0 (measured).
    out = this.o(np.multiply, out, this.where(this.o(np.logicalAnd, this.o(np.signbit, xf), odd), -1, 1, 'float32'));
    const finiteNegative = this.o(np.logicalAnd, this.o(np.less, xf, this.lit('float32', 0)), this.o(np.logicalNot, this.o(np.isinf, xf)));
    out = this.where(this.o(np.logicalAnd, finiteNegative, this.o(np.logicalNot, integer)), NaN, out, 'float32');
    out = this.where(this.o(np.logicalOr, this.o(np.isnan, xf), this.o(np.isnan, yd)), NaN, out, 'float32');
    out = this.where(this.o(np.logicalOr, this.o(np.equal, xf, this.lit('float32', 1)), this.o(np.equal, yd, this.lit('float64', 0))), 1, out, 'float32');
    return out;
  }

  /**
   * powf's `log2_inline` of a float32 array `x` where it is positive, finite and normal (other elements
   * give finite values that the caller replaces; subnormals are flushed before), in float64 jax-js
   * operations: the bits `ix` of x, `tmp = ix - OFF`, the table index `(tmp >> 19) % 16` and the
   * exponent `k = tmp >> 23` read from `tmp` as a float64 integer, `z = x / 2^k` (exact, as powf's
   * `asfloat(ix - (k << 23))`), then powf's polynomial with its fused multiply-adds.
   */
  private log2f(x: JaxArray): JaxArray {
    const P = POWF_PARTS;
    const normal = this.o(np.logicalAnd, this.o(np.greaterEqual, x, this.lit('float32', 2 ** -126)), this.o(np.less, x, this.lit('float32', Infinity)));
    const xs = this.where(normal, x, 1, 'float32');
    const ix = this.keep(lax.bitcastConvertType(xs.ref, np.int32));
    const tmp = this.f64(np.subtract, this.arr('float64', ix), this.lit('float64', P.OFF));
    const k = this.o(np.floor, this.f64(np.multiply, tmp, this.lit('float64', 2 ** -23)));
    const top19 = this.o(np.floor, this.f64(np.multiply, tmp, this.lit('float64', 2 ** -19)));
    const i = this.f64(np.subtract, top19, this.f64(np.multiply, k, this.lit('float64', 16)));
    // z = x * 2^-k with 2^-k a product of two table powers of two (k lies in [-126, 128]).
    const negK = this.o(np.negative, k);
    const kHi = this.o(np.floor, this.f64(np.multiply, negK, this.lit('float64', 0.5)));
    const kLo = this.f64(np.subtract, negK, kHi);
    const table = (t: JaxArray, index: JaxArray): JaxArray => this.o(np.take, t, this.keep(index.ref.astype(np.int32)));
    const offset = (v: JaxArray): JaxArray => this.f64(np.add, v, this.lit('float64', 80));
    const z = this.f64(np.multiply, this.f64(np.multiply, this.arr('float64', xs), table(this.anchors.powersOfTwo, offset(kHi))), table(this.anchors.powersOfTwo, offset(kLo)));
    const invc = table(this.anchors.log2Invc, i), logc = table(this.anchors.log2Logc, i);
    const [A0, A1, A2, A3, A4] = P.A;
    const r = this.fma(z, invc, -1);
    const y0 = this.f64(np.add, logc, k);
    const r2 = this.f64(np.multiply, r, r);
    const r4 = this.f64(np.multiply, r2, r2);
    const yy = this.fma(A0, r, A1);
    const p = this.fma(A2, r, A3);
    let q = this.fma(A4, r, y0);
    q = this.fma(p, r2, q);
    return this.fma(yy, r4, q);
  }

  /** powf's exp2 of `ylogx` (float64) with its overflow and underflow results, as float32. */
  private exp2f(ylogx: JaxArray): Value {
    const P = POWF_PARTS;
    // exp2: kd = round(ylogx * 32) / 32 by adding and removing the shift, r = ylogx - kd.
    const kd = this.f64(np.subtract, this.f64(np.add, ylogx, this.lit('float64', P.SHIFT)), this.lit('float64', P.SHIFT));
    const r = this.f64(np.subtract, ylogx, kd);
    // Clamped so that the table reads stay in range where a where below discards the value anyway.
    const k = this.o(np.clip, this.f64(np.multiply, kd, this.lit('float64', 32)), -160 * 32, 130 * 32);
    const i = this.f64(np.subtract, k, this.f64(np.multiply, this.lit('float64', 32), this.o(np.floor, this.f64(np.multiply, k, this.lit('float64', 1 / 32)))));
    const e = this.f64(np.multiply, this.f64(np.subtract, k, i), this.lit('float64', 1 / 32));
    const eHi = this.o(np.floor, this.f64(np.multiply, e, this.lit('float64', 0.5)));
    const eLo = this.f64(np.subtract, e, eHi);
    const table = (t: JaxArray, index: JaxArray): JaxArray => this.o(np.take, t, this.keep(index.ref.astype(np.int32)));
    const offset = (v: JaxArray): JaxArray => this.f64(np.add, v, this.lit('float64', 80));
    const s = this.f64(np.multiply, this.f64(np.multiply, table(this.anchors.exp2Table, i), table(this.anchors.powersOfTwo, offset(eHi))), table(this.anchors.powersOfTwo, offset(eLo)));
    const z = this.fma(P.C0, r, P.C1);
    const r2 = this.f64(np.multiply, r, r);
    let p = this.fma(P.C2, r, 1);
    p = this.fma(z, r2, p);
    let out = this.f64(np.multiply, p, s);
    out = this.where(this.o(np.greater, ylogx, this.lit('float64', P.nearOverflow)), 3.4028234663852886e38, out);
    out = this.where(this.o(np.greater, ylogx, this.lit('float64', P.overflow)), Infinity, out);
    out = this.where(this.o(np.less, ylogx, this.lit('float64', -149)), 2 ** -149, out);
    out = this.where(this.o(np.lessEqual, ylogx, this.lit('float64', -150)), 0, out);
    return this.flush('float32', this.keep(out.ref.astype(np.float32)));
  }
}

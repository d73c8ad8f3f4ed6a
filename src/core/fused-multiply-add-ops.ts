/**
 * The elementwise operations an exact fused multiply-add is built from, over values `T` of one
 * floating dtype and masks `M`: what an adapter supplies (tfjs tensors, jax-js arrays) so that the
 * algorithm below is written once. Every operation rounds as IEEE's does in that dtype (one correct
 * rounding of `+`, `-`, `*`). Operands are borrowed: an instance that counts references (jax-js)
 * keeps what it makes and frees it when the caller is done.
 */
export interface FmaOps<T, M> {
  /** The number `v` (a value of the dtype) as an operand broadcast against the others. */
  constant(v: number): T;
  add(x: T, y: T): T;
  sub(x: T, y: T): T;
  mul(x: T, y: T): T;
  abs(x: T): T;
  less(x: T, y: T): M;
  lessEqual(x: T, y: T): M;
  greater(x: T, y: T): M;
  greaterEqual(x: T, y: T): M;
  equal(x: T, y: T): M;
  notEqual(x: T, y: T): M;
  and(a: M, b: M): M;
  or(a: M, b: M): M;
  not(a: M): M;
  isFinite(x: T): M;
  isInf(x: T): M;
  where(c: M, x: T, y: T): T;
}

/** Veltkamp's splitting factor `2^ceil(p/2) + 1` of a `p`-bit significand: float32's 2^12 + 1, float64's 2^27 + 1. */
const SPLIT = { float32: 4097, float64: 134217729 } as const;

/** Error-free sum: `[s, t]` with `s = fl(x + y)` and `s + t = x + y` exactly (Knuth's TwoSum). */
function twoSum<T, M>(o: FmaOps<T, M>, x: T, y: T): [T, T] {
  const s = o.add(x, y);
  const yy = o.sub(s, x);
  return [s, o.add(o.sub(x, o.sub(s, yy)), o.sub(y, yy))];
}

/** Veltkamp's split into two halves of at most `ceil(p/2)` bits: `[hi, lo]`, `hi + lo = x` (`x * factor` must not overflow). */
function split<T, M>(o: FmaOps<T, M>, x: T, factor: number): [T, T] {
  const t = o.mul(x, o.constant(factor));
  const hi = o.sub(t, o.sub(t, x));
  return [hi, o.sub(x, hi)];
}

/**
 * `a * b + c` for operands in range, exactly, as three values `th + w + r`: Dekker's product
 * `a * b = p + e` (with Veltkamp's split), then TwoSum `c + p = th + tl` and `tl + e = w + r`.
 * `|r| <= ulp(w) / 2`, and `th + w` lies on a grid of `ulp(w)` (where `ulp(w)` exceeds `ulp(th)`, `c + p`
 * cancelled exactly, so `tl = 0` and `r = 0`).
 */
function exactParts<T, M>(o: FmaOps<T, M>, a: T, b: T, c: T, factor: number): [T, T, T] {
  const p = o.mul(a, b);
  const [ah, al] = split(o, a, factor), [bh, bl] = split(o, b, factor);
  const e = o.add(o.add(o.add(o.sub(o.mul(ah, bh), p), o.mul(ah, bl)), o.mul(al, bh)), o.mul(al, bl));
  const [th, tl] = twoSum(o, c, p);
  const [w, r] = twoSum(o, tl, e);
  return [th, w, r];
}

/**
 * `RN(hi + mid + rest)` where `hi + mid` is on a grid of `ulp(mid)` and `|rest| <= ulp(mid) / 2` (only
 * its sign is read): `R = RN(hi + mid)` is the correctly rounded result unless `hi + mid` lies exactly on
 * a rounding boundary (a midpoint between two neighbours) and `rest` pushes the exact value off it: the
 * boundaries lie on that grid too, so a `hi + mid` that is not one is at least `ulp(mid)` away, farther
 * than `|rest|`. On a boundary the error `z` of `R` (TwoSum) is half the gap to the other neighbour
 * `N = R + 2z` (exact), which is how it is detected: `fl(N) - R == 2z`; the result is then `N` when
 * `rest` has the sign of `z`, `R` (the tie to even) otherwise.
 */
function roundThree<T, M>(o: FmaOps<T, M>, hi: T, mid: T, rest: T): T {
  const [R, z] = twoSum(o, hi, mid);
  const z2 = o.add(z, z);
  const N = o.add(R, z2);
  const zero = o.constant(0);
  const onBoundary = o.and(o.notEqual(z, zero), o.equal(o.sub(N, R), z2));
  const sameSign = o.or(o.and(o.greater(rest, zero), o.greater(z, zero)), o.and(o.less(rest, zero), o.less(z, zero)));
  return o.where(o.and(onBoundary, sameSign), N, R);
}

/**
 * `a * b + c` of float32 values rounded once to float32 (core/fused-multiply-add.ts's `fma32`, XLA's
 * contraction inside `lax.cond`), from float32 operations only: for backends without a fused
 * multiply-add op and without float64 (tfjs's backends, jax-js's webgl and webgpu devices).
 * Bit-identical to `fma32` wherever every op rounds correctly to float32 (measured on tfjs's cpu
 * backend and jax-js's wasm device), with the exceptions named below.
 *
 * The exact value is split into three floats (`exactParts`) and rounded with the midpoint correction
 * of `roundThree`. Where a step would leave float32's range the operands are rescaled by 2^±64 first
 * (exactly): a tiny product (|p| < 2^-100, whose error would underflow) with a small nonzero `c`
 * (|c| < 2^-60) scales the smaller factor and `c` up; a factor beyond 2^114 (whose split overflows) or
 * a product beyond 2^100 scales the larger factor and `c` down. A tiny product next to a `c` of 2^-60 or
 * more, or next to a zero `c`, needs no error term: the result is `c` (the product is below a quarter
 * ulp of `c`), or the product itself. Not exact here (documented, not met by optimizer values): a
 * rescaled-up result in float32's subnormal range is rounded twice (to 24 bits, then to the subnormal
 * grid), so it may be one subnormal ulp off at a tie; a rescaled-down `c` below 2^-62 is rounded (only
 * a tie of a product beyond 2^100 could see it). NaN and infinite operands follow IEEE's rules for
 * `a * b + c` (an infinite `c` with finite factors gives `c`). About 110 elementwise ops.
 */
export function fmaFloat32FromOps<T, M>(o: FmaOps<T, M>, a: T, b: T, c: T): T {
  const k = (v: number): T => o.constant(v);
  const absA = o.abs(a), absB = o.abs(b), absC = o.abs(c);
  const p = o.mul(a, b), absP = o.abs(p);
  const finite = o.and(o.and(o.isFinite(a), o.isFinite(b)), o.isFinite(c));
  const tiny = o.less(absP, k(2 ** -100));
  const huge = o.or(o.or(o.greater(absA, k(2 ** 114)), o.greater(absB, k(2 ** 114))), o.greater(absP, k(2 ** 100)));
  // A tiny product beside a zero or a large c: no error term needed (see above).
  const plain = o.and(tiny, o.or(o.equal(c, k(0)), o.greaterEqual(absC, k(2 ** -60))));
  const up = o.and(tiny, o.not(plain));
  const down = o.and(huge, o.not(tiny));
  const scaled = o.or(up, down);
  const factor = o.where(up, k(2 ** 64), o.where(down, k(2 ** -64), k(1)));
  const undo = o.where(up, k(2 ** -64), o.where(down, k(2 ** 64), k(1)));
  // Up: the smaller factor (it cannot overflow); down: the larger one.
  const aFirst = o.or(o.and(up, o.lessEqual(absA, absB)), o.and(o.not(up), o.greaterEqual(absA, absB)));
  const scaleA = o.and(scaled, aFirst), scaleB = o.and(scaled, o.not(aFirst));
  // Non-finite or plain elements run the core on harmless values (their result is replaced).
  const safe = o.and(finite, o.not(plain));
  const A = o.where(safe, o.where(scaleA, o.mul(a, factor), a), k(1));
  const B = o.where(safe, o.where(scaleB, o.mul(b, factor), b), k(1));
  const C = o.where(safe, o.mul(c, factor), k(0));
  const core = o.mul(fmaFloat32Core(o, A, B, C, up), undo);
  // A product still beyond float32 once scaled down (|a * b| > 2^191): the result is that infinity.
  const rangeOut = o.and(scaled, o.not(o.isFinite(core)));
  // Plain: a zero c beside a product that underflowed to a signed zero keeps the product's sign.
  const underflowed = o.and(o.and(o.equal(p, k(0)), o.equal(c, k(0))), o.and(o.notEqual(a, k(0)), o.notEqual(b, k(0))));
  const sum = o.add(p, c);
  const plainValue = o.where(underflowed, p, sum);
  // IEEE for specials: a * b + c, except that an infinite c beside finite factors stays c.
  const special = o.where(o.and(o.and(o.isFinite(a), o.isFinite(b)), o.isInf(c)), c, sum);
  return o.where(finite, o.where(plain, plainValue, o.where(rangeOut, sum, core)), special);
}

/**
 * The correctly rounded float32 `a * b + c` of operands in range; `subnormalGrid`: where the operands
 * were scaled up by 2^64 and the result is below 2^-62 (a subnormal once scaled back), it is rounded to
 * that grid (2^-85 here) directly: `K + (th + w + r)` with `K = ±2^-62` lies in a binade whose ulp is
 * 2^-85, and `K` is an even multiple of it, so rounding there and subtracting `K` (exact) is the
 * rounding to the grid, ties to even.
 */
function fmaFloat32Core<T, M>(o: FmaOps<T, M>, a: T, b: T, c: T, subnormalGrid: M): T {
  const [th, w, r] = exactParts(o, a, b, c, SPLIT.float32);
  const R = roundThree(o, th, w, r);
  const zero = o.constant(0);
  const K = o.where(o.less(R, zero), o.constant(-(2 ** -62)), o.constant(2 ** -62));
  const [q, z1] = twoSum(o, K, th);
  const [w2, r2] = twoSum(o, z1, w);
  const rounded = o.sub(roundThree(o, q, w2, o.add(r2, r)), K);
  // A result rounded to zero keeps the sign of the exact value (R's): x - x alone would be +0.
  const onGrid = o.where(o.equal(rounded, zero), o.mul(R, zero), rounded);
  return o.where(o.and(subnormalGrid, o.less(o.abs(R), o.constant(2 ** -62))), onGrid, R);
}

/**
 * `a * b + c` of float64 values rounded once (core/fused-multiply-add.ts's `fma64`, the pure path's
 * float64 contraction), from float64 operations only (jax-js's wasm and cpu devices):
 *
 * - the plain `a * b + c` (two roundings) for a NaN or infinite product or `c`, a zero product or `c`,
 *   and a product beyond 2^995 or below 2^-960 in magnitude: what `fma64` returned there until it
 *   learned to round those exactly (BigInt); not reproduced here yet, so at those edges (never met by
 *   optimizer values) this may differ from the pure path;
 * - elsewhere the correctly rounded value, which `fma64` computes there (Dekker's product, TwoSum and
 *   a sum rounded to odd, rescaled where a step would overflow): here `exactParts` and `roundThree`,
 *   on operands rescaled exactly first so that no step overflows or loses a bit. A factor beyond 2^995
 *   (its split `x * (2^27 + 1)` would overflow) is the larger one: it is scaled by 2^-30 and the other (below 1,
 *   as |p| <= 2^995) by 2^30, the product unchanged. A `c`
 *   beyond 2^1000 (`c + p` could overflow) is scaled by 1/4 with the larger factor (at least 2^-480, as
 *   |p| >= 2^-960: no bit is lost), and the result scaled back by 4; the result is then at least
 *   2^999 in magnitude, so rounding commutes with the scaling, overflow to infinity included. With
 *   |p| >= 2^-960 the product's error term (its last bit at least 2^-1066) is a double, and a result in
 *   the subnormal range only comes from an exact cancellation `c + p` (Sterbenz): then `r = 0` and the
 *   rounding of `th + e` is the one rounding.
 */
export function fmaFloat64FromOps<T, M>(o: FmaOps<T, M>, a: T, b: T, c: T): T {
  const k = (v: number): T => o.constant(v);
  const p = o.mul(a, b);
  const absP = o.abs(p), absC = o.abs(c);
  const plain = o.or(
    o.or(o.not(o.isFinite(p)), o.not(o.isFinite(c))),
    o.or(o.or(o.equal(p, k(0)), o.equal(c, k(0))), o.or(o.greater(absP, k(2 ** 995)), o.less(absP, k(2 ** -960)))),
  );
  const aLarger = o.greaterEqual(o.abs(a), o.abs(b));
  let x = o.where(aLarger, a, b), y = o.where(aLarger, b, a);
  const bigFactor = o.greater(o.abs(x), k(2 ** 995));
  x = o.where(bigFactor, o.mul(x, k(2 ** -30)), x);
  y = o.where(bigFactor, o.mul(y, k(2 ** 30)), y);
  const bigC = o.greater(absC, k(2 ** 1000));
  x = o.where(bigC, o.mul(x, k(0.25)), x);
  const C = o.where(bigC, o.mul(c, k(0.25)), c);
  // Plain elements run the core on harmless values (their result is replaced).
  const one = k(1);
  const [th, w, r] = exactParts(o, o.where(plain, one, x), o.where(plain, one, y), o.where(plain, one, C), SPLIT.float64);
  const R = roundThree(o, th, w, r);
  return o.where(plain, o.add(p, c), o.where(bigC, o.mul(R, k(4)), R));
}

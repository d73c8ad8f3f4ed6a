import * as tf from '@tensorflow/tfjs-core';

/**
 * `a * b + c` rounded once to float32, from float32 tfjs ops only: the kernels' `fma` nodes (XLA's
 * contraction inside `lax.cond`, transforms/traced.ts) on backends that have no fused multiply-add
 * op, tfjs having none. Bit-identical to core/fused-multiply-add.ts's `fma32` wherever every op
 * rounds correctly to float32 (tfjs's cpu backend: each op computes in double and stores into a
 * Float32Array, which for + - * of float32 operands is one correct rounding), with the exceptions
 * named below.
 *
 * The exact value is split into three floats whose sum it is, each step error-free:
 * - Dekker's product with Veltkamp's split (factor 2^12 + 1): `a * b = p + e`;
 * - TwoSum: `c + p = th + tl`, then `tl + e = w + r`;
 * so `a * b + c = th + w + r`, with `|r| <= ulp(w) / 2`. Then `R = RN(th + w)` and its error `z`
 * (TwoSum again). `R` is the correctly rounded result unless `th + w` lies exactly on a rounding
 * boundary (a midpoint between two floats) and `r`, the part left out, pushes the exact value off
 * it: `th` and `w` sit on a grid of `ulp(w)` (when `ulp(w)` exceeds `ulp(th)`, `c + p` cancelled
 * exactly, so `tl = 0` and `r = 0`), the boundaries too, so a `th + w` that is not on one is at
 * least `ulp(w)` away, farther than `|r|`. On a boundary, `z` is half the gap to the other neighbour
 * `N = R + 2z` (exact), which is how it is detected: `fl(N) - R == 2z`; the result is then `N` when
 * `r` has the sign of `z`, `R` (the tie to even) otherwise.
 *
 * Where a step would leave float32's range the operands are rescaled by 2^±64 first (exactly): a
 * tiny product (|p| < 2^-100, whose error would underflow) with a small nonzero `c` (|c| < 2^-60)
 * scales the smaller factor and `c` up; a factor beyond 2^114 (whose split overflows) or a product
 * beyond 2^100 scales the larger factor and `c` down. A tiny product next to a `c` of 2^-60 or more,
 * or next to a zero `c`, needs no error term: the result is `c` (the product is below a quarter ulp
 * of `c`), or the product itself. Not exact here (documented, not met by optimizer values): a
 * rescaled-up result in float32's subnormal range is rounded twice (to 24 bits, then to the
 * subnormal grid), so it may be one subnormal ulp off at a tie; a rescaled-down `c` below 2^-62 is
 * rounded (only a tie of a product beyond 2^100 could see it). NaN and infinite operands follow
 * IEEE's rules for `a * b + c` (an infinite `c` with finite factors gives `c`).
 *
 * About 40 ops per call, all elementwise: the price of exactness on backends without an fma.
 */
export function exactFma(a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const shape = tf.backend_util.assertAndGetBroadcastShape(tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape), c.shape);
    const full = (x: tf.Tensor): tf.Tensor => (sameShape(x.shape, shape) ? x : tf.broadcastTo(x, shape));
    a = full(a); b = full(b); c = full(c);
    const k = (v: number): tf.Tensor => tf.scalar(v, 'float32');
    const absA = tf.abs(a), absB = tf.abs(b), absC = tf.abs(c);
    const p = tf.mul(a, b), absP = tf.abs(p);
    const finite = tf.logicalAnd(tf.logicalAnd(tf.isFinite(a), tf.isFinite(b)), tf.isFinite(c));
    const tiny = tf.less(absP, k(2 ** -100));
    const huge = tf.logicalOr(tf.logicalOr(tf.greater(absA, k(2 ** 114)), tf.greater(absB, k(2 ** 114))), tf.greater(absP, k(2 ** 100)));
    // A tiny product beside a zero or a large c: no error term needed (see above).
    const plain = tf.logicalAnd(tiny, tf.logicalOr(tf.equal(c, k(0)), tf.greaterEqual(absC, k(2 ** -60))));
    const up = tf.logicalAnd(tiny, tf.logicalNot(plain));
    const down = tf.logicalAnd(huge, tf.logicalNot(tiny));
    const scaled = tf.logicalOr(up, down);
    const factor = tf.where(up, k(2 ** 64), tf.where(down, k(2 ** -64), k(1)));
    const undo = tf.where(up, k(2 ** -64), tf.where(down, k(2 ** 64), k(1)));
    // Up: the smaller factor (it cannot overflow); down: the larger one.
    const aFirst = tf.where(up, tf.lessEqual(absA, absB), tf.greaterEqual(absA, absB));
    const scaleA = tf.logicalAnd(scaled, aFirst), scaleB = tf.logicalAnd(scaled, tf.logicalNot(aFirst));
    // Non-finite or plain elements run the core on harmless values (their result is replaced).
    const safe = tf.logicalAnd(finite, tf.logicalNot(plain));
    const A = tf.where(safe, tf.where(scaleA, tf.mul(a, factor), a), k(1));
    const B = tf.where(safe, tf.where(scaleB, tf.mul(b, factor), b), k(1));
    const C = tf.where(safe, tf.mul(c, factor), k(0));
    const core = tf.mul(exactFmaCore(A, B, C, up), undo);
    // A product still beyond float32 once scaled down (|a * b| > 2^191): the result is that infinity.
    const rangeOut = tf.logicalAnd(scaled, tf.logicalNot(tf.isFinite(core)));
    // Plain: a zero c beside a product that underflowed to a signed zero keeps the product's sign.
    const underflowed = tf.logicalAnd(tf.logicalAnd(tf.equal(p, k(0)), tf.equal(c, k(0))), tf.logicalAnd(tf.notEqual(a, k(0)), tf.notEqual(b, k(0))));
    const plainValue = tf.where(underflowed, p, tf.add(p, c));
    // IEEE for specials: a * b + c, except that an infinite c beside finite factors stays c.
    const special = tf.where(tf.logicalAnd(tf.logicalAnd(tf.isFinite(a), tf.isFinite(b)), tf.isInf(c)), c, tf.add(p, c));
    return tf.where(finite, tf.where(plain, plainValue, tf.where(rangeOut, tf.add(p, c), core)), special);
  });
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Error-free sum: `[s, t]` with `s = fl(x + y)` and `s + t = x + y` exactly (Knuth's TwoSum). */
function twoSum(x: tf.Tensor, y: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const s = tf.add(x, y);
  const yy = tf.sub(s, x);
  return [s, tf.add(tf.sub(x, tf.sub(s, yy)), tf.sub(y, yy))];
}

/** Veltkamp's split of a float32 into two halves of 12 bits: `[hi, lo]`, `hi + lo = x`. */
function split(x: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const t = tf.mul(x, tf.scalar(4097, 'float32'));
  const hi = tf.sub(t, tf.sub(t, x));
  return [hi, tf.sub(x, hi)];
}

/** `a * b + c` for operands in range, exactly, as three floats `th + w + r` (see {@link exactFma}). */
function exactParts(a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const p = tf.mul(a, b);
  const [ah, al] = split(a), [bh, bl] = split(b);
  const e = tf.add(tf.add(tf.add(tf.sub(tf.mul(ah, bh), p), tf.mul(ah, bl)), tf.mul(al, bh)), tf.mul(al, bl));
  const [th, tl] = twoSum(c, p);
  const [w, r] = twoSum(tl, e);
  return [th, w, r];
}

/**
 * `RN(hi + mid + rest)` where `hi + mid` is on a grid of `ulp(mid)` and `|rest| <= ulp(mid) / 2`
 * (only its sign is read): `RN(hi + mid)`, moved to the other neighbour when `hi + mid` is exactly a
 * rounding boundary and `rest` points away from the rounded value (see {@link exactFma}).
 */
function roundThree(hi: tf.Tensor, mid: tf.Tensor, rest: tf.Tensor): tf.Tensor {
  const [R, z] = twoSum(hi, mid);
  const z2 = tf.add(z, z);
  const N = tf.add(R, z2);
  const zero = tf.scalar(0, 'float32');
  const onBoundary = tf.logicalAnd(tf.notEqual(z, zero), tf.equal(tf.sub(N, R), z2));
  const sameSign = tf.logicalOr(tf.logicalAnd(tf.greater(rest, zero), tf.greater(z, zero)), tf.logicalAnd(tf.less(rest, zero), tf.less(z, zero)));
  return tf.where(tf.logicalAnd(onBoundary, sameSign), N, R);
}

/**
 * The correctly rounded `a * b + c` of operands in range; `subnormalGrid`: where the operands were
 * scaled up by 2^64 and the result is below 2^-62 (a subnormal once scaled back), it is rounded to
 * that grid (2^-85 here) directly: `K + (th + w + r)` with `K = ±2^-62` lies in a binade whose ulp
 * is 2^-85, and `K` is an even multiple of it, so rounding there and subtracting `K` (exact) is
 * the rounding to the grid, ties to even.
 */
function exactFmaCore(a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, subnormalGrid: tf.Tensor): tf.Tensor {
  const [th, w, r] = exactParts(a, b, c);
  const R = roundThree(th, w, r);
  const K = tf.where(tf.less(R, tf.scalar(0, 'float32')), tf.scalar(-(2 ** -62), 'float32'), tf.scalar(2 ** -62, 'float32'));
  const [q, z1] = twoSum(K, th);
  const [w2, r2] = twoSum(z1, w);
  const rounded = tf.sub(roundThree(q, w2, tf.add(r2, r)), K);
  // A result rounded to zero keeps the sign of the exact value (R's): x - x alone would be +0.
  const onGrid = tf.where(tf.equal(rounded, tf.scalar(0, 'float32')), tf.mul(R, tf.scalar(0, 'float32')), rounded);
  return tf.where(tf.logicalAnd(subnormalGrid, tf.less(tf.abs(R), tf.scalar(2 ** -62, 'float32'))), onGrid, R);
}

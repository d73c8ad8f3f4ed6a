import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fma32, fma64, fmaAddRoundToOdd } from '../../src/core/fused-multiply-add.js';

/** The exact value of a finite double as m * 2^e with integer m. */
function exact(x: number): [bigint, bigint] {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  const bits = v.getBigUint64(0);
  const sign = bits >> 63n ? -1n : 1n;
  const ex = Number((bits >> 52n) & 0x7ffn);
  let m = bits & ((1n << 52n) - 1n);
  if (ex !== 0) m |= 1n << 52n;
  return [sign * m, BigInt(ex === 0 ? -1074 : ex - 1075)];
}

/** a * b + c rounded to nearest-even at `bits` significant bits (normal results only). */
function reference(a: number, b: number, c: number, bits: number): number {
  const [ma, ea] = exact(a), [mb, eb] = exact(b), [mc, ec] = exact(c);
  const ep = ea + eb, e0 = ep < ec ? ep : ec;
  const m = ma * mb * (1n << (ep - e0)) + mc * (1n << (ec - e0));
  if (m === 0n) return a * b + c;
  const neg = m < 0n, abs = neg ? -m : m;
  const shift = abs.toString(2).length - bits;
  let q = abs, e = e0;
  if (shift > 0) {
    const s = 1n << BigInt(shift), rem = abs % s, half = s / 2n;
    q = abs / s;
    if (rem > half || (rem === half && (q & 1n) === 1n)) q += 1n;
    e += BigInt(shift);
  }
  const value = Number(q) * 2 ** Number(e);
  return neg ? -value : value;
}

const moderate = fc.double({ min: -1e30, max: 1e30, noNaN: true }).filter((x) => x === 0 || Math.abs(x) > 1e-30);

test('fma64 is correctly rounded (random and cancelling operands)', () => {
  fc.assert(fc.property(moderate, moderate, moderate, fc.boolean(), (a, b, c0, cancel) => {
    const c = cancel ? -(a * b) * (1 + 2 ** -40) : c0;
    assert.ok(Object.is(fma64(a, b, c), reference(a, b, c, 53)));
  }), { numRuns: 3000 });
});

test('fma32 is correctly rounded to float32', () => {
  const f = moderate.map(Math.fround).filter((x) => x === 0 || Math.abs(x) > 1e-15 && Math.abs(x) < 1e15);
  fc.assert(fc.property(f, f, f, fc.boolean(), (a, b, c0, cancel) => {
    const c = cancel ? Math.fround(-(a * b) * (1 + 2 ** -20)) : c0;
    assert.ok(Object.is(fma32(a, b, c), Math.fround(reference(a, b, c, 24))));
  }), { numRuns: 3000 });
});

test('specials behave like a * b + c', () => {
  assert.ok(Number.isNaN(fma64(Infinity, 0, 1)));
  assert.equal(fma64(Infinity, 2, 1), Infinity);
  assert.ok(Object.is(fma64(-0, 1, 0), 0));
  assert.equal(fma32(3, 4, 5), 17);
  // the single rounding shows: (1 + 2^-30)^2 - 1 keeps the 2^-60 term
  assert.equal(fma64(1 + 2 ** -30, 1 + 2 ** -30, -1), 2 ** -29 + 2 ** -60);
});

test('round to odd steps one ulp towards the exact sum, across a word boundary too', () => {
  const view = new DataView(new ArrayBuffer(8));
  assert.equal(fmaAddRoundToOdd(1, 2 ** -60, view), 1 + 2 ** -52); // up from an even value
  assert.equal(fmaAddRoundToOdd(1, -(2 ** -60), view), 1 - 2 ** -53); // down, borrowing from the high word
  assert.equal(fmaAddRoundToOdd(-1, 2 ** -60, view), -1 + 2 ** -53);
  assert.equal(fmaAddRoundToOdd(1 + 2 ** -52, 2 ** -60, view), 1 + 2 ** -52); // already odd
  assert.equal(fmaAddRoundToOdd(1, 2 ** -52, view), 1 + 2 ** -52); // exact
  assert.equal(fmaAddRoundToOdd(Infinity, 1, view), Infinity);
  assert.ok(Number.isNaN(fmaAddRoundToOdd(Infinity, -Infinity, view)));
});

/**
 * a * b + c (float32 operands) rounded to float32 by integer arithmetic, subnormals and overflow
 * included: an oracle independent of the emulation under test.
 */
function exactFloat32Fma(a: number, b: number, c: number): number {
  if (![a, b, c].every(Number.isFinite)) return Math.fround(a * b + c);
  const [ma, ea] = exact(a), [mb, eb] = exact(b), [mc, ec] = exact(c);
  const ep = ea + eb, e0 = ep < ec ? ep : ec;
  const m = ma * mb * (1n << (ep - e0)) + mc * (1n << (ec - e0));
  if (m === 0n) return a * b + c; // the sign of an exact zero sum, as IEEE gives it
  const neg = m < 0n, abs = neg ? -m : m;
  // The float32 quantum at this magnitude: 2^(exponent - 23), never below 2^-149 (subnormals).
  const exponent = BigInt(abs.toString(2).length - 1) + e0;
  const quantum = exponent - 23n > -149n ? exponent - 23n : -149n;
  let q: bigint;
  if (quantum <= e0) q = abs << (e0 - quantum);
  else {
    const shift = quantum - e0, s = 1n << shift, rem = abs % s, half = s / 2n;
    q = abs / s;
    if (rem > half || (rem === half && (q & 1n) === 1n)) q += 1n;
  }
  const rounded = Number(q) * 2 ** Number(quantum); // exact: q has at most 25 bits
  const value = rounded >= 2 ** 128 ? Infinity : rounded;
  return neg ? -value : value;
}

/** Float32 operands whose product, added to c, lands exactly on (or next to) a float32 rounding boundary in double. */
function nearBoundary(c: number, side: number, u: number, scaleBits: number): [number, number, number] {
  // Half the float32 gap above |c| (its quantum over 2), with c's sign; the product is
  // h * (1 - u^2 2^-46): below h by far less than a double ulp of c + h, so that a * b + c rounds
  // (in double) onto the boundary c + h while the exact value lies just beside it.
  const ac = Math.abs(c);
  const e = ac === 0 ? -149 : Math.max(Math.floor(Math.log2(ac)) - 23, -149);
  const h = Math.sign(side) * 2 ** (e - 1) * (c < 0 ? -1 : 1);
  const a = Math.fround(2 ** scaleBits * (1 + u * 2 ** -23));
  const b = Math.fround((h / 2 ** scaleBits) * (1 - u * 2 ** -23));
  return [a, b, c];
}

test('fma32 is correctly rounded next to float32 rounding boundaries (double rounding), subnormals and overflow included', () => {
  const view = new DataView(new ArrayBuffer(4));
  const float32 = (bits: number): number => { view.setUint32(0, bits >>> 0); return view.getFloat32(0); };
  let doubleRoundingWrong = 0, cases = 0;
  const check = (a: number, b: number, c: number): void => {
    const expected = exactFloat32Fma(a, b, c);
    cases++;
    if (!Object.is(Math.fround(a * b + c), expected)) doubleRoundingWrong++;
    assert.ok(Object.is(fma32(a, b, c), expected), `fma32(${a}, ${b}, ${c}) = ${fma32(a, b, c)}, exact ${expected}`);
  };
  // Hand-made: a * b = 2^-24 (1 - 2^-46) next to 1 + 2^-23 (odd): the double sum is the midpoint,
  // which rounds to even (up), while the exact value is below it.
  check(Math.fround(1 + 2 ** -23), Math.fround(2 ** -24 * (1 - 2 ** -23)), Math.fround(1 + 2 ** -23));
  assert.equal(fma32(Math.fround(1 + 2 ** -23), Math.fround(2 ** -24 * (1 - 2 ** -23)), Math.fround(1 + 2 ** -23)), Math.fround(1 + 2 ** -23));
  // The overflow threshold 2^128 - 2^103 (between the largest float and 2^128), approached from below.
  const max = float32(0x7f7fffff);
  check(Math.fround(1 + 2 ** -23), Math.fround(2 ** 103 * (1 - 2 ** -23)), max);
  assert.equal(fma32(Math.fround(1 + 2 ** -23), Math.fround(2 ** 103 * (1 - 2 ** -23)), max), max);
  check(-Math.fround(1 + 2 ** -23), Math.fround(2 ** 103 * (1 - 2 ** -23)), -max);
  // Subnormal results: the boundary 2^-150 between 0 and the smallest subnormal, and odd multiples of it.
  check(Math.fround(2 ** -75 * (1 + 2 ** -23)), Math.fround(2 ** -75 * (1 - 2 ** -23)), 0);
  check(Math.fround(2 ** -75 * (1 + 2 ** -23)), Math.fround(2 ** -75 * (1 - 2 ** -23)), float32(0x00000001));
  check(Math.fround(2 ** -75 * (1 + 2 ** -23)), Math.fround(2 ** -75 * (1 - 2 ** -23)), float32(0x007fffff));
  check(-Math.fround(2 ** -75 * (1 + 2 ** -23)), Math.fround(2 ** -75 * (1 - 2 ** -23)), -float32(0x00000003));
  // Random boundaries: every binade (subnormal to near overflow), both signs and sides, several products.
  const bits = fc.integer({ min: 0, max: 0x7f7fffff });
  fc.assert(fc.property(bits, fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 64 }), fc.integer({ min: -40, max: 40 }), (cb, negative, up, u, scale) => {
    const c = negative ? -float32(cb) : float32(cb);
    const [a, b] = nearBoundary(c, up ? 1 : -1, u, scale);
    if (![a, b].every(Number.isFinite)) return;
    check(a, b, c);
    check(b, a, c);
    check(-a, b, -c);
  }), { numRuns: 4000 });
  // Exact ties (the double sum is exact and a midpoint: rounds to even, as the exact value does),
  // zeros with their signs, and specials.
  for (const [a, b, c] of [[Math.fround(1 + 2 ** -23), 0.5, 0], [3, 2 ** -25, 1], [0, 5, -0], [-0, 5, -0], [-0, 5, 0], [2, 3, -6], [Infinity, 1, 2], [Infinity, 0, 1], [NaN, 1, 1], [max, 2, -max], [max, 2, max]] as const) {
    const got = fma32(a, b, c), expected = exactFloat32Fma(a, b, c);
    assert.ok(Object.is(got, expected) || (Number.isNaN(got) && Number.isNaN(expected)), `fma32(${a}, ${b}, ${c}) = ${got}, expected ${expected}`);
  }
  // The generator does reach the cases where rounding the double sum is wrong: most of them.
  assert.ok(doubleRoundingWrong > cases / 4, `only ${doubleRoundingWrong} of ${cases} cases were double-rounding cases`);
});

test('fma32 matches the integer oracle on random float32 operands, subnormal and huge ones included', () => {
  const view = new DataView(new ArrayBuffer(4));
  const f = fc.integer({ min: 0, max: 0xffffffff }).map((b) => { view.setUint32(0, b >>> 0); return view.getFloat32(0); }).filter(Number.isFinite);
  fc.assert(fc.property(f, f, f, (a, b, c) => {
    const got = fma32(a, b, c), expected = exactFloat32Fma(a, b, c);
    assert.ok(Object.is(got, expected) || (Number.isNaN(got) && Number.isNaN(expected)), `fma32(${a}, ${b}, ${c}) = ${got}, expected ${expected}`);
  }), { numRuns: 3000 });
});

test('fma64 where fl(c + a*b) overflows: infinity, or the largest double when the exact sum is just below the threshold', () => {
  const max = Number.MAX_VALUE;
  assert.equal(fma64(1e300, 0.25, max), Infinity);
  assert.equal(fma64(-1e300, 0.25, -max), -Infinity);
  assert.equal(fma64(0.25, 1e300, max), Infinity);
  // a * b = 2^970 - 2^890 exactly, which rounds to 2^970: fl(max + fl(a * b)) is the overflow threshold
  // 2^1024 - 2^970 (a tie, to infinity), but the exact sum lies 2^890 below it.
  const a = 2 ** 485 * (1 + 2 ** -40), b = 2 ** 970 / a;
  assert.equal(a * b, 2 ** 970);
  assert.equal(max + a * b, Infinity);
  assert.equal(fma64(a, b, max), max);
  assert.equal(fma64(-a, b, -max), -max);
  assert.equal(fma64(b, a, max), max);
  // Random operands around the threshold, against the exact oracle.
  const big = fc.double({ min: 2 ** 480, max: 2 ** 497, noNaN: true });
  const near = fc.double({ min: max * 0.99, max, noNaN: true });
  fc.assert(fc.property(big, big, near, fc.boolean(), fc.boolean(), (x, y, z, negP, swap) => {
    const [u, v] = swap ? [y * 2 ** -40, x] : [x, y * 2 ** -40]; // products 2^920..2^954: within Dekker's range
    const p = negP ? -u : u;
    for (const c of [z, -z]) assert.ok(Object.is(fma64(p, v, c), reference(p, v, c, 53)), `fma64(${p}, ${v}, ${c})`);
  }), { numRuns: 2000 });
  fc.assert(fc.property(big, big, near, (x, y, z) => {
    assert.ok(Object.is(fma64(x, y, z), reference(x, y, z, 53)), `fma64(${x}, ${y}, ${z})`);
  }), { numRuns: 2000 });
});

test('fma64 with a factor beyond 2^995 (whose Veltkamp split would overflow) and a product in range', () => {
  const huge = fc.double({ min: 2 ** 995, max: Number.MAX_VALUE, noNaN: true });
  const small = fc.double({ min: 2 ** -1000, max: 2 ** -2, noNaN: true });
  const any = fc.double({ noNaN: true, noDefaultInfinity: true });
  fc.assert(fc.property(huge, small, any, fc.boolean(), (x, y, z, swap) => {
    const [u, v] = swap ? [y, x] : [x, y];
    if (Math.abs(u * v) < 2 ** -900 || Math.abs(u * v) > 2 ** 995) return; // the emulated range
    assert.ok(Object.is(fma64(u, v, z), reference(u, v, z, 53)), `fma64(${u}, ${v}, ${z})`);
  }), { numRuns: 3000 });
  assert.equal(fma64(-1.647110399537303e-149, -1.7976931348623125e+308, 5e-324), reference(-1.647110399537303e-149, -1.7976931348623125e+308, 5e-324, 53));
});

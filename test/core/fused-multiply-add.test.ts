import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { fma32, fma64, fmaAddRoundToOdd } from '../../src/core/fused-multiply-add.js';
import { FLOAT32, FLOAT64, exact, exactFma, hostileFloat64, words } from './fma-oracle.js';

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

function exactFloat32Fma(a: number, b: number, c: number): number {
  return exactFma(a, b, c, FLOAT32);
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

test('fma64 equals the integer oracle on hostile operands: tiny products cancelled into the subnormals, products beyond the largest double, big factors, ties, signed zeros', () => {
  const kinds = hostileFloat64(words(20261202));
  let plainWrong = 0;
  for (const [kind, make] of Object.entries(kinds)) {
    for (let i = 0; i < 40000; i++) {
      const [a, b, c] = make();
      const got = fma64(a, b, c), expected = exactFma(a, b, c, FLOAT64);
      if (!Object.is(got, expected) && !(Number.isNaN(got) && Number.isNaN(expected))) assert.fail(`${kind}: fma64(${a}, ${b}, ${c}) = ${got}, exact ${expected}`);
      if (!Object.is(a * b + c, expected)) plainWrong++;
    }
  }
  // The generators reach cases where rounding twice is wrong, in every kind but the random one.
  assert.ok(plainWrong > 60000, `only ${plainWrong} cases where a * b + c is wrong`);
  // The case of the bug report: the product's error is below the subnormals, and c cancels it.
  const [a, b, c] = [(1 + 2 ** -30) * 2 ** -481, (1 - 2 ** -30) * 2 ** -480, 2 ** -908 * (1 + 2 ** -52)];
  assert.equal(fma64(a, b, c), c);
});

test('fma64 signed zeros, infinities and NaN as IEEE 754 defines fusedMultiplyAdd', () => {
  const tiny = 2 ** -600; // tiny * tiny = 2^-1200 rounds to zero
  const cases: [number, number, number, number][] = [
    [0, 5, -0, 0], [-0, 5, -0, -0], [0, -5, -0, -0], [-0, -5, 0, 0], [0, 5, 0, 0],
    [-tiny, tiny, 0, -0], [-tiny, tiny, -0, -0], [tiny, tiny, -0, 0], [tiny, tiny, 0, 0], // a nonzero exact sum that rounds to zero keeps its sign
    [-tiny, tiny, 2 ** -1074, 2 ** -1074], [-(2 ** -537), 2 ** -538, 2 ** -1074, 0], [-(2 ** -537) * (1 + 2 ** -52), 2 ** -538, 2 ** -1074, 0],
    [2 ** -537 * (1 + 2 ** -52), 2 ** -538, 0, 2 ** -1074], // 2^-1075 (1 + 2^-52) rounds up to the smallest subnormal
    [2, 3, -6, 0], [-2, 3, 6, 0], // an exact zero sum of nonzero terms is +0
    [2 ** 600, 2 ** 600, -Infinity, -Infinity], [2 ** 600, 2 ** 600, Infinity, Infinity], // the product overflows, the exact one does not
    [2 ** 512, 2 ** 512, -Number.MAX_VALUE, 2 ** 971], // a product of 2^1024 brought back by c
    [Infinity, 2, -Infinity, NaN], [Infinity, 0, 1, NaN], [NaN, 0, 1, NaN], [1, 2, NaN, NaN], [Infinity, -1, 5, -Infinity], [0, Infinity, Infinity, NaN],
  ];
  for (const [a, b, c, expected] of cases) {
    const got = fma64(a, b, c);
    assert.ok(Object.is(got, expected) || (Number.isNaN(got) && Number.isNaN(expected)), `fma64(${a}, ${b}, ${c}) = ${got}, expected ${expected}`);
    assert.ok(Object.is(exactFma(a, b, c, FLOAT64), expected) || Number.isNaN(expected), `oracle on ${a}, ${b}, ${c}`);
  }
});

test('fma64 equals glibc 2.36 fma() on its recorded vectors (scripts/fma64-glibc)', () => {
  const vectors = JSON.parse(readFileSync(new URL('./fma64-glibc.json', import.meta.url), 'utf8')) as [string, string, string, string][];
  assert.ok(vectors.length > 2000);
  const view = new DataView(new ArrayBuffer(8));
  const fromHex = (h: string): number => { view.setBigUint64(0, BigInt(`0x${h}`)); return view.getFloat64(0); };
  for (const words of vectors) {
    const [a, b, c, expected] = words.map(fromHex);
    const got = fma64(a, b, c);
    assert.ok(Object.is(got, expected) || (Number.isNaN(got) && Number.isNaN(expected)), `fma64(${a}, ${b}, ${c}) = ${got}, glibc ${expected} (${words.join(' ')})`);
  }
});

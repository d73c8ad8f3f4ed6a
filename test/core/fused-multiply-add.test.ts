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

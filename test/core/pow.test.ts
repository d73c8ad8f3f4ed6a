import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OptaxError, powInt, safeIncrement, INT32_MAX } from '../../src/index.js';

/** Exact x**n as a rational, rounded to the nearest double (reference for powInt). */
function exactPow(x: number, n: number): number {
  // x = m * 2^e with integer m; x^n = m^n * 2^(e*n). BigInt keeps m^n exact for small n.
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  const mant = (bits & ((1n << 52n) - 1n)) | (exp ? 1n << 52n : 0n);
  const e = (exp || 1) - 1075;
  let m = mant ** BigInt(n);
  let shift = e * n;
  // Round m * 2^shift to 53 significant bits (ties to even), then scale.
  const len = m.toString(2).length;
  if (len > 53) {
    const drop = BigInt(len - 53);
    const q = m >> drop, r = m - (q << drop), half = 1n << (drop - 1n);
    m = r > half || (r === half && (q & 1n) === 1n) ? q + 1n : q;
    shift += Number(drop);
  }
  return Number(m) * 2 ** shift;
}

// Math.pow is not correctly rounded everywhere (V8 11.x, Node 20: Math.pow(0.9, 4) is
// 0.6561000000000001; V8 13.x, Node 24, returns 0.6561): powInt must be, on every runtime.
test('powInt is correctly rounded', () => {
  assert.equal(powInt(0.9, 4), 0.6561);
  fc.assert(fc.property(fc.double({ min: 0.5, max: 1, noNaN: true }), fc.integer({ min: 0, max: 40 }), (x, n) => {
    assert.equal(powInt(x, n), exactPow(x, n));
  }), { numRuns: 2000 });
});

test('powInt handles signs, zero, underflow and overflow', () => {
  assert.equal(powInt(-2, 3), -8);
  assert.equal(powInt(-2, 2), 4);
  assert.equal(powInt(0, 0), 1);
  assert.equal(powInt(0.9, INT32_MAX), 0);
  assert.equal(powInt(1.5, 5000), Infinity);
  assert.equal(powInt(0.5, 1074), 5e-324);
  assert.throws(() => powInt(2, -1), OptaxError);
});

test('safeIncrement saturates at int32 max', () => {
  assert.equal(safeIncrement(INT32_MAX - 1), INT32_MAX);
  assert.equal(safeIncrement(INT32_MAX), INT32_MAX);
});

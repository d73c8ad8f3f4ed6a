import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Dtype } from '../../../src/core/dtype.js';
import { instantiateReductions } from '../../../src/engine/wasm/instantiate.js';
import { emitFusedReduction } from '../../../src/engine/wasm/reduction-module.js';
import { show } from './harness.js';

const NON_FINITE = [NaN, Infinity, -Infinity];
const FINITE_SPECIAL = [0, -0, 1e38, -3.4e38, 2 ** -149, -(2 ** -126), 1e-40, 1, -1];

function element(dtype: Dtype, nonFiniteWeight: number): fc.Arbitrary<number> {
  const finite = dtype === 'float32' ? fc.float({ noNaN: true, noDefaultInfinity: true }) : fc.double({ noNaN: true, noDefaultInfinity: true });
  return fc.oneof(
    { weight: 20, arbitrary: finite },
    { weight: 5, arbitrary: fc.constantFrom(...FINITE_SPECIAL.map(dtype === 'float32' ? Math.fround : (x: number) => x)) },
    { weight: nonFiniteWeight, arbitrary: fc.constantFrom(...NON_FINITE) },
  );
}

/**
 * Lays out `streams` in a fresh memory, each at a 16-aligned offset, with NaN and Inf around them
 * (which must not be read), and returns the pointers.
 */
function place(dtype: Dtype, streams: readonly number[][], shared = false): { memory: WebAssembly.Memory; pointers: number[] } {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared });
  const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
  const all = new Ctor(memory.buffer);
  all.fill(NaN);
  for (let i = 1; i < all.length; i += 3) all[i] = Infinity;
  let at = 64;
  const pointers = streams.map((s) => {
    const p = at;
    new Ctor(memory.buffer, p, s.length).set(s);
    at += Math.ceil((s.length * Ctor.BYTES_PER_ELEMENT) / 16) * 16 + 32;
    return p;
  });
  return { memory, pointers };
}

function reductions(dtype: Dtype, streams: number, memory: WebAssembly.Memory, shared = false) {
  return instantiateReductions(new WebAssembly.Module(emitFusedReduction({ dtype, streams, shared, maximumPages: 4 })), memory);
}

/** The documented order of sumOfSquares, in JS. */
function sumOfSquaresReference(dtype: Dtype, x: readonly number[]): number {
  const r = dtype === 'float32' ? Math.fround : (v: number) => v;
  const lanes = dtype === 'float32' ? 4 : 2;
  const whole = x.length - (x.length % lanes);
  const acc = new Array<number>(lanes).fill(0);
  for (let i = 0; i < whole; i++) acc[i % lanes] = r(acc[i % lanes] + r(x[i] * x[i]));
  let s = acc[0];
  for (let j = 1; j < lanes; j++) s = r(s + acc[j]);
  for (let i = whole; i < x.length; i++) s = r(s + r(x[i] * x[i]));
  return s;
}

for (const dtype of ['float32', 'float64'] as const) {
  test(`allFinite is 1 exactly when every element of every stream is finite (${dtype})`, () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 3 }).chain((k) => fc.integer({ min: 0, max: 70 }).chain((n) =>
        fc.array(fc.array(element(dtype, 1), { minLength: n, maxLength: n }), { minLength: k, maxLength: k }))),
      (streams) => {
        const { memory, pointers } = place(dtype, streams);
        const { allFinite } = reductions(dtype, streams.length, memory);
        const expected = streams.every((s) => s.every(Number.isFinite)) ? 1 : 0;
        assert.equal(allFinite(streams[0].length, ...pointers), expected);
      },
    ), { numRuns: 400, includeErrorInReport: true });
  });

  test(`allFinite finds a single NaN or Inf at any position (${dtype})`, () => {
    for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33]) {
      for (let at = 0; at < n; at++) {
        for (const bad of NON_FINITE) {
          const s = Array.from({ length: n }, (_, i) => (i === at ? bad : i - 3.5));
          const { memory, pointers } = place(dtype, [Array.from({ length: n }, () => 1), s]);
          assert.equal(reductions(dtype, 2, memory).allFinite(n, ...pointers), 0, `n=${n} at=${at} ${bad}`);
        }
      }
      const { memory, pointers } = place(dtype, [Array.from({ length: n }, (_, i) => -i)]);
      assert.equal(reductions(dtype, 1, memory).allFinite(n, ...pointers), 1);
    }
  });

  test(`sumOfSquares follows its documented order bit for bit (${dtype})`, () => {
    fc.assert(fc.property(fc.array(element(dtype, 1), { maxLength: 70 }), (x) => {
      const { memory, pointers } = place(dtype, [x]);
      const actual = reductions(dtype, 1, memory).sumOfSquares(x.length, pointers[0]);
      const expected = sumOfSquaresReference(dtype, x);
      assert.ok(Object.is(actual, expected) || (Number.isNaN(actual) && Number.isNaN(expected)), `${show(actual)} != ${show(expected)}`);
    }), { numRuns: 400, includeErrorInReport: true });
  });
}

test('reductions run on a shared memory, and check their options', () => {
  const { memory, pointers } = place('float32', [[3, 4, 0, 0, 12]], true);
  const r = reductions('float32', 1, memory, true);
  assert.equal(r.sumOfSquares(5, pointers[0]), 169);
  assert.equal(r.allFinite(5, pointers[0]), 1);
  assert.equal(r.allFinite(0, pointers[0]), 1);
  assert.equal(r.sumOfSquares(0, pointers[0]), 0);
  assert.throws(() => emitFusedReduction({ dtype: 'float32', streams: 0, shared: false, maximumPages: 1 }), /streams/);
  assert.throws(() => emitFusedReduction({ dtype: 'float64', streams: 1000, shared: false, maximumPages: 1 }), /streams/);
});

test('allFinite reads the exponent bits: the largest finite values pass, every NaN pattern and both infinities fail', () => {
  // Bit patterns (high word first for float64): the largest finite magnitudes, both signs; infinities;
  // NaNs with the sign bit set, with the smallest payload (float64: only in the low word) and the largest.
  const cases: { dtype: Dtype; words: number[]; finite: boolean }[] = [
    { dtype: 'float32', words: [0x7f7fffff], finite: true },
    { dtype: 'float32', words: [0xff7fffff], finite: true },
    { dtype: 'float32', words: [0x7f800000], finite: false },
    { dtype: 'float32', words: [0xff800000], finite: false },
    { dtype: 'float32', words: [0x7f800001], finite: false },
    { dtype: 'float32', words: [0xffffffff], finite: false },
    { dtype: 'float64', words: [0x7fefffff, 0xffffffff], finite: true },
    { dtype: 'float64', words: [0xffefffff, 0xffffffff], finite: true },
    { dtype: 'float64', words: [0x7ff00000, 0], finite: false },
    { dtype: 'float64', words: [0xfff00000, 0], finite: false },
    { dtype: 'float64', words: [0x7ff00000, 1], finite: false },
    { dtype: 'float64', words: [0xffffffff, 0xffffffff], finite: false },
  ];
  for (const { dtype, words, finite } of cases) {
    for (const n of [1, 3, 4, 8, 9, 16, 17]) {
      for (const at of [0, n - 1, n >> 1]) {
        const { memory, pointers } = place(dtype, [Array.from({ length: n }, (_, i) => i - 2.5)]);
        const bits = new DataView(memory.buffer, pointers[0] + at * (dtype === 'float32' ? 4 : 8));
        if (dtype === 'float32') bits.setUint32(0, words[0], true);
        else { bits.setUint32(4, words[0], true); bits.setUint32(0, words[1], true); }
        assert.equal(reductions(dtype, 1, memory).allFinite(n, ...pointers), finite ? 1 : 0, `${dtype} ${words.map((w) => w.toString(16))} n=${n} at=${at}`);
      }
    }
  }
});

/**
 * The WebAssembly block-wise sum of squares (src/engine/wasm/blocked-squares.ts) gives the bits of
 * the sequential `sumOfSquares` on any data: ties (short mantissas, where the rounding depends on the
 * running sum's last bit), binade crossings, subnormals, sums that overflow to infinity, NaN and
 * infinities.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SQUARES_BLOCK, blockedSquares, blockedSquaresName } from '../../../src/engine/wasm/blocked-squares.js';
import { assembleModule } from '../../../src/engine/wasm/module.js';
import { sumOfSquares } from '../../../src/transforms/clip-by-global-norm.js';
import { type Dt, hostileValue } from '../support.js';

const memory = new WebAssembly.Memory({ initial: 4, maximum: 4 });
const module = new WebAssembly.Module(assembleModule({ shared: false, initialPages: 4, maximumPages: 4 }, [blockedSquares('float32'), blockedSquares('float64')]));
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;

/** The wasm sum of `x` (copied into the memory at a 16-byte aligned offset). */
function blocked(x: Float32Array | Float64Array): number {
  const dtype = x instanceof Float32Array ? 'float32' : 'float64';
  const view = dtype === 'float32' ? new Float32Array(memory.buffer, 16, x.length) : new Float64Array(memory.buffer, 16, x.length);
  view.set(x);
  return (exports[blockedSquaresName(dtype)] as (n: number, p: number) => number)(x.length, 16);
}

/** Values whose squares have short mantissas: k * 2^j, so that many additions are exact or ties. */
const short = fc.tuple(fc.integer({ min: -64, max: 64 }), fc.integer({ min: -80, max: 40 })).map(([k, j]) => k * 2 ** j);

/** A value of some magnitude class (the blocks then cross binades, round, tie, underflow or overflow). */
function value(dtype: Dt): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.double({ min: -2, max: 2, noNaN: true }) },
    { weight: 4, arbitrary: short },
    { weight: 1, arbitrary: fc.double({ min: -1e-20, max: 1e-20, noNaN: true }) },
    { weight: 1, arbitrary: fc.constantFrom(4096, 2 ** 60, 1e19, 1.8e19, 1e154, 2 ** -75, 2 ** -540) },
    { weight: 1, arbitrary: hostileValue(dtype) },
  );
}

/** An array: runs (often several blocks long) of one value or of one magnitude class. */
function data(dtype: Dt): fc.Arbitrary<Float32Array | Float64Array> {
  const run = fc.tuple(fc.oneof(value(dtype).map((v) => fc.constant(v)), fc.constant(value(dtype))), fc.integer({ min: 1, max: 3 * SQUARES_BLOCK }))
    .chain(([arb, n]) => fc.array(arb, { minLength: n, maxLength: n }));
  return fc.array(run, { minLength: 1, maxLength: 4 }).map((runs) => {
    const flat = runs.flat();
    return dtype === 'float32' ? Float32Array.from(flat) : Float64Array.from(flat);
  });
}

function same(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

for (const dtype of ['float32', 'float64'] as const) {
  test(`the blocked sum equals sumOfSquares bit for bit (${dtype})`, () => {
    fc.assert(fc.property(data(dtype), (x) => {
      const want = sumOfSquares(x), got = blocked(x);
      assert.ok(same(got, want), `${got} vs ${want} (n ${x.length})`);
    }), { numRuns: 300 });
  });
}

test('smooth data of every scale takes the fast path in most blocks, and gives the sequential bits', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const scale of [1e-30, 1e-6, 0.37, 1, 3e3, 1e17, 1e150]) {
      const x = dtype === 'float32' ? new Float32Array(40 * SQUARES_BLOCK) : new Float64Array(40 * SQUARES_BLOCK);
      for (let i = 0; i < x.length; i++) x[i] = scale * (Math.sin(0.37 * i) / 2 + 0.01);
      assert.ok(same(blocked(x), sumOfSquares(x)), `${dtype} ${scale}`);
    }
  }
});

test('ties: 1 added to 2^24 (float32), resp. 2^53 (float64), rounds to even, block after block', () => {
  for (const [Arr, start, top] of [[Float32Array, [4096], 2 ** 24], [Float64Array, [2 ** 26, 2 ** 26], 2 ** 53]] as const) {
    // The sum reaches 2^24, resp. 2^53 (ulp 2): then every + 1 is a tie that rounds back to it.
    const x = new Arr(4 * SQUARES_BLOCK).fill(1);
    x.set(start);
    assert.equal(sumOfSquares(x), top);
    assert.equal(blocked(x), top);
    // + 2.25 rounds to + 2, an odd multiple of the ulp: the next + 1 is a tie that rounds up (to the
    // even multiple), then the sum stays: the rounding depends on the running sum's last bit.
    x[start.length] = 1.5;
    assert.equal(sumOfSquares(x), top + 4);
    assert.equal(blocked(x), top + 4);
    // Ties at the midpoint of a block whose sum is odd (in ulps) round up, in the middle of smooth data.
    const y = new Arr(6 * SQUARES_BLOCK);
    for (let i = 0; i < y.length; i++) y[i] = i % 97 === 50 ? 0.5 : Math.sin(0.37 * i) / 2 + 0.01;
    assert.ok(same(blocked(y), sumOfSquares(y)));
  }
});

test('overflow to infinity, subnormal squares and NaN, as the sequential sum gives them', () => {
  const cases = [
    new Float32Array(3 * SQUARES_BLOCK).fill(1.7e19), // overflows part-way
    new Float64Array(3 * SQUARES_BLOCK).fill(1.3e154),
    new Float32Array(3 * SQUARES_BLOCK).fill(2 ** -70), // subnormal squares, then normal sums
    new Float64Array(3 * SQUARES_BLOCK).fill(2 ** -530),
  ];
  assert.equal(blocked(cases[0]), Infinity);
  for (const x of cases) assert.ok(same(blocked(x), sumOfSquares(x)));
  const withNaN = new Float32Array(3 * SQUARES_BLOCK).fill(0.3);
  withNaN[700] = NaN;
  assert.ok(Number.isNaN(blocked(withNaN)));
  withNaN[700] = Infinity;
  assert.equal(blocked(withNaN), Infinity);
});

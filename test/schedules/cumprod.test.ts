// jnp.cumprod as XLA:CPU runs it (src/schedules/cumprod.ts): in order up to 16 elements, then blocked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cumulativeProduct } from '../../src/schedules/cumprod.js';
import * as S from '../../src/schedules/index.js';

const r = Math.fround;
const mul32 = (a: number, b: number) => r(a * b);

test('up to 16 elements: ((1 * x0) * x1) * ... in order', () => {
  const xs = [0.3, 1.7, 0.9, 1.1].map(r);
  assert.deepEqual(cumulativeProduct(xs, mul32), [xs[0], r(xs[0] * xs[1]), r(r(xs[0] * xs[1]) * xs[2]), r(r(r(xs[0] * xs[1]) * xs[2]) * xs[3])]);
});

test('17 or more: each block of 16 scanned alone, times the product of the blocks before it', () => {
  const xs = Array.from({ length: 20 }, (_, i) => r(1 + (i % 7) / 10 - 0.33));
  const out = cumulativeProduct(xs, mul32);
  let first = 1;
  for (let i = 0; i < 16; i++) assert.equal(out[i], (first = r(first * xs[i])), `element ${i}`);
  let second = 1;
  for (let i = 16; i < 20; i++) assert.equal(out[i], r((second = r(second * xs[i])) * first), `element ${i}`);
  // ... which is not the sequential product for some element (the rewrite changes bits).
  let seq = 1;
  const sequential = xs.map((x) => (seq = r(seq * x)));
  assert.notDeepEqual(out, sequential);
});

test('more than 256: the block totals are themselves scanned by blocks', () => {
  const xs = Array.from({ length: 300 }, (_, i) => r(1 + ((i * 37) % 11 - 5) / 1000));
  const out = cumulativeProduct(xs, mul32);
  const totals: number[] = [];
  for (let b = 0; b < 19; b++) totals.push(cumulativeProduct(xs.slice(b * 16, b * 16 + 16), mul32)[Math.min(15, xs.length - b * 16 - 1)]);
  const prefix = [1, ...cumulativeProduct(totals.slice(0, 18), mul32)];
  assert.equal(out[299], r(cumulativeProduct(xs.slice(288), mul32)[11] * prefix[18]));
});

test('piecewiseInterpolateSchedule with 20 boundaries takes its values from the blocked product', () => {
  const scales = Array.from({ length: 20 }, (_, i) => 1 + ((i * 3) % 5) / 10 - 0.2);
  const boundariesAndScales = Object.fromEntries(scales.map((s, i) => [String(10 * (i + 1)), s]));
  const s = S.piecewiseInterpolateSchedule({ interpolateType: 'linear', initValue: 0.7, boundariesAndScales });
  const values = cumulativeProduct([0.7, ...scales].map(r), mul32);
  for (let k = 0; k <= 20; k++) assert.equal(s(10 * k), values[k], `boundary ${k}`);
});

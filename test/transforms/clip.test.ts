import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clip } from '../../src/transforms/clip.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import { OptaxError } from '../../src/core/errors.js';

test('clips to [-maxDelta, maxDelta] with maxDelta rounded to the dtype; NaN stays NaN', () => {
  const tx = clip(0.3);
  const [u] = tx.update({ w: new Float32Array([-1, 0.1, 0.5, NaN, -0]) }, tx.init({ w: new Float32Array(5) }));
  const m = Math.fround(0.3);
  assert.deepEqual(Array.from(u.w).slice(0, 3), [-m, Math.fround(0.1), m]);
  assert.ok(Number.isNaN(u.w[3]));
  assert.ok(Object.is(u.w[4], -0));
});

test('is elementwise and stateless', () => {
  const tx = clip(1);
  assert.ok(tx.elementwise);
  assert.deepEqual(tx.init({ w: new Float64Array(1) }), {});
});

test('Infinity disables clipping; an array maxDelta broadcasts', () => {
  const open = clip(Infinity);
  const [a] = open.update({ w: new Float64Array([1e300]) }, open.init({}));
  assert.equal(a.w[0], 1e300);
  const perColumn = clip(new ShapedArray(new Float64Array([1, 2]), [2]));
  const g = { w: new ShapedArray(new Float64Array([5, 5, -5, -5]), [2, 2]) };
  const [b] = perColumn.update(g, perColumn.init({}));
  assert.deepEqual(Array.from((b.w as ShapedArray).data), [1, 2, -1, -2]);
});

test('rejects negative and NaN maxDelta', () => {
  assert.throws(() => clip(-1), (e: Error) => e instanceof OptaxError && /max_delta/.test(e.message));
  assert.throws(() => clip(NaN), /max_delta/);
});

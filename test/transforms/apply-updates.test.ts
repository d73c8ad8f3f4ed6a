// applyUpdates and None trees as optax's tests use them (update_test: test_apply_updates_mixed_precision,
// test_none_argument; _adding_test: test_none_argument; base_test: init(None)).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptaxError, ShapedArray, adamax, adamaxw, addDecayedWeights, applyUpdates, chain, clipByGlobalNorm, scaleByAdamax, withFlushedSubnormals } from '../../src/index.js';

const f32 = (...v: number[]) => new Float32Array(v);
const f64 = (...v: number[]) => new Float64Array(v);

test('mixed precision: the sum is formed in float64, then rounded to the params dtype', () => {
  const f = Math.fround;
  const p = f32(1, 0.1, -3, 1e30);
  const u = f64(2 ** -24 + 2 ** -50, 1e-9, 2 ** -25, 1e30);
  const r = applyUpdates({ w: p }, { w: u }).w;
  assert.ok(r instanceof Float32Array);
  for (let i = 0; i < p.length; i++) assert.equal(r[i], f(p[i] + u[i]));
  assert.equal(r[0], 1 + 2 ** -23); // f32(u) + p in float32 would be 1 (a tie to even)
  const q = applyUpdates(f64(1), f32(0.1));
  assert.ok(q instanceof Float64Array);
  assert.equal(q[0], 1 + f(0.1));
  // Shapes are kept; structure and shapes are still checked.
  const shaped = applyUpdates(new ShapedArray(f32(1, 2), [2, 1]), new ShapedArray(f64(1, 1), [2, 1]));
  assert.deepEqual([shaped.shape, Array.from(shaped.data)], [[2, 1], [2, 3]]);
  assert.ok(shaped.data instanceof Float32Array);
  assert.throws(() => applyUpdates({ w: f32(1, 2) }, { w: f64(1) }), (e: unknown) => e instanceof OptaxError && e.message === 'grads.w: shape mismatch: grads leaf has shape [1], params leaf has shape [2]');
  assert.throws(() => applyUpdates({ w: f32(1) }, { v: f64(1) }), OptaxError);
});

test('mixed precision under XLA\'s subnormal mode: a float32 subnormal result is flushed, keeping its sign', () => {
  const p = f32(0);
  const u = f64(-(2 ** -130));
  assert.equal(applyUpdates(p, u)[0], Math.fround(-(2 ** -130)));
  assert.ok(Object.is(withFlushedSubnormals(() => applyUpdates(p, u))[0], -0));
});

test('None trees: applyUpdates(null, anything) is null; null params stay null whatever the updates hold', () => {
  assert.equal(applyUpdates(null, null), null);
  assert.equal(applyUpdates(null, f32(1, 2, 3)), null);
  const r = applyUpdates({ a: null, b: f32(1) }, { a: f32(5), b: f32(1) });
  assert.deepEqual(r, { a: null, b: f32(2) });
  const nested = applyUpdates([null, { c: f32(1) }], [{ x: f32(1) }, { c: f32(0.5) }]);
  assert.deepEqual(nested, [null, { c: f32(1.5) }]);
  // Where the params have a leaf, the updates must too.
  assert.throws(() => applyUpdates({ a: f32(1) }, { a: null }), OptaxError);
});

test('None trees through transformations: init(null) and update(null, state, params?)', () => {
  for (const tx of [adamax(0.1), scaleByAdamax(), chain(clipByGlobalNorm(1), adamax(0.1)), adamaxw(0.1), addDecayedWeights(0.1)]) {
    const state = tx.init(null);
    const [u] = tx.update(null, state as never, null);
    assert.equal(u, null);
  }
  // optax's _adding_test: add_decayed_weights(0.1).update(None, state, params) is None.
  const weights = [f32(1, 1), { a: f32(1, 1), b: f32(1, 1) }];
  const adw = addDecayedWeights(0.1);
  const [u, st] = adw.update(null, adw.init(weights), weights);
  assert.equal(u, null);
  assert.deepEqual(st, {});
  // Still an error: no params at all.
  assert.throws(() => adw.update({ w: f32(1) }, adw.init(null), undefined), /needs params/);
});

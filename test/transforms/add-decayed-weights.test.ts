import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addDecayedWeights } from '../../src/transforms/add-decayed-weights.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import { OptaxError } from '../../src/core/errors.js';

const f32 = (...v: number[]) => new Float32Array(v);

test('u = g + wd * p, wd rounded to the leaf dtype, in optax order', () => {
  const tx = addDecayedWeights(0.1);
  const params = { w: f32(3, -7) };
  const [u] = tx.update({ w: f32(1, 2) }, tx.init(params), params);
  const wd = Math.fround(0.1);
  assert.deepEqual(Array.from(u.w), [Math.fround(1 + Math.fround(wd * 3)), Math.fround(2 + Math.fround(wd * -7))]);
});

test('is an elementwise definition whose kernel reads params', () => {
  const tx = addDecayedWeights(0.1);
  assert.ok(tx.elementwise);
  assert.equal((tx.elementwise as any).plan.usesParams, true);
});

test('a fixed rate of exactly 0 passes updates through (optax skips g + 0 * p)', () => {
  const tx = addDecayedWeights();
  const params = { w: f32(Infinity, 1) };
  const g = { w: f32(-0, 5) };
  const [u, s] = tx.update(g, tx.init(params), params);
  assert.ok(Object.is(u.w[0], -0));
  assert.equal(u.w[1], 5);
  assert.deepEqual(s, {});
});

test('an array rate of 0 (as injectHyperparams passes) still computes g + 0 * p', () => {
  const tx = addDecayedWeights(new ShapedArray(new Float64Array([0]), []));
  const params = { w: f32(Infinity) };
  const [u] = tx.update({ w: f32(1) }, tx.init(params), params);
  assert.ok(Number.isNaN(u.w[0]));
});

test('with a schedule, the state counts steps and the schedule sees the count before the step', () => {
  const seen: number[] = [];
  const tx = addDecayedWeights((c) => { seen.push(c); return c; });
  const params = { w: new Float64Array([2]) };
  let state = tx.init(params) as { count: number };
  assert.deepEqual(state, { count: 0 });
  let u: any;
  [u, state] = tx.update({ w: new Float64Array([1]) }, state, params) as any;
  assert.equal(u.w[0], 1); // wd(0) = 0
  [u, state] = tx.update({ w: new Float64Array([1]) }, state, params) as any;
  assert.equal(u.w[0], 3); // wd(1) = 1
  assert.deepEqual(state, { count: 2 });
  assert.deepEqual(seen, [0, 1]);
});

test('a schedule returning a bad value throws at the step, naming it', () => {
  const tx = addDecayedWeights(() => -1);
  const params = { w: f32(1) };
  assert.throws(() => tx.update({ w: f32(1) }, tx.init(params), params), /weight_decay must be >= 0.*step 0|step 0.*weight_decay must be >= 0/);
});

test('mask: a tree or a function, through masked', () => {
  const params = { w: f32(1), b: f32(1) };
  for (const mask of [{ w: true, b: false }, () => ({ w: true, b: false })]) {
    const tx = addDecayedWeights(0.5, { mask });
    const state = tx.init(params);
    assert.deepEqual(state, { inner_state: {} });
    assert.equal(tx.combinator?.kind, 'masked');
    const [u] = tx.update({ w: f32(1), b: f32(1) }, state, params);
    assert.deepEqual(u, { w: f32(1.5), b: f32(1) });
  }
});

test('rejects negative, NaN and infinite rates, and missing params', () => {
  assert.throws(() => addDecayedWeights(-0.1), (e: Error) => e instanceof OptaxError && /weight_decay/.test(e.message));
  assert.throws(() => addDecayedWeights(NaN), /weight_decay/);
  assert.throws(() => addDecayedWeights(Infinity), /weight_decay/);
  const tx = addDecayedWeights(0);
  assert.throws(() => tx.update({ w: f32(1) }, tx.init({ w: f32(1) })), /needs params/);
});

test('does not mutate its inputs', () => {
  const tx = addDecayedWeights(0.5);
  const params = { w: f32(1, 2) };
  const g = { w: f32(3, 4) };
  tx.update(g, tx.init(params), params);
  assert.deepEqual(params, { w: f32(1, 2) });
  assert.deepEqual(g, { w: f32(3, 4) });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ema } from '../../src/transforms/ema.js';
import { powInt } from '../../src/core/pow.js';
import { OptaxError } from '../../src/core/errors.js';

const r = Math.fround;

test('debiased average: ema / (1 - d^t), bias rounded as XLA computes it (two leaves: division)', () => {
  const tx = ema(0.9);
  let state = tx.init({ a: new Float32Array(1), b: new Float32Array(1) });
  let u: any;
  [u, state] = tx.update({ a: new Float32Array([1]), b: new Float32Array([2]) }, state);
  [u, state] = tx.update({ a: new Float32Array([3]), b: new Float32Array([4]) }, state);
  const d = r(0.9), omd = r(1 - 0.9);
  const e1 = r(omd * 1), e2 = r(r(omd * 3) + r(d * e1));
  const bias = r(1 - r(powInt(d, 2)));
  assert.equal(state.count, 2);
  assert.equal((state.ema as any).a[0], e2);
  assert.equal(u.a[0], r(e2 / bias));
});

test('one leaf of two or more elements: multiplication by the reciprocal of the bias correction', () => {
  const tx = ema(0.5);
  let state = tx.init({ w: new Float64Array(2) });
  let u: any;
  [u, state] = tx.update({ w: new Float64Array([2, 0]) }, state);
  [u, state] = tx.update({ w: new Float64Array([4, 0]) }, state);
  assert.equal(u.w[0], 2.5 * (1 / 0.75));
});

test('one one-element leaf: a true division (XLA turns its broadcast into a reshape first)', () => {
  const tx = ema(0.5);
  let state = tx.init({ w: new Float64Array(1) });
  let u: any;
  [u, state] = tx.update({ w: new Float64Array([2]) }, state);
  [u, state] = tx.update({ w: new Float64Array([4]) }, state);
  assert.notEqual(2.5 / 0.75, 2.5 * (1 / 0.75));
  assert.equal(u.w[0], 2.5 / 0.75);
});

test('debias false returns the average itself; it is an elementwise definition', () => {
  const tx = ema(0.5, { debias: false });
  assert.ok(tx.elementwise);
  const [u] = tx.update({ w: new Float64Array([2]) }, tx.init({ w: new Float64Array(1) }));
  assert.equal(u.w[0], 1);
});

test('accumulatorDtype stores the average in that dtype', () => {
  const tx = ema(0.9, { accumulatorDtype: 'float32' });
  const state = tx.init({ w: new Float64Array(1) });
  assert.ok((state.ema as any).w instanceof Float32Array);
  const [u, next] = tx.update({ w: new Float64Array([0.1]) }, state);
  assert.ok(u.w instanceof Float64Array);
  assert.equal((next.ema as any).w[0], r(0.1 * 0.09999999999999998));
  assert.equal(u.w[0], (0.1 * 0.09999999999999998) * (1 / (1 - 0.9)));
});

test('rejects a decay outside [0, 1] or NaN, and a bad accumulatorDtype', () => {
  assert.throws(() => ema(1.5), (e: Error) => e instanceof OptaxError && /decay/.test(e.message));
  assert.throws(() => ema(NaN), /decay/);
  assert.throws(() => ema(0.9, { accumulatorDtype: 'int8' as any }), /accumulatorDtype/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adamaxw } from '../../src/alias/adamaxw.js';
import { adamax } from '../../src/alias/adamax.js';
import { applyUpdates } from '../../src/transforms/apply-updates.js';
import { linearSchedule } from '../../src/schedules/linear.js';
import { OptaxError } from '../../src/core/errors.js';
import { type Mode, runCase } from '../transforms/vectors.js';

for (const mode of ['f32', 'f64'] as Mode[]) {
  const dtype = mode === 'f32' ? 'float32' : 'float64';
  test(`adamaxw_default_decay (${mode}) matches optax bit for bit`, () => {
    assert.equal(runCase(mode, 'adamaxw_default_decay', adamaxw(0.01)), undefined);
  });
  test(`adamaxw_masked (${mode}) matches optax bit for bit`, () => {
    assert.equal(runCase(mode, 'adamaxw_masked', adamaxw(0.01, { weightDecay: 0.1, mask: { w: true, b: false } })), undefined);
  });
  test(`adamaxw_masked (${mode}) with a mask function`, () => {
    const mask = () => ({ w: true, b: false });
    assert.equal(runCase(mode, 'adamaxw_masked', adamaxw(0.01, { weightDecay: 0.1, mask })), undefined);
  });
  test(`adamaxw_schedule_decay (${mode}) matches optax bit for bit`, () => {
    const lr = linearSchedule({ initValue: 0.1, endValue: 0.001, transitionSteps: 10, transitionBegin: 2, dtype });
    assert.equal(runCase(mode, 'adamaxw_schedule_decay', adamaxw(lr, { weightDecay: 0.05 })), undefined);
  });
}

test('adamaxw state is [adamax state, decay state, lr state]; the mask wraps only the decay', () => {
  const params = { w: new Float32Array([1, 2]), b: new Float32Array([3]) };
  const state = adamaxw(0.1, { mask: { w: true, b: false } }).init(params);
  assert.equal(state.length, 3);
  assert.deepEqual(Object.keys(state[0]), ['count', 'mu', 'nu']);
  assert.deepEqual(state[1], { inner_state: {} });
  assert.deepEqual(state[2], {});
});

test('adamaxw with weightDecay 0 is adamax', () => {
  const params = { w: new Float64Array([1, -2, 3]) };
  const g = { w: new Float64Array([0.5, 0.25, -1]) };
  const [a] = adamaxw(0.1, { weightDecay: 0 }).update(g, adamaxw(0.1, { weightDecay: 0 }).init(params), params);
  const [b] = adamax(0.1).update(g, adamax(0.1).init(params), params);
  assert.deepEqual(a, b);
});

test('adamaxw decays towards zero with zero gradients', () => {
  let params = { w: new Float64Array([1, -1]) };
  const tx = adamaxw(0.1, { weightDecay: 0.5 });
  let state = tx.init(params);
  for (let i = 0; i < 3; i++) {
    const [u, s] = tx.update({ w: new Float64Array(2) }, state, params);
    params = applyUpdates(params, u);
    state = s;
  }
  assert.ok(Math.abs(params.w[0]) < 1 && params.w[0] > 0 && params.w[1] < 0);
});

test('adamaxw rejects bad arguments and needs params', () => {
  assert.throws(() => adamaxw(0.1, { weightDecay: -1 }), OptaxError);
  assert.throws(() => adamaxw(0.1, { weightDecay: NaN }), /weight_decay/);
  assert.throws(() => adamaxw(-0.1), OptaxError);
  const tx = adamaxw(0.1);
  const params = { w: new Float32Array(1) };
  assert.throws(() => tx.update({ w: new Float32Array(1) }, tx.init(params)), /needs params/);
});

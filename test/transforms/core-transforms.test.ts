import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  OptaxError, ShapedArray, adamax, applyUpdates, chain, identity, scale, scaleByAdamax, scaleByLearningRate,
  scaleBySchedule, setToZero,
} from '../../src/index.js';

const f32 = (...v: number[]) => new Float32Array(v);

test('scaleByAdamax follows the update rule, op by op in float32', () => {
  const tx = scaleByAdamax({ b1: 0.5, b2: 0.25, eps: 0.125 });
  let state = tx.init({ w: f32(0, 0) });
  let u;
  [u, state] = tx.update({ w: f32(1, -2) }, state);
  // m = 0.5*g, v = |g| + 0.125, bias = 0.5, but a one-leaf tree multiplies by 1/bias (as XLA does).
  assert.deepEqual(Array.from((state.mu as any).w as Float32Array), [0.5, -1]);
  assert.deepEqual(Array.from((state.nu as any).w as Float32Array), [1.125, 2.125]);
  assert.deepEqual(Array.from(u.w), [Math.fround(1 / 1.125), Math.fround(-2 / 2.125)]);
  [u, state] = tx.update({ w: f32(0, 0) }, state);
  assert.equal(state.count, 2);
  assert.deepEqual(Array.from((state.nu as any).w as Float32Array), [Math.fround(Math.max(0.125, 0.25 * 1.125)), Math.fround(Math.max(0.125, 0.25 * 2.125))]);
});

test('updates are pure: inputs are never mutated', () => {
  const tx = adamax(0.1);
  const params = { a: f32(1, 2), b: [null, new ShapedArray(new Float64Array([3, 4, 5, 6]), [2, 2])] };
  const grads = { a: f32(0.5, -0.5), b: [null, new ShapedArray(new Float64Array([1, 1, 1, 1]), [2, 2])] };
  const state = tx.init(params);
  const snapshot = JSON.stringify([params, grads, state], (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v));
  const [u, s2] = tx.update(grads, state, params);
  const p2 = applyUpdates(params, u);
  assert.equal(JSON.stringify([params, grads, state], (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v)), snapshot);
  assert.equal(u.b[0], null);
  assert.ok(u.b[1] instanceof ShapedArray && (u.b[1] as ShapedArray).data instanceof Float64Array);
  assert.ok(p2.a instanceof Float32Array);
  assert.equal(s2[0].count, 1);
});

test('state leaves take the dtype of their param leaf', () => {
  const s = scaleByAdamax().init({ a: f32(1), b: new Float64Array(2) });
  assert.ok((s.mu as any).a instanceof Float32Array);
  assert.ok((s.nu as any).b instanceof Float64Array);
});

test('bad input gets a clear error naming the path, before anything changes', () => {
  const tx = adamax(0.01);
  const params = { layer: { w: f32(1, 2, 3) } };
  const state = tx.init(params);
  const expect = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof OptaxError && re.test((e as Error).message), String(re));
  expect(() => tx.update({ layer: { w: f32(1, 2) } }, state, params), /^grads\.layer\.w: shape mismatch: grads leaf has shape \[2\], state\.mu leaf has shape \[3\]/);
  expect(() => tx.update({ layer: { w: new Float64Array(3) } }, state, params), /^grads\.layer\.w: dtype mismatch: grads leaf is float64, state\.mu leaf is float32/);
  expect(() => tx.update({ layer: { v: f32(1, 2, 3) } }, state, params), /^grads\.layer: /);
  expect(() => tx.update({ layer: { w: [1, 2, 3] as any } }, state, params), /^grads\.layer\.w\[0\]: expected an array leaf/);
  expect(() => tx.update({ layer: { w: f32(1, 2, 3) } }, [state[1], state[0]] as any, params), /does not belong to scale_by_adamax/);
  expect(() => tx.update({ layer: { w: f32(1, 2, 3) } }, { count: 0 } as any, params), /does not belong to this chain/);
  expect(() => scaleByAdamax().update({ w: f32(1) }, { count: -1, mu: { w: f32(0) }, nu: { w: f32(0) } }), /state\.count must be a non-negative int32/);
  expect(() => scaleByAdamax({ b1: 1.5 }), /b1 must be in \[0, 1\], got 1\.5/);
  expect(() => scaleByAdamax({ b2: -0.1 }), /b2 must be in \[0, 1\]/);
  expect(() => scaleByAdamax({ eps: -1e-8 }), /eps must be in \[0, inf\]/);
  expect(() => scaleByAdamax({ eps: NaN }), /eps must be finite/);
  expect(() => scaleByAdamax({ b1: f32(0.9, 2) }), /b1 must be in \[0, 1\], got 2/);
  expect(() => adamax(-0.1), /learning rate must be >= 0/);
  expect(() => adamax(Infinity), /learning rate must be finite/);
  const scheduled = adamax(() => NaN);
  expect(() => scheduled.update({ layer: { w: f32(1, 2, 3) } }, scheduled.init(params), params), /learning rate must be finite, got NaN/);
  expect(() => chain(scale(1), {} as any), /argument 1 is not a gradient transformation/);
});

test('NaN gradients are not bad input: they propagate as in optax', () => {
  const tx = adamax(0.1);
  const [u] = tx.update({ w: f32(NaN, 1) }, tx.init({ w: f32(0, 0) }));
  assert.ok(Number.isNaN(u.w[0]) && Number.isFinite(u.w[1]));
});

test('broadcast array hyperparameters apply per element', () => {
  const b1 = new Float32Array([0, 0.5]);
  const tx = scaleByAdamax({ b1, eps: 0 });
  const [u, s] = tx.update({ w: new ShapedArray(f32(1, 1, 2, 2), [2, 2]), v: f32(1, 1) }, tx.init({ w: new ShapedArray(f32(0, 0, 0, 0), [2, 2]), v: f32(0, 0) }));
  assert.deepEqual(Array.from((s.mu as any).w.data), [1, 0.5, 2, 1]);
  assert.deepEqual(Array.from((u as any).w.data), [1, 1, 1, 1]);
  assert.throws(() => scaleByAdamax({ b1: f32(0.1, 0.2, 0.3) }).update({ w: f32(1, 2) }, scaleByAdamax().init({ w: f32(1, 2) })), /hyperparameter 'b1' of shape \[3\] does not broadcast against the leaf's shape \[2\]/);
});

test('count saturates at 2^31-1', () => {
  const tx = scaleByAdamax();
  const s0 = { ...tx.init({ w: f32(0) }), count: 2147483646 };
  const [, s1] = tx.update({ w: f32(1) }, s0);
  const [, s2] = tx.update({ w: f32(1) }, s1);
  assert.equal(s1.count, 2147483647);
  assert.equal(s2.count, 2147483647);
});

test('scale, scaleBySchedule, scaleByLearningRate, identity and setToZero', () => {
  const p = { w: new Float64Array([1, -2]) };
  assert.deepEqual(Array.from(scale(3).update(p, scale(3).init(p))[0].w), [3, -6]);
  const sched = scaleBySchedule((c) => c + 1);
  let s = sched.init(p);
  let u;
  [u, s] = sched.update(p, s);
  [u, s] = sched.update(p, s);
  assert.deepEqual(Array.from(u.w), [2, -4]);
  assert.equal(s.count, 2);
  assert.deepEqual(Array.from(scaleByLearningRate(0.5, { flipSign: false }).update(p, {})[0].w), [0.5, -1]);
  assert.deepEqual(Array.from(scaleByLearningRate(0.5).update(p, {})[0].w), [-0.5, 1]);
  assert.deepEqual(Array.from(identity().update(p, {})[0].w), [1, -2]);
  assert.deepEqual(Array.from(setToZero().update(p, {})[0].w), [0, 0]);
  // Float32 leaves see the schedule's value rounded to float32, as jnp.array(v, dtype=g.dtype) does.
  const [u32] = scaleBySchedule(() => 0.1).update({ w: f32(1) }, { count: 0 });
  assert.equal(u32.w[0], Math.fround(0.1));
});

test('extra arguments are accepted and ignored by adamax', () => {
  const tx = adamax(0.1);
  const p = { w: f32(1) };
  const a = tx.update({ w: f32(1) }, tx.init(p), p, { loss: 3 })[0].w[0];
  const b = tx.update({ w: f32(1) }, tx.init(p), p)[0].w[0];
  assert.equal(a, b);
});

test('a transformation that reads params works under a mask that selects nothing (params null, as optax\'s MaskedNode)', async () => {
  const { masked, addDecayedWeights } = await import('../../src/index.js');
  const tx = masked(addDecayedWeights(0.1), false);
  const p = { w: f32(1, 2) };
  assert.deepEqual(Array.from(tx.update({ w: f32(1, 1) }, tx.init(p), p)[0].w), [1, 1]);
  assert.throws(() => addDecayedWeights(0.1).update({ w: f32(1, 1) }, {}), /needs params/);
});

test('scale: an array step size broadcasts against each leaf (optax takes a jnp array), rounded to the leaf dtype; NaN throws', () => {
  const perColumn = scale(new ShapedArray(new Float64Array([0.1, -2]), [2]));
  const g = { w: new ShapedArray(new Float32Array([1, 1, 3, 3]), [2, 2]) };
  const [u] = perColumn.update(g, perColumn.init({}));
  assert.deepEqual(Array.from((u.w as ShapedArray).data), [Math.fround(0.1), -2, Math.fround(Math.fround(0.1) * 3), -6]);
  assert.throws(() => scale(new Float64Array([1, NaN])), (e: Error) => e instanceof OptaxError && /step_size/.test(e.message));
});

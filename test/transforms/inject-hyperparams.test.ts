import { test } from 'node:test';
import assert from 'node:assert/strict';
import { injectHyperparams, setHyperparams, toSnakeCase } from '../../src/transforms/inject-hyperparams.js';
import { registerInjectable } from '../../src/transforms/injectable.js';
import { adamax } from '../../src/alias/adamax.js';
import { adamaxw } from '../../src/alias/adamaxw.js';
import { scale } from '../../src/transforms/scale.js';
import { clip } from '../../src/transforms/clip.js';
import { scaleByAdamax } from '../../src/transforms/scale-by-adamax.js';
import { applyUpdates } from '../../src/transforms/apply-updates.js';
import { OptaxError } from '../../src/core/errors.js';
import { fromSpec, toSpec } from '../../src/spec/spec.js';

const p32 = { w: new Float32Array([1, 2]) };
const p64 = { w: new Float64Array([1, 2]) };

test('state layout: count, hyperparams (snake_case, defaults included, rounded to the params dtype), hyperparams_states, inner_state', () => {
  const tx = injectHyperparams(adamax)(0.01);
  const s32 = tx.init(p32);
  assert.deepEqual(Object.keys(s32), ['count', 'hyperparams', 'hyperparams_states', 'inner_state']);
  assert.deepEqual(s32.hyperparams, { learning_rate: Math.fround(0.01), b1: Math.fround(0.9), b2: Math.fround(0.999), eps: Math.fround(1e-8) });
  assert.deepEqual(s32.hyperparams_states, {});
  assert.deepEqual((s32.inner_state as any)[1], {});
  assert.deepEqual(tx.init(p64).hyperparams, { learning_rate: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8 });
  assert.equal(injectHyperparams(adamax, { hyperparamDtype: 'float64' })(0.01).init(p32).hyperparams.learning_rate, 0.01);
});

test('the same arguments as the factory, positionally or by name (camelCase or snake_case)', () => {
  const a = injectHyperparams(adamax)(0.01, { b1: 0.5 }).init(p32).hyperparams;
  const b = injectHyperparams(adamax)({ learningRate: 0.01, b1: 0.5 }).init(p32).hyperparams;
  const c = injectHyperparams(adamax)({ learning_rate: 0.01, b1: 0.5 }).init(p32).hyperparams;
  assert.deepEqual(a, b);
  assert.deepEqual(a, c);
  assert.throws(() => injectHyperparams(adamax)({ lr: 0.1 }), (e: Error) => e instanceof OptaxError && /unknown argument 'lr'/.test(e.message));
  assert.throws(() => injectHyperparams(adamax)({ b1: 0.1 }), /missing required argument learningRate/);
});

test('matches adamax given the hyperparameters rounded to float32, step for step', () => {
  // Not adamax(0.01) itself: optax's injected b1 is a float32 array, so 1 - b1 is computed from
  // float32(0.9), whereas adamax(0.01) rounds the Python value 1 - 0.9.
  const tx = injectHyperparams(adamax)(0.01);
  const f = Math.fround;
  const plain = adamax(f(0.01), { b1: f(0.9), b2: f(0.999), eps: f(1e-8) });
  let [params, s1, s2] = [p32 as any, tx.init(p32), plain.init(p32)];
  for (let i = 0; i < 4; i++) {
    const g = { w: new Float32Array([0.3 * i - 0.5, 1 / (i + 1)]) };
    const [u1, n1] = tx.update(g, s1, params);
    const [u2, n2] = plain.update(g, s2, params);
    assert.deepEqual(u1, u2);
    [s1, s2] = [n1, n2];
    params = applyUpdates(params, u1);
  }
  assert.equal(s1.count, 4);
});

test('setHyperparams: new state, snake or camel names, rounded at the next update', () => {
  const tx = injectHyperparams(adamax)(0.01);
  const s0 = tx.init(p32);
  const s1 = setHyperparams(s0, { learningRate: 0.5 });
  const s2 = setHyperparams(s0, { learning_rate: 0.5 });
  assert.deepEqual(s1, s2);
  assert.equal(s0.hyperparams.learning_rate, Math.fround(0.01));
  const [u, next] = tx.update({ w: new Float32Array([1, -1]) }, s1, p32);
  assert.equal(next.hyperparams.learning_rate, 0.5);
  assert.ok(Math.abs((u.w as Float32Array)[0] + 0.5) < 1e-6);
  const [, rounded] = tx.update({ w: new Float32Array([1, -1]) }, setHyperparams(next, { b1: 0.3 }), p32);
  assert.equal(rounded.hyperparams.b1, Math.fround(0.3));
  assert.throws(() => setHyperparams(s0, { momentum: 1 }), (e: Error) => e instanceof OptaxError && /unknown hyperparameter 'momentum'.*learning_rate, b1, b2, eps/.test(e.message));
  assert.throws(() => setHyperparams(s0, { b1: 'x' }), /must be a number/);
  // NaN is refused where it is set (no factory accepts it), naming the hyperparameter; nothing changes.
  assert.throws(() => setHyperparams(s0, { learningRate: NaN }), (e: Error) => e instanceof OptaxError && /setHyperparams: hyperparameter 'learning_rate' is NaN/.test(e.message));
  assert.throws(() => setHyperparams(s0, { b1: 0.5, eps: new Float32Array([1e-8, NaN]) }), (e: Error) => e instanceof OptaxError && /hyperparameter 'eps' is NaN \(in an element\)/.test(e.message));
  assert.equal(s0.hyperparams.b1, Math.fround(0.9));
  // What optax-ts's factories accept is not refused: an infinite clip, a negative scale.
  assert.equal(setHyperparams(injectHyperparams(clip)(1).init(p32), { maxDelta: Infinity }).hyperparams.max_delta, Infinity);
  assert.equal(setHyperparams(injectHyperparams(scale)(1).init(p32), { stepSize: -2 }).hyperparams.step_size, -2);
});

test('schedules: evaluated at their own count (0 first), stored after the fixed ones, not settable', () => {
  const seen: number[] = [];
  const tx = injectHyperparams(adamax)((c: number) => { seen.push(c); return 0.1 / (c + 1); }, { b2: 0.99 });
  let state = tx.init(p64);
  assert.deepEqual(Object.keys(state.hyperparams), ['b1', 'b2', 'eps', 'learning_rate']);
  assert.deepEqual(state.hyperparams_states, { learning_rate: { count: 0 } });
  assert.equal(state.hyperparams.learning_rate, 0.1);
  [, state] = tx.update({ w: new Float64Array([1, 1]) }, state, p64);
  [, state] = tx.update({ w: new Float64Array([1, 1]) }, state, p64);
  assert.deepEqual(seen, [0, 0, 1]);
  assert.equal(state.hyperparams.learning_rate, 0.05);
  assert.deepEqual(state.hyperparams_states, { learning_rate: { count: 2 } });
  assert.throws(() => setHyperparams(state, { learningRate: 1 }), /follows a schedule/);
});

test('adamaxw: weight_decay is a hyperparameter, the mask is static', () => {
  const tx = injectHyperparams(adamaxw)(0.01, { weightDecay: 0.1, mask: { w: true } });
  const state = tx.init(p32);
  assert.deepEqual(Object.keys(state.hyperparams), ['learning_rate', 'b1', 'b2', 'eps', 'weight_decay']);
  const [u] = tx.update({ w: new Float32Array([0, 0]) }, state, p32);
  const [v] = adamaxw(0.01, { weightDecay: 0.1, mask: { w: true } }).update({ w: new Float32Array([0, 0]) }, adamaxw(0.01, { weightDecay: 0.1, mask: { w: true } }).init(p32), p32);
  assert.deepEqual(u, v);
});

test('staticArgs, registerInjectable, unregistered factories', () => {
  assert.deepEqual(Object.keys(injectHyperparams(scaleByAdamax, { staticArgs: ['eps'] })().init(p32).hyperparams), ['b1', 'b2']);
  assert.throws(() => injectHyperparams(scaleByAdamax, { staticArgs: ['lr'] }), /staticArgs/);
  // One name as a string, as optax accepts (its test_static_args / test_numeric_static_args, 'string' case).
  assert.deepEqual(Object.keys(injectHyperparams(scaleByAdamax, { staticArgs: 'b1' })({ b1: 0.9, b2: 0.95 }).init(p32).hyperparams), ['b2', 'eps']);
  assert.deepEqual(Object.keys(injectHyperparams(scale, { staticArgs: 'step_size' })(0.5).init(p32).hyperparams), []);
  assert.deepEqual(Object.keys(injectHyperparams(scale, { staticArgs: 'stepSize' })(0.5).init(p32).hyperparams), []);
  // Described as data as given (one name stays one name), and built back.
  const spec = toSpec(injectHyperparams(scale, { staticArgs: 'step_size' })(0.5));
  assert.equal((spec.args as any).static_args, 'step_size');
  assert.deepEqual(Object.keys((fromSpec(spec).init(p32) as any).hyperparams), []);
  assert.throws(() => injectHyperparams(scale, { staticArgs: 'lr' }), /staticArgs must name arguments of scale/);
  assert.throws(() => injectHyperparams(scale, { staticArgs: [1] as never }), /staticArgs must be a name or a list of names/);
  assert.throws(() => injectHyperparams(scale, { staticArgs: { step_size: true } as never }), /staticArgs must be a name or a list of names/);
  const triple = (x: number) => scale(3 * x);
  assert.throws(() => injectHyperparams(triple), /not registered/);
  registerInjectable(triple, { name: 'triple', params: [{ name: 'x', option: 'x', positional: true }], build: (a) => triple(a.x) });
  const tx = injectHyperparams(triple)(2);
  const [u] = tx.update({ w: new Float64Array([1]) }, tx.init(p64));
  assert.equal(u.w[0], 6);
  assert.equal(toSnakeCase('maxConsecutiveErrors'), 'max_consecutive_errors');
});

test('does not mutate the state it is given', () => {
  const tx = injectHyperparams(adamax)(0.01);
  const state = tx.init(p32);
  const snapshot = structuredClone(state);
  tx.update({ w: new Float32Array([1, 2]) }, setHyperparams(state, { b1: 0.5 }), p32);
  assert.deepEqual(state, snapshot);
});

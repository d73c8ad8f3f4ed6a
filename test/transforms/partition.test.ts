import { test } from 'node:test';
import assert from 'node:assert/strict';
import { multiTransform, partition } from '../../src/transforms/partition.js';
import { scale } from '../../src/transforms/scale.js';
import { setToZero } from '../../src/transforms/set-to-zero.js';
import { scaleByAdamax } from '../../src/transforms/scale-by-adamax.js';
import { OptaxError } from '../../src/core/errors.js';

const f = (...v: number[]) => new Float32Array(v);

test('each leaf goes through the transformation of its label; state is {inner_states: {label: MaskedState}}', () => {
  const tx = partition({ adam: scaleByAdamax(), frozen: setToZero(), double: scale(2) }, { w: 'adam', b: 'frozen', c: 'double' });
  const params = { w: f(1), b: f(1), c: f(1) };
  const state = tx.init(params);
  assert.deepEqual(Object.keys(state.inner_states), ['adam', 'frozen', 'double']);
  assert.equal((state.inner_states.adam.inner_state as any).mu.b, null);
  const [u] = tx.update({ w: f(3), b: f(3), c: f(3) }, state, params);
  assert.deepEqual([u.b[0], u.c[0]], [0, 6]);
  assert.ok(Math.abs(u.w[0] - 1) < 1e-6); // adamax's first step: ~sign(g)
});

test('labels may be a prefix tree or a function (of the params at init, the updates at update)', () => {
  const labels = (t: any) => Object.fromEntries(Object.keys(t).map((k) => [k, k.startsWith('enc') ? 'a' : 'b']));
  const tx = multiTransform({ a: scale(2), b: scale(3) }, labels);
  const g = { enc: { w: f(1) }, dec: [f(1), f(1)] };
  const [u] = tx.update(g, tx.init(g));
  assert.deepEqual(u, { enc: { w: f(2) }, dec: [f(3), f(3)] });
});

test('an unknown label throws, naming its path and the known labels', () => {
  const tx = partition({ a: scale(1), b: scale(1) }, { w: 'a', layers: [{ v: 'c' }] });
  assert.throws(() => tx.init({ w: f(1), layers: [{ v: f(1) }] }), (e: Error) =>
    e instanceof OptaxError && /'c'/.test(e.message) && /param_labels\.layers\[0\]\.v/.test(e.message) && /'a', 'b'/.test(e.message));
});

test('a label tree that does not fit throws naming the path', () => {
  const tx = partition({ a: scale(1) }, { w: 'a' });
  assert.throws(() => tx.init({ w: f(1), b: f(1) }), (e: Error) => e instanceof OptaxError && /param_labels/.test(e.message));
  const tx2 = partition({ a: scale(1) }, { w: 3 as any });
  assert.throws(() => tx2.init({ w: f(1) }), /param_labels\.w: expected a string label/);
});

test('exposes its structure to the engine; checks transforms and state', () => {
  const transforms = { a: scale(1) };
  const labels = { w: 'a' };
  assert.deepEqual(partition(transforms, labels).combinator, { kind: 'partition', transforms, labels });
  assert.throws(() => partition({ a: 3 as any }, labels), /transforms\['a'\]/);
  const tx = partition(transforms, labels);
  assert.throws(() => tx.update({ w: f(1) }, { inner_states: {} } as any), /does not belong/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { masked } from '../../src/transforms/masked.js';
import { scale } from '../../src/transforms/scale.js';
import { scaleByAdamax } from '../../src/transforms/scale-by-adamax.js';
import { addDecayedWeights } from '../../src/transforms/add-decayed-weights.js';
import { OptaxError } from '../../src/core/errors.js';

const f = (...v: number[]) => new Float64Array(v);

test('transforms the masked leaves only; the inner sees null elsewhere', () => {
  const tx = masked(scaleByAdamax(), { w: true, b: false });
  const params = { w: f(1), b: f(1) };
  const state = tx.init(params);
  assert.equal((state.inner_state.mu as any).b, null);
  assert.ok((state.inner_state.mu as any).w instanceof Float64Array);
  const [u, next] = tx.update({ w: f(0.5), b: f(7) }, state, params);
  assert.equal(u.b[0], 7);
  assert.notEqual(u.w[0], 0.5);
  assert.equal(next.inner_state.count, 1);
  assert.equal((next.inner_state.nu as any).b, null);
});

test('a mask may be a prefix of the tree, and keeps the caller\'s key order', () => {
  const tx = masked(scale(-1), { enc: true, dec: false });
  const g = { enc: { w: f(1), b: [f(2), null] }, dec: { w: f(3) } };
  const [u] = tx.update(g, tx.init(g));
  assert.deepEqual(u, { enc: { w: f(-1), b: [f(-2), null] }, dec: { w: f(3) } });
  assert.deepEqual(Object.keys(u), ['enc', 'dec']);
});

test('a mask function receives the params at init and the updates at update', () => {
  const seen: unknown[] = [];
  const tx = masked(addDecayedWeights(1), (t) => { seen.push(t); return { w: true }; });
  const params = { w: f(1) };
  const g = { w: f(2) };
  const [u] = tx.update(g, tx.init(params), params);
  assert.deepEqual(u, { w: f(3) });
  assert.equal(seen[0], params);
  assert.equal(seen[1], g);
});

test('a mask that does not fit throws an OptaxError naming the path', () => {
  const tx = masked(scale(1), { layers: [{ w: true }, { w: true }] });
  const g = { layers: [{ w: f(1) }] };
  assert.throws(() => tx.init(g), (e: Error) => e instanceof OptaxError && /^mask\.layers:/.test(e.message) && /list of 2/.test(e.message));
  const tx2 = masked(scale(1), { w: true, b: 1 as any });
  assert.throws(() => tx2.init({ w: f(1), b: f(1) }), (e: Error) => e instanceof OptaxError && /^mask\.b: expected a boolean/.test(e.message));
  const tx3 = masked(scale(1), { w: { x: true } });
  assert.throws(() => tx3.init({ w: f(1) }), /^OptaxError: mask\.w: mask does not match params: mask has dict \{x\} here, params has Float64Array\(1\)/);
});

test('exposes its structure to the engine and checks its state', () => {
  const inner = scale(2);
  const mask = { w: true };
  const tx = masked(inner, mask);
  assert.deepEqual(tx.combinator, { kind: 'masked', inner, mask });
  assert.throws(() => tx.update({ w: f(1) }, {} as any), /does not belong/);
});

test('does not mutate its inputs', () => {
  const tx = masked(scale(2), { w: true, b: false });
  const g = { w: f(1), b: f(1) };
  tx.update(g, tx.init(g));
  assert.deepEqual(g, { w: f(1), b: f(1) });
});

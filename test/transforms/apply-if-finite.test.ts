import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyIfFinite } from '../../src/transforms/apply-if-finite.js';
import { scale } from '../../src/transforms/scale.js';
import { scaleByAdamax } from '../../src/transforms/scale-by-adamax.js';
import { OptaxError } from '../../src/core/errors.js';

const g = (v: number) => ({ w: new Float64Array([v]) });

test('skips non-finite steps: zero updates, inner state kept, counters updated', () => {
  const tx = applyIfFinite(scaleByAdamax(), { maxConsecutiveErrors: 3 });
  let state = tx.init(g(0));
  let u: any;
  [u, state] = tx.update(g(1), state);
  assert.equal(state.inner_state.count, 1);
  const before = state.inner_state;
  [u, state] = tx.update(g(NaN), state);
  assert.ok(Object.is(u.w[0], 0));
  assert.equal(state.inner_state, before);
  assert.deepEqual({ ...state, inner_state: null }, { notfinite_count: 1, last_finite: false, total_notfinite: 1, inner_state: null });
  [u, state] = tx.update(g(2), state);
  assert.deepEqual([state.notfinite_count, state.last_finite, state.total_notfinite, state.inner_state.count], [0, true, 1, 2]);
});

test('gives up after maxConsecutiveErrors and, as optax 0.2.8, keeps applying until a finite step', () => {
  const tx = applyIfFinite(scale(2), { maxConsecutiveErrors: 2 });
  let state = tx.init(g(0));
  const applied: boolean[] = [];
  for (const v of [Infinity, Infinity, Infinity, Infinity, 1, Infinity]) {
    const [u, s] = tx.update(g(v), state);
    applied.push(u.w[0] !== 0);
    state = s;
  }
  // Bad steps 1 and 2 skipped, 3 and 4 applied (count not reset on giving up, optax#1746), then reset.
  assert.deepEqual(applied, [false, false, true, true, true, false]);
  assert.equal(state.total_notfinite, 5);
  assert.equal(state.notfinite_count, 1);
});

test('maxConsecutiveErrors 0 applies every step', () => {
  const tx = applyIfFinite(scale(1), { maxConsecutiveErrors: 0 });
  const [u] = tx.update(g(NaN), tx.init(g(0)));
  assert.ok(Number.isNaN(u.w[0]));
});

test('rejects a bad maxConsecutiveErrors or inner, and a foreign state', () => {
  for (const bad of [-1, 1.5, NaN, undefined as unknown as number]) {
    assert.throws(() => applyIfFinite(scale(1), { maxConsecutiveErrors: bad }), (e: Error) => e instanceof OptaxError && /maxConsecutiveErrors/.test(e.message));
  }
  assert.throws(() => applyIfFinite({} as any, { maxConsecutiveErrors: 1 }), /inner/);
  const tx = applyIfFinite(scale(1), { maxConsecutiveErrors: 1 });
  assert.throws(() => tx.update(g(1), {} as any), /does not belong/);
});

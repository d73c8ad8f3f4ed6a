// MultiSteps' skip functions, checked as optax's own tests check them (test_skip_not_finite,
// test_skip_large_updates, test_multi_steps_skip_not_finite), plus dtypes and the registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptaxError, applyUpdates, fromSpec, multiSteps, scale, skipLargeUpdates, skipNotFinite, sumOfSquares, toSpec } from '../../src/index.js';
import { buildTransform } from '../../src/conformance/registry.js';

const s = (v: number) => new Float32Array([v]);

test('skipNotFinite: +inf, -inf, NaN count; finite does not', () => {
  for (const bad of [Infinity, -Infinity, NaN]) {
    const [skip, state] = skipNotFinite([s(bad), s(0)], 0, null);
    assert.equal(skip, true);
    assert.deepEqual(state, { should_skip: true, num_not_finite: 1 });
  }
  assert.deepEqual(skipNotFinite([s(11), s(0)], 0, null), [false, { should_skip: false, num_not_finite: 0 }]);
  assert.deepEqual(skipNotFinite({ a: new Float64Array([NaN, 1, -Infinity]), b: null, c: [s(NaN)] }, 3, undefined), [true, { should_skip: true, num_not_finite: 3 }]);
  assert.deepEqual(skipNotFinite(null, 0, null), [false, { should_skip: false, num_not_finite: 0 }]);
  assert.deepEqual(skipNotFinite.skipRule, { kind: 'not_finite' });
});

test('skipLargeUpdates: inf, NaN and >= max are skipped; the squared norm is reported', () => {
  const skip = skipLargeUpdates(100);
  const [a, sa] = skip([s(Infinity), s(0)], 0, null);
  assert.equal(a, true);
  assert.equal(sa.norm_squared, Infinity);
  const [b, sb] = skip([s(NaN), s(0)], 0, null);
  assert.equal(b, true);
  assert.ok(Number.isNaN(sb.norm_squared));
  assert.deepEqual(skip([s(11), s(0)], 0, null), [true, { should_skip: true, norm_squared: 121 }]);
  assert.deepEqual(skip([s(0), s(0)], 0, null), [false, { should_skip: false, norm_squared: 0 }]);
  assert.deepEqual(skip([s(6), s(8)], 0, null), [true, { should_skip: true, norm_squared: 100 }]); // not < 100
  assert.deepEqual(skip.skipRule, { kind: 'large_updates', maxSquaredNorm: 100 });
});

test('skipLargeUpdates computes in the leaves\' dtypes and compares with max_squared_norm rounded to the norm\'s dtype', () => {
  const f = Math.fround;
  const x = new Float32Array([0.1, 0.2, 0.3]);
  const y = new Float32Array([1e-3]);
  const expected = f(f(0 + sumOfSquares(x)) + sumOfSquares(y));
  const [, st] = skipLargeUpdates(1)({ x, y }, 0, null);
  assert.equal(st.norm_squared, expected);
  // A max that rounds (as a Python float meeting a float32 array) to the float32 norm itself: not below it.
  const atNorm = expected + 1e-12;
  assert.notEqual(atNorm, expected);
  assert.equal(f(atNorm), expected);
  assert.equal(skipLargeUpdates(atNorm)({ x, y }, 0, null)[0], true);
  // A float64 leaf makes the sum float64: the same max is then above the norm.
  const x64 = Float64Array.from(x);
  const [skip64, st64] = skipLargeUpdates(atNorm)({ x: x64, y }, 0, null);
  assert.equal(st64.norm_squared, (0 + sumOfSquares(x64)) + sumOfSquares(y));
  assert.equal(skip64, !(st64.norm_squared < atNorm));
  assert.throws(() => skipLargeUpdates(NaN), (e: unknown) => e instanceof OptaxError && /maxSquaredNorm must be a number, got NaN/.test(e.message));
  assert.throws(() => skipLargeUpdates('1' as never), OptaxError);
  assert.throws(() => skipLargeUpdates(1)({ w: [1, 2] } as never, 0, null), (e: unknown) => e instanceof OptaxError && /skip_large_updates: .*w\[0\]/.test(e.message));
});

test('MultiSteps with skipNotFinite (optax test_multi_steps_skip_not_finite): bad mini-steps leave everything but skip_state', () => {
  const tx = multiSteps(scale(-1), { everyKSchedule: 2, shouldSkipUpdateFn: skipNotFinite });
  let params = { a: s(0) };
  let state = tx.init(params);
  assert.deepEqual(state.skip_state, { should_skip: false, num_not_finite: 0 });
  let u;
  [u, state] = tx.update({ a: s(1) }, state, params);
  assert.equal(state.mini_step, 1);
  params = applyUpdates(params, u);
  [u, state] = tx.update({ a: s(1) }, state, params);
  assert.equal(state.mini_step, 0);
  params = applyUpdates(params, u);
  assert.equal(params.a[0], -1);
  for (const bad of [Infinity, NaN]) {
    const before = state;
    [u, state] = tx.update({ a: s(bad) }, state, params);
    assert.equal(state.mini_step, 0);
    assert.deepEqual(state.skip_state, { should_skip: true, num_not_finite: 1 });
    assert.equal(state.acc_grads, before.acc_grads);
    assert.equal(state.inner_opt_state, before.inner_opt_state);
    assert.ok(Object.is(u.a[0], 0));
    params = applyUpdates(params, u);
    assert.equal(params.a[0], -1);
  }
});

test('conformance specs may name the skip functions', () => {
  const ctx = { dtype: 'float32' as const };
  const opt = { name: 'scale', args: { step_size: -1 } };
  const a = buildTransform({ name: 'MultiSteps', args: { opt, every_k_schedule: 2, should_skip_update_fn: 'skip_not_finite' } }, ctx);
  assert.deepEqual((a.init({ w: s(0) }) as any).skip_state, { should_skip: false, num_not_finite: 0 });
  const b = buildTransform({ name: 'MultiSteps', args: { opt, every_k_schedule: 2, should_skip_update_fn: { name: 'skip_large_updates', args: { max_squared_norm: 4 } } } }, ctx);
  const [, st] = b.update({ w: s(3) }, b.init({ w: s(0) }));
  assert.deepEqual((st as any).skip_state, { should_skip: true, norm_squared: 9 });
  for (const bad of ['constructor', 'skip_everything', { name: 'toString' }, { name: 'skip_large_updates', args: { max_squared_norm: '4' } }, { name: 'skip_large_updates', args: { max_squared_norm: 4, extra: 1 } }]) {
    assert.throws(() => buildTransform({ name: 'MultiSteps', args: { opt, every_k_schedule: 2, should_skip_update_fn: bad } }, ctx), (e: unknown) => e instanceof OptaxError && /should_skip_update_fn/.test(e.message));
  }
});

test('toSpec describes the skip functions, and fromSpec builds them back', () => {
  for (const [fn, described] of [[skipNotFinite, 'skip_not_finite'], [skipLargeUpdates(4), { name: 'skip_large_updates', args: { max_squared_norm: 4 } }]] as const) {
    const spec = toSpec(multiSteps(scale(-1), { everyKSchedule: 2, shouldSkipUpdateFn: fn }));
    assert.deepEqual((spec.args as any).should_skip_update_fn, described);
    const again = fromSpec(spec);
    const [, st] = again.update({ w: s(3) }, again.init({ w: s(0) }));
    assert.deepEqual((st as any).skip_state, fn([s(3)], 0, null)[1]);
  }
  assert.throws(() => toSpec(multiSteps(scale(-1), { everyKSchedule: 2, shouldSkipUpdateFn: () => [false, null] })), /only skipNotFinite and skipLargeUpdates\(n\) can be described/);
});

test('skipLargeUpdates sums more than 32 leaf sums as XLA does: in 32-wide windows (jnp.sum of the stacked sums)', () => {
  // Leaf sums 2^24, then 39 ones: in order every 1 is lost against 2^24; XLA's two windows (sums
  // 0..19 and 20..39), each in 8 lanes (padded), keep 38 of them.
  const leaves = Array.from({ length: 40 }, (_, i) => new Float32Array([i === 0 ? 2 ** 12 : 1]));
  const [, st] = skipLargeUpdates(Infinity)(leaves, 0, null);
  assert.equal(st.norm_squared, 2 ** 24 + 38);
});

// Edge cases of the schedules: zero-length transitions, steps before the start and far past the end,
// staircase decay, end-value clamps, dtype promotion in joins, int32 step semantics.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as S from '../../src/schedules/index.js';
import { setWarningHandler } from '../../src/core/warnings.js';

const f32 = Math.fround;
const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;
const isF32 = (x: number) => Object.is(f32(x), x);

test('zero transition steps: init_value, unrounded, at every step (optax returns the Python float)', () => {
  const previous = setWarningHandler(() => {}); // they warn: test/core/warnings.test.ts
  after(() => setWarningHandler(previous));
  for (const dtype of ['float32', 'float64'] as const) {
    const lin = S.linearSchedule({ initValue: 0.1, endValue: 1, transitionSteps: 0, dtype });
    const poly = S.polynomialSchedule({ initValue: 0.1, endValue: 1, power: 2, transitionSteps: 0, transitionBegin: 7, dtype });
    const exp = S.exponentialDecay({ initValue: 0.1, transitionSteps: 0, decayRate: 0.5, dtype });
    const warm = S.warmupConstantSchedule({ initValue: 0.1, peakValue: 1, warmupSteps: 0, dtype });
    for (const step of [0, 1, 100, INT32_MAX, INT32_MIN]) {
      for (const s of [lin, poly, exp, warm]) assert.equal(s(step), 0.1);
    }
  }
});

test('steps before transitionBegin hold initValue (as float32: the value is a float32 expression)', () => {
  const lin = S.linearSchedule({ initValue: 1, endValue: 0.01, transitionSteps: 10, transitionBegin: 5 });
  for (let t = 0; t <= 5; t++) assert.equal(lin(t), 1);
  assert.equal(lin(6), f32(f32(f32(0.99) * f32(1 - f32(f32(1) / f32(10)))) + f32(0.01)));
  const exp = S.exponentialDecay({ initValue: 0.3, transitionSteps: 4, decayRate: 0.5, transitionBegin: 3 });
  for (let t = 0; t <= 3; t++) assert.equal(exp(t), f32(0.3));
  assert.ok(exp(4) < f32(0.3));
  // (I - E) * 1 + E in float32 need not be float32(I): optax computes the formula even before B.
  const odd = S.linearSchedule({ initValue: 0.1, endValue: 0.01, transitionSteps: 10, transitionBegin: 5 });
  assert.equal(odd(0), f32(f32(0.09) + f32(0.01)));
});

test('far past the end: 1e6 and 2^31-1', () => {
  for (const step of [1e6, INT32_MAX]) {
    assert.equal(S.linearSchedule({ initValue: 1, endValue: 0.01, transitionSteps: 10 })(step), f32(0.01));
    assert.equal(S.polynomialSchedule({ initValue: 1, endValue: 0.01, power: 0.5, transitionSteps: 10 })(step), f32(0.01));
    assert.equal(S.cosineDecaySchedule({ initValue: 2, decaySteps: 10, alpha: 0.1 })(step), f32(f32(2) * f32(f32(0) + f32(0.1))));
    assert.equal(S.cosineDecaySchedule({ initValue: 2, decaySteps: 10, alpha: 0.1, dtype: 'float64' })(step), 0.2);
    assert.equal(S.exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5 })(step), 0);
    assert.equal(S.exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5, endValue: 0.001 })(step), f32(0.001));
    assert.equal(S.exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 2 })(step), Infinity);
    assert.equal(S.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 5, decaySteps: 25, endValue: 0.01 })(step), f32(0.01));
    assert.equal(S.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: { 5: 0.5, 10: 0.1 } })(step), f32(0.05));
    assert.equal(S.linearOnecycleSchedule({ transitionSteps: 30, peakValue: 1 })(step), 0.000003999999989900971);
    assert.equal(S.cosineOnecycleSchedule({ transitionSteps: 30, peakValue: 1, dtype: 'float64' })(step), 0.000004);
    assert.equal(S.sgdrSchedule({ cosineKwargs: [{ initValue: 0, peakValue: 1, warmupSteps: 2, decaySteps: 10, endValue: 0.1 }] })(step), f32(0.1));
  }
});

test('staircase: the exponent is floor((t - B) / T)', () => {
  const s = S.exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: 0.5, staircase: true });
  for (let t = 0; t < 40; t++) assert.equal(s(t), 0.5 ** Math.floor(t / 5), `step ${t}`);
  const begun = S.exponentialDecay({ initValue: 1, transitionSteps: 3, decayRate: 0.5, staircase: true, transitionBegin: 4 });
  assert.deepEqual([0, 4, 5, 6, 7, 9, 10].map(begun), [1, 1, 1, 1, 0.5, 0.5, 0.25]);
});

test('endValue is a floor when decayRate < 1 and a ceiling otherwise', () => {
  const floor = S.exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 0.5, endValue: 0.2 });
  assert.deepEqual([0, 1, 2, 3, 100].map(floor), [1, 0.5, 0.25, f32(0.2), f32(0.2)]);
  const ceiling = S.exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 2, endValue: 5 });
  assert.deepEqual([0, 1, 2, 3, 100].map(ceiling), [1, 2, 4, 5, 5]);
  // decayRate = 1 takes jnp.minimum (optax's `else` branch): the end value caps the constant.
  const one = S.exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 1, endValue: 0.5 });
  assert.equal(one(3), 0.5);
  // An endValue on the wrong side clamps from the start, as in optax.
  const wrong = S.exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 0.5, endValue: 2 });
  assert.equal(wrong(0), 2);
});

test('float32 mode: every array-valued schedule returns float32 values', () => {
  const schedules = [
    S.linearSchedule({ initValue: 0.3, endValue: 0.07, transitionSteps: 17 }),
    S.cosineDecaySchedule({ initValue: 0.3, decaySteps: 17, alpha: 0.07, exponent: 1.3 }),
    S.piecewiseInterpolateSchedule({ interpolateType: 'cosine', initValue: 0.3, boundariesAndScales: { 3: 3.3, 11: 0.07 } }),
    S.warmupExponentialDecaySchedule({ initValue: 0.01, peakValue: 0.3, warmupSteps: 3, transitionSteps: 7, decayRate: 0.9 }),
  ];
  for (const s of schedules) for (let t = -3; t < 40; t++) assert.ok(isF32(s(t)), `step ${t}: ${s(t)}`);
});

test('x64 mode: each schedule computes in the dtype optax does', () => {
  const d = 'float64' as const;
  // float32 even under x64: int32 count / int steps is float32.
  assert.ok(isF32(S.linearSchedule({ initValue: 1, endValue: 0.3, transitionSteps: 7, dtype: d })(3)));
  assert.ok(isF32(S.exponentialDecay({ initValue: 1, transitionSteps: 7, decayRate: 0.3, dtype: d })(3)));
  // weakly typed float64: cosine decay, piecewise constant.
  assert.equal(S.cosineDecaySchedule({ initValue: 1, decaySteps: 20, alpha: 0.1, dtype: d })(10), 0.55);
  assert.equal(S.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: { 5: 0.1 }, dtype: d })(7), 0.1);
  // warmup + cosine under x64: float32 when the warmup is a float32 linear schedule ...
  const warm = S.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 5, decaySteps: 25, dtype: d });
  assert.equal(warm(15), f32(0.5));
  for (let t = 0; t < 30; t++) assert.ok(isF32(warm(t)));
  // ... and float64 without warmup (the warmup is then the Python float init_value).
  const cold = S.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 0, decaySteps: 20, dtype: d });
  assert.equal(cold(5), 0.8535533905932737);
});

test('joinSchedules promotes like jnp.where and calls only the chosen schedule', () => {
  // Two Python floats -> a weakly typed default float: float32(0.1) in 32-bit mode, 0.1 under x64.
  const two = (dtype: 'float32' | 'float64') => S.joinSchedules({
    schedules: [S.constantSchedule({ value: 0.1, dtype }), S.constantSchedule({ value: 0.7, dtype })],
    boundaries: [3],
  });
  assert.deepEqual([0, 3].map(two('float32')), [f32(0.1), f32(0.7)]);
  assert.deepEqual([0, 3].map(two('float64')), [0.1, 0.7]);
  // A single schedule is returned as it is (no where): the Python float stays a double.
  assert.equal(S.joinSchedules({ schedules: [S.constantSchedule({ value: 0.1 })], boundaries: [] })(5), 0.1);
  // Foreign functions are treated as Python floats; only the selected one runs.
  const calls: number[] = [];
  const spy = (v: number) => (t: number) => { calls.push(t); return v; };
  const j = S.joinSchedules({ schedules: [spy(0.25), spy(0.1), spy(0.5)], boundaries: [2, 10] });
  assert.deepEqual([0, 2, 9, 10, 12].map(j), [0.25, f32(0.1), f32(0.1), 0.5, 0.5]);
  assert.deepEqual(calls, [0, 0, 7, 0, 2]);
  // Under x64, a cosine (weak float64) joined after a linear (float32) is rounded to float32.
  const x64 = S.joinSchedules({
    schedules: [S.linearSchedule({ initValue: 0, endValue: 1, transitionSteps: 10, dtype: 'float64' }), S.cosineDecaySchedule({ initValue: 1, decaySteps: 20, alpha: 0.1, dtype: 'float64' })],
    boundaries: [10],
  });
  assert.equal(x64(20), f32(0.55));
});

test('piecewise schedules: record and Map keys, no boundaries, negative steps', () => {
  const rec = S.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: { 10: 0.1, 5: 0.5 } });
  const map = S.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: new Map<number | string, number>([[5, 0.5], ['10', 0.1]]) });
  for (const t of [0, 4, 5, 9, 10, 1000]) assert.equal(rec(t), map(t));
  // No boundaries: constant_schedule-like Python float for piecewise_constant ...
  assert.equal(S.piecewiseConstantSchedule({ initValue: 0.1 })(3), 0.1);
  assert.equal(S.piecewiseConstantSchedule({ initValue: 0.1, boundariesAndScales: {} })(3), 0.1);
  // ... but an array for piecewise_interpolate: (0 <= t) * init, so 0 before step 0.
  const interp = S.piecewiseInterpolateSchedule({ interpolateType: 'linear', initValue: 0.1 });
  assert.equal(interp(3), f32(0.1));
  assert.equal(interp(-1), 0);
  const interp64 = S.piecewiseInterpolateSchedule({ interpolateType: 'cosine', initValue: 0.1, boundariesAndScales: {}, dtype: 'float64' });
  assert.equal(interp64(3), 0.1);
  // A boundary at step 0 is an empty first interval (as linearOnecycle with pctStart 0 has).
  const zero = S.piecewiseInterpolateSchedule({ interpolateType: 'linear', initValue: 1, boundariesAndScales: { 0: 2, 4: 0.5 } });
  assert.deepEqual([0, 2, 4, 9].map(zero), [2, 1.5, 1, 1]);
});

test('int32 step semantics: extremes are accepted, t - B wraps like int32 arithmetic', () => {
  const lin = S.linearSchedule({ initValue: 1, endValue: 0.5, transitionSteps: 10, transitionBegin: 5 });
  assert.equal(lin(-1), 1);
  // optax: count - transition_begin on an int32 count wraps: INT32_MIN - 5 = 2^31 - 5 > 0.
  assert.equal(lin(INT32_MIN), 0.5);
  assert.equal(lin(INT32_MAX), 0.5);
  const cos = S.cosineDecaySchedule({ initValue: 1, decaySteps: 7 });
  assert.ok(Number.isFinite(cos(INT32_MIN)) && Number.isFinite(cos(INT32_MAX)));
});

test('XLA flushes float32 subnormals to zero', () => {
  const s = S.exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 0.5 });
  assert.equal(s(126), 2 ** -126); // the smallest normal float32
  assert.equal(s(127), 0); // 2^-127 is subnormal in float32
  const s64 = S.exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 0.5, dtype: 'float64' });
  assert.equal(s64(127), 0); // still float32 under x64
});

test('onecycle phases', () => {
  const lin = S.linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1, dtype: 'float64' });
  assert.equal(lin(0), 0.04);
  assert.equal(lin(30), 1);
  assert.equal(lin(85), 0.04);
  assert.equal(lin(100), 0.000004000000000000001);
  const cos = S.cosineOnecycleSchedule({ transitionSteps: 100, peakValue: 1, pctStart: 0 });
  assert.equal(cos(0), 1);
});

// The traced evaluation of schedules (src/schedules/arith.ts): each XLA/LLVM rule on its own, then the
// schedules built on them, each against the formula written out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eagerArith, tracedArith } from '../../src/schedules/arith.js';
import { add, cos, div, mul, pow, sub } from '../../src/schedules/float.js';
import { hasTracedForm, mapSchedule, tracedSchedule } from '../../src/schedules/typed.js';
import * as S from '../../src/schedules/index.js';
import { fma32, fma64 } from '../../src/core/fused-multiply-add.js';

const r = Math.fround;
const f32 = 'float32' as const;
const f64 = 'float64' as const;

/** The first `x` in 1..n where `pick` gives different traced and eager results (the rule matters). */
function firstDifference(n: number, differs: (x: number) => boolean): number | undefined {
  for (let x = 1; x <= n; x++) if (differs(x)) return x;
  return undefined;
}

test('A / Const => A * (1 / Const): the reciprocal constant-folded in the dtype (HandleDivide)', () => {
  const c = r(31);
  for (let x = 0; x < 200; x++) assert.equal(tracedArith.divConst(f32, r(x), c), r(r(x) * r(1 / 31)));
  assert.equal(tracedArith.divConst(f64, 10, 3), 10 * (1 / 3));
  // The rule changes bits: some count divided by 31 differs from its product by float32(1/31).
  const x = firstDifference(200, (k) => eagerArith.divConst(f32, r(k), c) !== tracedArith.divConst(f32, r(k), c));
  assert.ok(x !== undefined);
  assert.equal(eagerArith.divConst(f32, r(x), c), r(r(x) / c));
});

test('(k * A) / Const => A * fold(k * (1 / Const)): one folded constant (HandleDivide, HandleMultiply)', () => {
  const pi = r(Math.PI), T = r(27);
  const folded = r(pi * r(1 / T));
  for (let t = 0; t < 100; t++) assert.equal(tracedArith.scaleDivConst(f32, pi, r(t), T), r(r(t) * folded));
  assert.equal(tracedArith.scaleDivConst(f64, Math.PI, 5, 27), 5 * (Math.PI * (1 / 27)));
  const t = firstDifference(100, (k) => eagerArith.scaleDivConst(f32, pi, r(k), T) !== tracedArith.scaleDivConst(f32, pi, r(k), T));
  assert.ok(t !== undefined);
  assert.equal(eagerArith.scaleDivConst(f32, pi, r(t), T), div(f32, mul(f32, pi, r(t)), T));
});

test('1 - A / Const: the product by the reciprocal is contracted into the subtraction, fma(-A, 1/C, 1)', () => {
  const c = r(7);
  for (let x = 0; x < 50; x++) assert.equal(tracedArith.oneMinusDivConst(f32, r(x), c), fma32(-x, r(1 / 7), 1));
  assert.equal(tracedArith.oneMinusDivConst(f64, 3, 7), fma64(-3, 1 / 7, 1));
  // Unfused, the product would round first: some x shows the difference.
  const x = firstDifference(1000, (k) => tracedArith.oneMinusDivConst(f32, r(k), r(1000)) !== sub(f32, 1, mul(f32, r(k), r(1 / 1000))));
  assert.ok(x !== undefined);
});

test('a * b + c with a single-use product: one fused multiply-add (LLVM contraction)', () => {
  const a = r(0.1), b = r(1 / 3), c = r(-0.0333);
  assert.equal(tracedArith.mulAdd(f32, a, b, c), fma32(a, b, c));
  assert.equal(eagerArith.mulAdd(f32, a, b, c), add(f32, mul(f32, a, b), c));
  assert.notEqual(fma32(a, b, c), add(f32, mul(f32, a, b), c)); // this input tells the two apart
  assert.equal(tracedArith.mulAdd(f64, 0.1, 1 / 3, -0.0333), fma64(0.1, 1 / 3, -0.0333));
  // Results are flushed like every XLA:CPU op: a subnormal float32 sum becomes zero.
  assert.equal(tracedArith.mulAdd(f32, 2 ** -70, 2 ** -70, 0), 0);
});

test('pow(A, 0) => 1 and pow(A, 1) => A (HandlePower); any other constant exponent is libm pow', () => {
  for (const x of [r(0.3), 0, r(7.5), NaN]) {
    assert.equal(tracedArith.powConst(f32, x, 0), 1);
    assert.ok(Object.is(tracedArith.powConst(f32, x, 1), x));
  }
  assert.equal(tracedArith.powConst(f32, r(0.3), r(2.5)), pow(f32, r(0.3), r(2.5)));
});

// random_f32/random_2's schedule: the case this traced evaluation was derived for.
const wcd = { initValue: 0, peakValue: 0.022113341469278364, warmupSteps: 4, decaySteps: 31, endValue: 0.0009697155152102945 };

test('warmup cosine decay traced: the linear warmup and the cosine part, each by the rules above', () => {
  const s = S.warmupCosineDecaySchedule(wcd);
  const t = tracedSchedule(s);
  assert.notEqual(t, s);
  const peak = r(wcd.peakValue), W = r(4);
  // warmup: (0 - P) * fma(-c, 1/W, 1) + P, the outer product contracted too.
  for (let c = 0; c < 4; c++) assert.equal(t(c), fma32(r(0 - wcd.peakValue), fma32(-c, r(1 / 4), 1), peak), `count ${c}`);
  assert.equal(W, 4);
  // cosine part: t * fold(pi / T), then fma(1 - alpha, cosine, alpha), times P.
  const T = r(27), alpha = wcd.endValue / wcd.peakValue;
  const folded = r(r(Math.PI) * r(1 / T));
  for (let c = 4; c < 40; c++) {
    const k = Math.min(c - 4, 27);
    const cosine = mul(f32, 0.5, add(f32, 1, cos(f32, r(k * folded))));
    assert.equal(t(c), mul(f32, peak, fma32(r(1 - alpha), cosine, r(alpha))), `count ${c}`);
  }
  // ... and differs from the eager schedule where the vectors showed it (counts 1 and 10).
  assert.notEqual(t(1), s(1));
  assert.notEqual(t(10), s(10));
});

test('cosine decay traced with an exponent other than 1 keeps libm pow; float64 folds in double', () => {
  const s = S.cosineDecaySchedule({ initValue: 2, decaySteps: 20, alpha: 0.1, exponent: 2.5 });
  const folded = r(r(Math.PI) * r(1 / 20));
  const cosine = mul(f32, 0.5, add(f32, 1, cos(f32, r(7 * folded))));
  assert.equal(tracedSchedule(s)(7), mul(f32, 2, fma32(r(0.9), pow(f32, cosine, 2.5), r(0.1))));
  const s64 = S.cosineDecaySchedule({ initValue: 2, decaySteps: 20, alpha: 0.1, dtype: 'float64' });
  const c64 = mul(f64, 0.5, add(f64, 1, cos(f64, 7 * (Math.PI * (1 / 20)))));
  assert.equal(tracedSchedule(s64)(7), mul(f64, 2, fma64(1 - 0.1, c64, 0.1)));
});

test('polynomial traced: integer powers multiply as eagerly, then one fma; exponential: reciprocal of T', () => {
  const p = S.polynomialSchedule({ initValue: 1, endValue: 0.01, power: 2, transitionSteps: 100 });
  for (const c of [0, 1, 33, 99, 100, 150]) {
    const frac = fma32(-Math.min(c, 100), r(1 / 100), 1);
    assert.equal(tracedSchedule(p)(c), fma32(r(1 - 0.01), r(frac * frac), r(0.01)), `count ${c}`);
  }
  const e = S.exponentialDecay({ initValue: 0.5, transitionSteps: 30, decayRate: 0.9 });
  for (const c of [1, 7, 29, 100]) assert.equal(tracedSchedule(e)(c), mul(f32, r(0.5), pow(f32, r(0.9), r(c * r(1 / 30)))), `count ${c}`);
  assert.equal(tracedSchedule(e)(0), r(0.5));
});

test('constant and piecewise-constant: traced values equal the eager ones (0/1 indicators make every product exact)', () => {
  const k = S.constantSchedule({ value: 0.1 });
  assert.equal(tracedSchedule(k)(5), 0.1);
  const pc = S.piecewiseConstantSchedule({ initValue: 0.3, boundariesAndScales: { 10: 0.7, 20: 0.3 } });
  assert.ok(hasTracedForm(pc));
  for (const c of [0, 9, 10, 15, 20, 1000]) assert.equal(tracedSchedule(pc)(c), pc(c));
});

test('schedules whose traced form is not derived yet, and joins of them, evaluate eagerly', () => {
  const pi = S.piecewiseInterpolateSchedule({ interpolateType: 'linear', initValue: 1, boundariesAndScales: { 5: 0.5 } });
  assert.equal(tracedSchedule(pi), pi);
  const joined = S.joinSchedules({ schedules: [S.constantSchedule({ value: 1 }), pi], boundaries: [3] });
  assert.equal(tracedSchedule(joined), joined);
  const foreign = (count: number) => 1 / (count + 1);
  assert.equal(tracedSchedule(foreign), foreign);
});

test('mapSchedule keeps the traced form (scale_by_learning_rate\'s -lr(count))', () => {
  const s = S.warmupCosineDecaySchedule(wcd);
  const neg = mapSchedule(s, (x, count) => -x(count));
  assert.equal(neg(10), -s(10));
  assert.equal(tracedSchedule(neg)(10), -tracedSchedule(s)(10));
  const foreign = mapSchedule((c: number) => c, (x, count) => -x(count));
  assert.equal(tracedSchedule(foreign), foreign);
});

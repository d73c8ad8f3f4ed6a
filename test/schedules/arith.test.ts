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

test('exponential decay staircase traced: floor(x * fold(1/T)) is one step lower than floor(x / T) where 1/T rounds down', () => {
  // float32(1/41) < 1/41, and 41 * float32(1/41) rounds to 0.99999994: the traced exponent is 0 at count 41.
  assert.equal(r(41 * r(1 / 41)), 0.9999999403953552);
  const s = S.exponentialDecay({ initValue: 1, transitionSteps: 41, decayRate: 0.5, staircase: true });
  assert.equal(s(41), 0.5);
  assert.equal(tracedSchedule(s)(41), 1);
  for (const c of [40, 42, 82, 100]) assert.equal(tracedSchedule(s)(c), pow(f32, r(0.5), Math.floor(r(c * r(1 / 41)))), `count ${c}`);
});

test('constant and piecewise-constant: traced values equal the eager ones (0/1 indicators make every product exact)', () => {
  const k = S.constantSchedule({ value: 0.1 });
  assert.equal(tracedSchedule(k)(5), 0.1);
  const pc = S.piecewiseConstantSchedule({ initValue: 0.3, boundariesAndScales: { 10: 0.7, 20: 0.3 } });
  assert.ok(hasTracedForm(pc));
  for (const c of [0, 9, 10, 15, 20, 1000]) assert.equal(tracedSchedule(pc)(c), pc(c));
});

test('a JS function cannot be traced: it runs as written, also inside a traced join', () => {
  const foreign = (count: number) => 1 / (count + 1);
  assert.equal(tracedSchedule(foreign), foreign);
  const joined = S.joinSchedules({ schedules: [S.constantSchedule({ value: 1 }), foreign], boundaries: [3] });
  for (const c of [0, 3, 10]) assert.equal(tracedSchedule(joined)(c), joined(c));
});

test('pow(A, 2), pow(A, 3), pow(A, -1) traced are multiplications and a division (HandlePower)', () => {
  const x = r(0.7071);
  assert.equal(tracedArith.powConst(f32, x, 2), r(x * x));
  assert.equal(tracedArith.powConst(f32, x, 3), r(x * r(x * x)));
  assert.equal(tracedArith.powConst(f32, x, -1), r(1 / x));
  assert.equal(tracedArith.powConst(f64, 0.7071, 3), 0.7071 * (0.7071 * 0.7071));
  // Eagerly the exponent is an argument: libm pow, which differs from the products for some base.
  const k = firstDifference(2000, (i) => pow(f32, r(i / 2001), 3) !== tracedArith.powConst(f32, r(i / 2001), 3));
  assert.ok(k !== undefined);
  // cosine decay with exponent 2 traced squares the cosine factor.
  const s = S.cosineDecaySchedule({ initValue: 1, decaySteps: 20, exponent: 2 });
  const cosine = mul(f32, 0.5, add(f32, 1, cos(f32, r(7 * r(r(Math.PI) * r(1 / 20))))));
  assert.equal(tracedSchedule(s)(7), mul(f32, 1, fma32(1, r(cosine * cosine), 0)));
});

// optax's piecewise_interpolate_schedule traced (docs/numerics.md §4): pct = (count - b_k) * fold(1/size_k);
// linear: (end - start) * pct + start contracted into one fma, the constants folded when both are
// plain constant vectors; cosine: end + fold((start - end) / 2) * (cos(pi * pct) + 1), contracted.
const v32 = (init: number, scales: number[]) => scales.reduce((vs, s) => [...vs, r(vs[vs.length - 1] * r(s))], [r(init)]);

test('linear one-cycle traced (float32): x * fold(1/size * (end - start)), one fma with start', () => {
  const s = S.linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
  const t = tracedSchedule(s);
  assert.notEqual(t, s);
  const [v0, v1, v2, v3] = v32(1 / 25, [25, 1 / 25, 1e-4]);
  const b = [0, 30, 85, 100];
  const v = [v0, v1, v2, v3];
  for (let c = 0; c < 110; c++) {
    const k = c < 30 ? 0 : c < 85 ? 1 : c < 100 ? 2 : 3;
    const expected = k === 3 ? v3 : fma32(c - b[k], r(r(1 / (b[k + 1] - b[k])) * r(v[k + 1] - v[k])), v[k]);
    assert.equal(t(c), expected, `count ${c}`);
  }
  // The vectors' schedule is eager: traced and eager differ, e.g. at count 5.
  assert.notEqual(t(5), s(5));
  assert.equal(s(5), add(f32, mul(f32, r(v1 - v0), r(5 / 30)), v0));
});

test('linear one-cycle traced (float64): the float32 pct converted, so no folding; one float64 fma', () => {
  const s = S.linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1, dtype: 'float64' });
  const v0 = 1 / 25, v1 = v0 * 25;
  for (const c of [3, 5, 17, 29]) assert.equal(tracedSchedule(s)(c), fma64(v1 - v0, r(c * r(1 / 30)), v0), `count ${c}`);
});

test('piecewise linear traced with equal interval sizes: a broadcast 1/size does not fold', () => {
  const s = S.piecewiseInterpolateSchedule({ interpolateType: 'linear', initValue: 0.3, boundariesAndScales: { 10: 3, 20: 0.1 } });
  const [v0, v1, v2] = v32(0.3, [3, 0.1]);
  for (let c = 0; c < 10; c++) assert.equal(tracedSchedule(s)(c), fma32(r(v1 - v0), r(c * r(1 / 10)), v0), `count ${c}`);
  for (let c = 10; c < 20; c++) assert.equal(tracedSchedule(s)(c), fma32(r(v2 - v1), r((c - 10) * r(1 / 10)), v1), `count ${c}`);
  assert.equal(tracedSchedule(s)(25), v2);
});

test('cosine one-cycle traced: pi * (x * fold(1/size)) in float32, then fma(fold((start - end) / 2), c, end)', () => {
  const s = S.cosineOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
  const [v0, v1, v2] = v32(1 / 25, [25, 1 / (25 * 1e4)]);
  const pi = r(Math.PI);
  for (let c = 0; c < 100; c++) {
    const [lo, hi, start, end] = c < 30 ? [0, 30, v0, v1] : [30, 100, v1, v2];
    const cosine = add(f32, cos(f32, r(pi * r((c - lo) * r(1 / (hi - lo))))), 1);
    assert.equal(tracedSchedule(s)(c), fma32(r(start - end) / 2, cosine, end), `count ${c}`);
  }
  assert.notEqual(tracedSchedule(s)(1), s(1));
});

test('piecewise cosine traced with one boundary: pi folds into the reciprocal (a [1] broadcast becomes a constant)', () => {
  const s = S.piecewiseInterpolateSchedule({ interpolateType: 'cosine', initValue: 0.3, boundariesAndScales: { 7: 0.1 } });
  const [v0, v1] = v32(0.3, [0.1]);
  for (let c = 0; c < 7; c++) {
    const cosine = add(f32, cos(f32, r(c * r(r(1 / 7) * r(Math.PI)))), 1);
    assert.equal(tracedSchedule(s)(c), fma32(r(v0 - v1) / 2, cosine, v1), `count ${c}`);
  }
  assert.notEqual(tracedSchedule(s)(5), s(5));
  // A join containing it is traced too.
  const joined = S.joinSchedules({ schedules: [S.constantSchedule({ value: 1 }), s], boundaries: [3] });
  assert.equal(tracedSchedule(joined)(8), tracedSchedule(s)(5));
});

test('mapSchedule keeps the traced form (scale_by_learning_rate\'s -lr(count))', () => {
  const s = S.warmupCosineDecaySchedule(wcd);
  const neg = mapSchedule(s, (x, count) => -x(count));
  assert.equal(neg(10), -s(10));
  assert.equal(tracedSchedule(neg)(10), -tracedSchedule(s)(10));
  const foreign = mapSchedule((c: number) => c, (x, count) => -x(count));
  assert.equal(tracedSchedule(foreign), foreign);
});

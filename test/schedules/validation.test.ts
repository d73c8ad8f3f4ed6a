// Invalid arguments are rejected with an OptaxError naming the argument and the value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as S from '../../src/schedules/index.js';
import { OptaxError } from '../../src/index.js';

const any = (x: unknown) => x as any;

function rejects(fn: () => unknown, _type: 'OptaxError', pattern: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OptaxError, `expected an OptaxError, got ${String(e)}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

test('step counts must be int32 integers', () => {
  const s = S.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10 });
  rejects(() => s(1.5), 'OptaxError', /linearSchedule: the step count must be an int32 integer, got 1\.5/);
  rejects(() => s(NaN), 'OptaxError', /got NaN/);
  rejects(() => s(2 ** 31), 'OptaxError', /got 2147483648/);
  rejects(() => s(-(2 ** 31) - 1), 'OptaxError', /got -2147483649/);
  rejects(() => s(any('3')), 'OptaxError', /must be a number, got string/);
  const j = S.joinSchedules({ schedules: [s, s], boundaries: [3] });
  rejects(() => j(Infinity), 'OptaxError', /joinSchedules: the step count/);
});

test('step arguments: negative, non-integer, beyond int32', () => {
  // (transitionSteps <= 0 and a negative transitionBegin are accepted with a warning, as in optax:
  // see test/core/warnings.test.ts.)
  rejects(() => S.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 2.5 }), 'OptaxError', /transitionSteps must be an integer number of steps, got 2\.5/);
  rejects(() => S.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: NaN }), 'OptaxError', /transitionSteps must be an integer number of steps, got NaN/);
  rejects(() => S.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10, transitionBegin: 2.5 }), 'OptaxError', /transitionBegin .* got 2\.5/);
  rejects(() => S.polynomialSchedule({ initValue: 1, endValue: 0, power: 1, transitionSteps: 2 ** 31 }), 'OptaxError', /transitionSteps .* got 2147483648/);
  rejects(() => S.exponentialDecay({ initValue: 1, transitionSteps: 5.5, decayRate: 0.5 }), 'OptaxError', /exponentialDecay: transitionSteps .* got 5\.5/);
  rejects(() => S.exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: -0.5 }), 'OptaxError', /exponentialDecay: decayRate must be > 0 .* got -0\.5/);
  rejects(() => S.cosineDecaySchedule({ initValue: 1, decaySteps: 0 }), 'OptaxError', /decaySteps must be an integer >= 1, got 0/);
  rejects(() => S.cosineDecaySchedule({ initValue: 1, decaySteps: 1e10 + 0.5 }), 'OptaxError', /decaySteps must be an integer >= 1/);
  rejects(() => S.warmupConstantSchedule({ initValue: 0, peakValue: 1, warmupSteps: 3.5 }), 'OptaxError', /warmupConstantSchedule: warmupSteps .* got 3\.5/);
  rejects(() => S.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 10 }), 'OptaxError', /decaySteps must be > warmupSteps .* decaySteps = 10, warmupSteps = 10/);
  rejects(() => S.warmupExponentialDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 1, transitionSteps: 1.5, decayRate: 0.5 }), 'OptaxError', /warmupExponentialDecaySchedule: exponentialDecay: transitionSteps .* got 1\.5/);
  rejects(() => S.linearOnecycleSchedule({ transitionSteps: 0, peakValue: 1 }), 'OptaxError', /transitionSteps must be an integer in \[1, 2147483647\], got 0/);
  rejects(() => S.cosineOnecycleSchedule({ transitionSteps: -10, peakValue: 1 }), 'OptaxError', /got -10/);
  rejects(() => S.linearSchedule(any({ initValue: 1, endValue: 0 })), 'OptaxError', /transitionSteps must be an integer number of steps, got undefined/);
});

test('values must be finite numbers', () => {
  rejects(() => S.constantSchedule({ value: NaN }), 'OptaxError', /constantSchedule: value must be finite, got NaN/);
  rejects(() => S.linearSchedule({ initValue: Infinity, endValue: 0, transitionSteps: 1 }), 'OptaxError', /initValue must be finite, got Infinity/);
  rejects(() => S.linearSchedule({ initValue: 1, endValue: any('0'), transitionSteps: 1 }), 'OptaxError', /endValue must be a number, got string "0"/);
  rejects(() => S.polynomialSchedule({ initValue: 1, endValue: 0, power: -1, transitionSteps: 1 }), 'OptaxError', /power must be >= 0 .* got -1/);
  rejects(() => S.cosineDecaySchedule({ initValue: 1, decaySteps: 5, alpha: NaN }), 'OptaxError', /alpha must be finite, got NaN/);
  rejects(() => S.cosineDecaySchedule({ initValue: 1, decaySteps: 5, exponent: -2 }), 'OptaxError', /exponent must be >= 0 .* got -2/);
  rejects(() => S.exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: 0.5, endValue: -Infinity }), 'OptaxError', /endValue must be finite, got -Infinity/);
  rejects(() => S.warmupCosineDecaySchedule({ initValue: 0, peakValue: NaN, warmupSteps: 1, decaySteps: 5 }), 'OptaxError', /peakValue must be finite, got NaN/);
});

test('decayRate must not be negative (optax gives NaNs; 0 is a constant with a warning: test/core/warnings.test.ts)', () => {
  rejects(() => S.exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: -0.5 }), 'OptaxError', /decayRate must be > 0 .*, got -0\.5/);
  rejects(() => S.exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: NaN }), 'OptaxError', /decayRate must be finite, got NaN/);
  rejects(() => S.warmupExponentialDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 2, transitionSteps: 5, decayRate: -1 }), 'OptaxError', /decayRate must be > 0 .*, got -1/);
  rejects(() => S.exponentialDecay({ initValue: 1, transitionSteps: 5, decayRate: 0.5, staircase: any('yes') }), 'OptaxError', /staircase must be a boolean, got string "yes"/);
});

test('boundaries: piecewise keys and join boundaries', () => {
  rejects(() => S.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: { '-5': 0.5 } }), 'OptaxError', /boundariesAndScales key "-5" must be an integer in \[0, 2147483647\], got -5/);
  rejects(() => S.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: { '2.5': 0.5 } }), 'OptaxError', /got 2\.5/);
  rejects(() => S.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: { abc: 0.5 } }), 'OptaxError', /key "abc" must be an integer number of steps/);
  rejects(() => S.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: { 5: -0.5 } }), 'OptaxError', /boundariesAndScales\[5\] must be a non-negative scale, got -0\.5/);
  rejects(() => S.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: { 5: NaN } }), 'OptaxError', /boundariesAndScales\[5\] must be finite, got NaN/);
  rejects(() => S.piecewiseInterpolateSchedule({ interpolateType: 'linear', initValue: 1, boundariesAndScales: new Map<number | string, number>([[5, 0.5], ['5', 0.1]]) }), 'OptaxError', /step 5 twice/);
  rejects(() => S.piecewiseInterpolateSchedule({ interpolateType: any('cubic'), initValue: 1 }), 'OptaxError', /interpolateType must be 'linear' or 'cosine', got "cubic"/);
  rejects(() => S.piecewiseInterpolateSchedule({ interpolateType: 'linear', initValue: 1e30, boundariesAndScales: { 2: 1e10 } }), 'OptaxError', /overflows float32/);
  rejects(() => S.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: any([0.5]) }), 'OptaxError', /boundariesAndScales must be an object or a Map/);

  const c = S.constantSchedule({ value: 1 });
  rejects(() => S.joinSchedules({ schedules: [], boundaries: [] }), 'OptaxError', /schedules must not be empty/);
  rejects(() => S.joinSchedules({ schedules: [c, c], boundaries: [] }), 'OptaxError', /boundaries must have schedules\.length - 1 = 1 entries, got 0/);
  rejects(() => S.joinSchedules({ schedules: [c, c, c], boundaries: [5, 5] }), 'OptaxError', /strictly increasing, got boundaries\[0\] = 5 then boundaries\[1\] = 5/);
  rejects(() => S.joinSchedules({ schedules: [c, c], boundaries: [-1] }), 'OptaxError', /boundaries\[0\] .* got -1/);
  rejects(() => S.joinSchedules({ schedules: [c, any(3)], boundaries: [1] }), 'OptaxError', /schedules\[1\] must be a function/);
  rejects(() => S.joinSchedules({ schedules: [c, S.constantSchedule({ value: 1, dtype: 'float64' })], boundaries: [1] }), 'OptaxError', /schedules\[1\] was built with dtype 'float64' but the join is 'float32'/);
});

test('one-cycle fractions', () => {
  rejects(() => S.linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1, pctStart: -0.1 }), 'OptaxError', /pctStart must be in \[0, 1\], got -0\.1/);
  rejects(() => S.linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1, pctFinal: 1.5 }), 'OptaxError', /pctFinal must be in \[0, 1\], got 1\.5/);
  rejects(() => S.linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1, pctStart: 0.9, pctFinal: 0.5 }), 'OptaxError', /pctStart must be <= pctFinal, got pctStart = 0\.9, pctFinal = 0\.5/);
  rejects(() => S.linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1, pctFinal: 1 }), 'OptaxError', /pctFinal \* transitionSteps and transitionSteps both fall on step 100/);
  rejects(() => S.linearOnecycleSchedule({ transitionSteps: 3, peakValue: 1, pctStart: 0.4, pctFinal: 0.5 }), 'OptaxError', /both fall on step 1/);
  rejects(() => S.cosineOnecycleSchedule({ transitionSteps: 100, peakValue: 1, pctStart: 1 }), 'OptaxError', /both fall on step 100/);
  rejects(() => S.cosineOnecycleSchedule({ transitionSteps: 100, peakValue: 1, divFactor: 0 }), 'OptaxError', /divFactor must be > 0, got 0/);
  rejects(() => S.linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1, finalDivFactor: -1 }), 'OptaxError', /finalDivFactor must be > 0, got -1/);
});

test('sgdr and options objects', () => {
  rejects(() => S.sgdrSchedule({ cosineKwargs: [] }), 'OptaxError', /cosineKwargs must not be empty/);
  rejects(() => S.sgdrSchedule({ cosineKwargs: [{ initValue: 0, peakValue: 1, warmupSteps: 0, decaySteps: 5 }, { initValue: 0, peakValue: 1, warmupSteps: 6, decaySteps: 5 }] }), 'OptaxError', /sgdrSchedule: cosineKwargs\[1\]: warmupCosineDecaySchedule: decaySteps must be > warmupSteps/);
  rejects(() => S.sgdrSchedule({ cosineKwargs: [any({ initValue: 0, peakValue: 1, warmupSteps: 0, decaySteps: 5, dtype: 'float64' })] }), 'OptaxError', /cosineKwargs\[0\]: dtype "float64" differs/);
  rejects(() => S.sgdrSchedule({ cosineKwargs: [{ initValue: 0, peakValue: 1, warmupSteps: 0, decaySteps: 2 ** 31 - 1 }, { initValue: 0, peakValue: 1, warmupSteps: 0, decaySteps: 5 }, { initValue: 0, peakValue: 1, warmupSteps: 0, decaySteps: 5 }] }), 'OptaxError', /beyond int32/);
  rejects(() => S.linearSchedule(any(null)), 'OptaxError', /linearSchedule: expected an options object, got null/);
  rejects(() => S.constantSchedule(any(0.1)), 'OptaxError', /expected an options object, got number/);
  rejects(() => S.cosineDecaySchedule({ initValue: 1, decaySteps: 5, dtype: any('float16') }), 'OptaxError', /dtype must be 'float32' or 'float64', got "float16"/);
});

test('errors name the public factory, also when it is built from others', () => {
  const w = S.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 2, decaySteps: 10 });
  rejects(() => w(0.5), 'OptaxError', /^warmupCosineDecaySchedule: the step count/);
  const g = S.sgdrSchedule({ cosineKwargs: [{ initValue: 0, peakValue: 1, warmupSteps: 2, decaySteps: 10 }] });
  rejects(() => g(0.5), 'OptaxError', /^sgdrSchedule: the step count/);
  const o = S.linearOnecycleSchedule({ transitionSteps: 10, peakValue: 1 });
  rejects(() => o(0.5), 'OptaxError', /^linearOnecycleSchedule: the step count/);
  rejects(() => S.linearOnecycleSchedule({ transitionSteps: 10, peakValue: 1e308, divFactor: 1e-10 }), 'OptaxError', /^linearOnecycleSchedule: peakValue \/ divFactor overflows: 1e\+308 \/ 1e-10/);
  const c = S.warmupConstantSchedule({ initValue: 0, peakValue: 1, warmupSteps: 3 });
  rejects(() => c(0.5), 'OptaxError', /^warmupConstantSchedule: the step count/);
});

test('issue 8: an unknown (e.g. misspelt) option is an OptaxError naming it, for every schedule factory', () => {
  const cases: [string, () => unknown][] = [
    ['constantSchedule', () => S.constantSchedule({ value: 1, valeu: 2 } as never)],
    ['linearSchedule', () => S.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10, power: 2 } as never)],
    ['polynomialSchedule', () => S.polynomialSchedule({ initValue: 1, endValue: 0, power: 2, transitionSteps: 10, decaySteps: 3 } as never)],
    ['exponentialDecay', () => S.exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5, decay_rate: 0.1 } as never)],
    ['cosineDecaySchedule', () => S.cosineDecaySchedule({ initValue: 1, decaySteps: 10, transitionSteps: 4 } as never)],
    ['warmupCosineDecaySchedule', () => S.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 2, decaySteps: 10, alpha: 0 } as never)],
    ['warmupConstantSchedule', () => S.warmupConstantSchedule({ initValue: 0, peakValue: 1, warmupSteps: 2, x: 1 } as never)],
    ['warmupExponentialDecaySchedule', () => S.warmupExponentialDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 2, transitionSteps: 5, decayRate: 0.5, x: 1 } as never)],
    ['piecewiseConstantSchedule', () => S.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: {}, x: 1 } as never)],
    ['piecewiseInterpolateSchedule', () => S.piecewiseInterpolateSchedule({ interpolateType: 'linear', initValue: 1, boundariesAndScales: {}, x: 1 } as never)],
    ['joinSchedules', () => S.joinSchedules({ schedules: [S.constantSchedule({ value: 1 })], boundaries: [], x: 1 } as never)],
    ['cosineOnecycleSchedule', () => S.cosineOnecycleSchedule({ transitionSteps: 10, peakValue: 1, pctFinal: 0.9 } as never)],
    ['linearOnecycleSchedule', () => S.linearOnecycleSchedule({ transitionSteps: 10, peakValue: 1, x: 1 } as never)],
    ['sgdrSchedule', () => S.sgdrSchedule({ cosineKwargs: [{ initValue: 0, peakValue: 1, warmupSteps: 1, decaySteps: 5, x: 1 }] } as never)],
  ];
  for (const [name, make] of cases) {
    assert.throws(make, (e: unknown) => e instanceof OptaxError && /unknown option "(valeu|power|decaySteps|decay_rate|transitionSteps|alpha|x|pctFinal)"/.test(e.message), name);
  }
  // linearOnecycleSchedule's own option is not unknown to it.
  assert.equal(typeof S.linearOnecycleSchedule({ transitionSteps: 10, peakValue: 1, pctFinal: 0.9 }), 'function');
});

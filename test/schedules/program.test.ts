// Schedule programs (src/schedules/program.ts): what the fused engine (and the reference path, through
// writeScalars) evaluates at each step must be the schedule's own value, bit for bit, eager and traced,
// for every schedule, joins of schedules and user functions among them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as S from '../../src/schedules/index.js';
import { mapSchedule, tracedSchedule } from '../../src/schedules/typed.js';
import { ScheduleEvaluator, ScheduleProgram } from '../../src/schedules/program.js';
import type { Schedule } from '../../src/core/schedule.js';
import { OptaxError } from '../../src/core/errors.js';

const user: Schedule = (count) => 0.01 / (1 + count); // a user's function: called as it is
const cases = (dtype: 'float32' | 'float64'): Record<string, Schedule> => ({
  constant: S.constantSchedule({ value: 0.1, dtype }),
  linear: S.linearSchedule({ initValue: 1, endValue: 0.1, transitionSteps: 37, transitionBegin: 5, dtype }),
  polynomial: S.polynomialSchedule({ initValue: 1, endValue: 0.01, power: 3, transitionSteps: 41, dtype }),
  polynomialFloatPower: S.polynomialSchedule({ initValue: 1, endValue: 0.01, power: 1.7, transitionSteps: 41, dtype }),
  exponential: S.exponentialDecay({ initValue: 0.5, transitionSteps: 7, decayRate: 0.93, transitionBegin: 3, endValue: 0.05, dtype }),
  exponentialStaircase: S.exponentialDecay({ initValue: 0.5, transitionSteps: 7, decayRate: 1.1, staircase: true, endValue: 2, dtype }),
  cosine: S.cosineDecaySchedule({ initValue: 0.3, decaySteps: 53, alpha: 0.1, exponent: 2, dtype }),
  warmupCosine: S.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 11, decaySteps: 90, endValue: 0.01, dtype }),
  warmupExponential: S.warmupExponentialDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 9, transitionSteps: 13, decayRate: 0.8, endValue: 0.05, dtype }),
  warmupConstant: S.warmupConstantSchedule({ initValue: 0, peakValue: 0.7, warmupSteps: 19, dtype }),
  piecewiseConstant: S.piecewiseConstantSchedule({ initValue: 1, boundariesAndScales: { 10: 0.5, 30: 0.1, 60: 3 }, dtype }),
  piecewiseLinear: S.piecewiseInterpolateSchedule({ interpolateType: 'linear', initValue: 1, boundariesAndScales: { 10: 0.5, 30: 0.1, 60: 3 }, dtype }),
  piecewiseCosine: S.piecewiseInterpolateSchedule({ interpolateType: 'cosine', initValue: 1, boundariesAndScales: { 10: 0.5, 30: 0.1, 60: 3 }, dtype }),
  linearOnecycle: S.linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1, dtype }),
  cosineOnecycle: S.cosineOnecycleSchedule({ transitionSteps: 100, peakValue: 1, dtype }),
  sgdr: S.sgdrSchedule({ cosineKwargs: [{ initValue: 0, peakValue: 1, warmupSteps: 5, decaySteps: 30 }, { initValue: 0, peakValue: 0.5, warmupSteps: 5, decaySteps: 40 }].map((o) => ({ ...o, dtype })), dtype }),
  join: S.joinSchedules({ schedules: [S.linearSchedule({ initValue: 0, endValue: 1, transitionSteps: 20, dtype }), user, S.cosineDecaySchedule({ initValue: 1, decaySteps: 50, dtype })], boundaries: [20, 40] }),
  user,
  mapped: mapSchedule(S.exponentialDecay({ initValue: 0.5, transitionSteps: 7, decayRate: 0.93, dtype }), (s, c) => -s(c), (v, a) => a.neg(v)),
});

const counts = [...Array.from({ length: 160 }, (_, i) => i), 1000, 12345, 2 ** 24 + 1, 2 ** 31 - 1, -1, -7, -(2 ** 31)];
const out = new Float64Array(3);

for (const dtype of ['float32', 'float64'] as const) {
  for (const [name, schedule] of Object.entries(cases(dtype))) {
    for (const traced of [false, true]) {
      test(`the program of ${name} (${dtype}${traced ? ', traced' : ''}) gives the schedule's value at every count`, () => {
        const program = ScheduleProgram.compile(schedule, traced);
        assert.ok(program, 'the schedule compiles to a program');
        const reference = traced ? tracedSchedule(schedule) : schedule;
        for (const count of counts) {
          out[1] = NaN;
          assert.ok(program.writeInto(out, 1, count));
          assert.ok(Object.is(out[1], reference(count)), `count ${count}: ${out[1]} !== ${reference(count)}`);
        }
      });
    }
  }
}

test('a user function in a join is called only in its own interval, and a bad value gets the schedule\'s own error', () => {
  const calls: number[] = [];
  const bad: Schedule = (count) => { calls.push(count); return (count > 3 ? 'oops' : 0.5) as unknown as number; };
  const joined = S.joinSchedules({ schedules: [S.constantSchedule({ value: 1 }), bad], boundaries: [10] });
  const evaluator = new ScheduleEvaluator('scale_by_schedule', joined);
  for (let c = 0; c < 12; c++) { evaluator.writeInto(out, 0, c, false); assert.equal(out[0], joined(c)); }
  assert.deepEqual(calls.filter((_, i) => i % 2 === 0), [0, 1]); // each call twice: the program's, then joined(c)'s
  assert.throws(() => evaluator.writeInto(out, 0, 14, false), (e: unknown) => e instanceof OptaxError && /schedules\[1\] returned string/.test((e as Error).message));
});

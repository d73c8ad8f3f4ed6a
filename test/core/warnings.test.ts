// optax's "log and carry on" cases (its own tests: polynomial/exponential `test_zero_steps_schedule`,
// `test_nonvalid_transition_steps`, `test_nonvalid_decay_rate`): the constant schedule optax returns,
// and a warning through the overridable channel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as S from '../../src/schedules/index.js';
import { type OptaxWarning, setWarningHandler } from '../../src/index.js';

/** Runs `fn` with warnings collected; restores the previous handler. */
function collect<T>(fn: () => T): [T, OptaxWarning[]] {
  const seen: OptaxWarning[] = [];
  const previous = setWarningHandler((w) => seen.push(w));
  try {
    return [fn(), seen];
  } finally {
    setWarningHandler(previous);
  }
}

test('polynomial and linear schedules with transition_steps <= 0: init_value at every count, one warning each', () => {
  for (const steps of [-1, 0, -2.5, -1e12]) {
    for (const dtype of ['float32', 'float64'] as const) {
      const [s, w] = collect(() => S.polynomialSchedule({ initValue: 10, endValue: 20, power: 1, transitionSteps: steps, dtype }));
      assert.deepEqual(w, [{ source: 'polynomial_schedule', message: `transitionSteps is ${steps} (<= 0): the schedule is the constant initValue (10)` }]);
      for (let count = 0; count < 15; count++) assert.equal(s(count), 10);
      const [lin, w2] = collect(() => S.linearSchedule({ initValue: 0.1, endValue: 1, transitionSteps: steps, transitionBegin: -4, dtype }));
      // optax returns before looking at transition_begin: one warning, and 0.1 unrounded.
      assert.equal(w2.length, 1);
      assert.equal(w2[0].source, 'linear_schedule');
      assert.equal(lin(7), 0.1);
    }
  }
});

test('a negative transition_begin falls back to 0, with a warning', () => {
  const [s, w] = collect(() => S.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 4, transitionBegin: -3 }));
  assert.deepEqual(w.map((x) => x.message), ['transitionBegin is -3 (< 0): it falls back to 0']);
  const ref = S.linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 4 });
  for (let count = -2; count < 8; count++) assert.equal(s(count), ref(count));
  const [e, we] = collect(() => S.exponentialDecay({ initValue: 1, transitionSteps: 2, decayRate: 0.5, transitionBegin: -1 }));
  assert.equal(we.length, 1);
  assert.equal(e(4), 0.25);
});

test('exponential decay with transition_steps <= 0 or decay_rate == 0: init_value, with a warning', () => {
  for (const staircase of [false, true]) {
    for (const steps of [-1, 0]) {
      const [s, w] = collect(() => S.exponentialDecay({ initValue: 1, transitionSteps: steps, decayRate: 1, staircase }));
      assert.equal(w.length, 1);
      assert.match(w[0].message, /transitionSteps is -?\d+ \(<= 0\)/);
      for (let count = 0; count < 15; count++) assert.equal(s(count), 1);
    }
    for (const rate of [0, -0]) {
      const [s, w] = collect(() => S.exponentialDecay({ initValue: 0.3, transitionSteps: 2, decayRate: rate, staircase, endValue: 5 }));
      assert.deepEqual(w, [{ source: 'exponential_decay', message: 'decayRate is 0: the schedule is the constant initValue (0.3)' }]);
      for (let count = 0; count < 15; count++) assert.equal(s(count), 0.3); // the Python float, unrounded
    }
  }
  // Through the warmup variant: the decay part is constant at peakValue.
  const [wx, w] = collect(() => S.warmupExponentialDecaySchedule({ initValue: 0, peakValue: 0.5, warmupSteps: 2, transitionSteps: 3, decayRate: 0 }));
  assert.equal(w.length, 1);
  assert.equal(wx(1), 0.25);
  assert.equal(wx(50), 0.5);
});

test('warmup schedules with warmupSteps 0 do not warn (it is their "no warmup"); warmupConstantSchedule does (initValue forever)', () => {
  const [, w1] = collect(() => S.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 0, decaySteps: 10 }));
  const [, w2] = collect(() => S.warmupExponentialDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 0, transitionSteps: 3, decayRate: 0.5 }));
  const [, w3] = collect(() => S.sgdrSchedule({ cosineKwargs: [{ initValue: 0, peakValue: 1, warmupSteps: 0, decaySteps: 5 }] }));
  assert.deepEqual([...w1, ...w2, ...w3], []);
  const [c, w4] = collect(() => S.warmupConstantSchedule({ initValue: 0.5, peakValue: 1, warmupSteps: 0 }));
  assert.equal(c(100), 0.5);
  assert.deepEqual(w4.map((x) => x.message), ['warmupSteps is 0 (<= 0): the schedule is the constant initValue (0.5)']);
});

test('cosine decay with decay_steps beyond int32 (optax test_with_giant_int_steps)', () => {
  const s = S.cosineDecaySchedule({ initValue: 1000, decaySteps: 1e10, alpha: 0, exponent: 1 });
  // optax: assert_allclose(output, 975.52826) (rtol 1e-7). The float32 operations, one by one:
  const f = Math.fround;
  const t = f(f(f(Math.PI) * 1e9) / f(1e10));
  const expected = f(f(1000) * f(f(f(1 - 0) * f(0.5 * f(1 + f(Math.cos(t))))) + 0));
  assert.equal(s(1e9), expected);
  assert.ok(Math.abs(s(1e9) - 975.52826) <= 1e-7 * 975.52826);
  assert.equal(s(2147483647), f(1000 * f(0.5 * f(1 + f(Math.cos(f(f(f(Math.PI) * f(2147483647)) / f(1e10))))))));
  const x64 = S.cosineDecaySchedule({ initValue: 1000, decaySteps: 1e10, dtype: 'float64' });
  assert.ok(Math.abs(x64(1e9) - 975.5282581475768) < 1e-9);
  // The warmup variant takes a long decay too (its cosine part's length is a float in optax).
  const w = S.warmupCosineDecaySchedule({ initValue: 0, peakValue: 1000, warmupSteps: 1, decaySteps: 1e10 + 1 });
  assert.equal(w(1e9 + 1), s(1e9));
});

test('setWarningHandler: returns the previous handler, null restores the default, a throwing handler turns warnings into errors', () => {
  const mine = () => {};
  const original = setWarningHandler(mine);
  assert.equal(setWarningHandler(null), mine);
  // null installed the default, which is the handler the process started with.
  assert.equal(setWarningHandler(original), original);
  const previous = setWarningHandler((w) => { throw new Error(`refused: ${w.message}`); });
  try {
    assert.throws(() => S.exponentialDecay({ initValue: 1, transitionSteps: 0, decayRate: 0.5 }), /refused: transitionSteps is 0/);
  } finally {
    setWarningHandler(previous);
  }
  assert.throws(() => setWarningHandler('loud' as never), /expected a function or null, got string/);
});

test('the default handler writes one line to console.warn (stderr in Node)', () => {
  const code = `import { polynomialSchedule } from './src/index.ts'; polynomialSchedule({ initValue: 1, endValue: 0, power: 1, transitionSteps: 0 });`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', cwd: new URL('../../', import.meta.url).pathname });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, '');
  assert.equal(run.stderr, 'optax-ts: polynomial_schedule: transitionSteps is 0 (<= 0): the schedule is the constant initValue (1)\n');
});

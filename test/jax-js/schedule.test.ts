import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import { OptaxError, cosineDecaySchedule, linearSchedule, polynomialSchedule, scaleByAdamax } from '../../src/index.js';
import { toJaxJsSchedule } from '../../src/jax-js/index.js';
import { ArithAnchors, JaxScheduleArith } from '../../src/jax-js/schedule-arith.js';
import { type CompiledElementwise, definitionScalars } from '../../src/kernel/elementwise.js';
import { SCHEDULES } from './schedule-families.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

/** Counts 0..n and large ones: past every table a previous version kept, float32's 2^24, and int32's end. */
function counts(n: number): Int32Array<ArrayBuffer> {
  const big = [99_999, 100_000, 1_000_000, 16_777_216, 16_777_217, 123_456_789, 2 ** 31 - 2, 2 ** 31 - 1];
  return Int32Array.from([...Array.from({ length: n + 1 }, (_, i) => i), ...big]);
}

test('every schedule family, jitted on jax-js\'s wasm device, equals the schedule itself at every count 0..3000 and at large counts', async () => {
  const cs = counts(3000);
  for (const [name, schedule] of Object.entries(SCHEDULES)) {
    const lr = toJaxJsSchedule(schedule);
    const out = jax.jit(lr)(np.array(cs));
    const got = Array.from(await out.data());
    const dtype = out.dtype;
    const want = Array.from(cs, (c) => (dtype === 'float32' ? Math.fround(schedule(c)) : schedule(c)));
    const bad = want.flatMap((w, i) => (Object.is(w, got[i]) ? [] : [`count ${cs[i]}: ${got[i]} instead of ${w}`]));
    assert.deepEqual(bad, [], name);
    lr.dispose();
  }
});

test('eagerly too (no jit), on a few counts, scalar counts included', async () => {
  for (const name of ['warmupCosine', 'exponentialStaircase', 'piecewiseCosine', 'sgdr']) {
    const schedule = SCHEDULES[name];
    const lr = toJaxJsSchedule(schedule);
    for (const c of [0, 1, 99, 100, 101, 1234, 1_000_000]) {
      const count = np.array(c, { dtype: np.int32 });
      const v = (await lr(count).data())[0];
      assert.equal(v, Math.fround(schedule(c)), `${name} at ${c}`);
    }
    lr.dispose();
  }
});

test('what toJaxJsSchedule cannot lower is an OptaxError naming it', () => {
  assert.throws(() => toJaxJsSchedule((c: number) => 1 / (c + 1)), (e: unknown) => e instanceof OptaxError && /did not build/.test(e.message));
  assert.throws(() => toJaxJsSchedule(cosineDecaySchedule({ initValue: 1, decaySteps: 10, dtype: 'float64' })), (e: unknown) => e instanceof OptaxError && /float64 \(x64\) cosine/.test(e.message));
  assert.throws(() => toJaxJsSchedule(polynomialSchedule({ initValue: 1, endValue: 0, power: 2.5, transitionSteps: 10 })), (e: unknown) => e instanceof OptaxError && /base that changes with the step/.test(e.message));
  const lr = toJaxJsSchedule(linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10 }));
  assert.throws(() => lr(np.array(new Float32Array([1, 2]))), OptaxError);
  lr.dispose();
});

test("adamax's bias correction 1 - b1^t evaluated in the graph (jitted) equals the pure path's at every count 0..20000 and at large counts", async () => {
  const cs = counts(20000);
  const anchors = new ArithAnchors();
  for (const b1 of [0.9, 0.99, 0.999, 0.9999, 0.5, 0.1, 0]) {
    const def = scaleByAdamax({ b1 }).elementwise as CompiledElementwise<any>;
    const f = jax.jit((count: jax.numpy.Array) => {
      const arith = new JaxScheduleArith('test', anchors);
      const bias = def.countScalars!(arith.input(count), 'float32', arith).bias;
      count.dispose();
      return arith.finish(bias, 'float32');
    });
    const got = Array.from(await f(np.array(cs)).data());
    const bad = Array.from(cs).flatMap((c, i) => {
      const want = definitionScalars(def, { count: c }, 'float32', undefined).bias as number;
      return Object.is(want, got[i]) ? [] : [`count ${c}: ${got[i]} instead of ${want}`];
    });
    assert.deepEqual(bad, [], `b1 = ${b1}`);
  }
  anchors.dispose();
});

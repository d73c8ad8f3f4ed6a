import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import { OptaxError, cosineDecaySchedule, linearSchedule, scaleByAdamax } from '../../src/index.js';
import { eagerArith } from '../../src/schedules/arith.js';
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
  // Each eager evaluation traces and compiles its ops anew (jax-js's cost, per call): the counts go
  // through once as an array and once as a scalar (a different shape, so different kernels).
  const cs = [0, 1, 99, 100, 101, 1234, 1_000_000];
  for (const name of ['warmupCosine', 'exponentialStaircase', 'piecewiseCosine', 'sgdr']) {
    const schedule = SCHEDULES[name];
    const lr = toJaxJsSchedule(schedule);
    const got = Array.from(await lr(np.array(Int32Array.from(cs))).data());
    assert.deepEqual(got, cs.map((c) => Math.fround(schedule(c))), name);
    const c = cs[5];
    const v = (await lr(np.array(c, { dtype: np.int32 })).data())[0];
    assert.equal(v, Math.fround(schedule(c)), `${name} at the scalar count ${c}`);
    lr.dispose();
  }
});

test('what toJaxJsSchedule cannot lower is an OptaxError naming it', () => {
  assert.throws(() => toJaxJsSchedule((c: number) => 1 / (c + 1)), (e: unknown) => e instanceof OptaxError && /did not build/.test(e.message));
  assert.throws(() => toJaxJsSchedule(cosineDecaySchedule({ initValue: 1, decaySteps: 10, dtype: 'float64' })), (e: unknown) => e instanceof OptaxError && /float64 \(x64\) cosine/.test(e.message));
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

test('powf with a base that changes with the step (x ** y, x an array in the graph): the pure path\'s powf over random float32 bases and special values, jitted and eagerly', async () => {
  const anchors = new ArithAnchors();
  const bits = new DataView(new ArrayBuffer(4));
  let seed = 3;
  const next = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed; };
  const n = 20000;
  const xs = new Float32Array(n);
  // A quarter any bit pattern, the rest in [2^-3, 4) (the bases schedules reach: 1 - count/steps, a cosine factor).
  for (let i = 0; i < n; i++) { bits.setUint32(0, i % 4 === 0 ? next() : (next() & 0x3fffffff) | 0x3e000000); xs[i] = bits.getFloat32(0); }
  xs.set([0, -0, Infinity, -Infinity, NaN, 1, -1, 2 ** -149, -(2 ** -130), -2, 0.5, 3.4e38, 2 ** -126]);
  for (const y of [2.5, 0.5, 3, -1.5, 1.7, 2, -3, 1e-3, 100.5, -0.5]) {
    const f = (x: jax.numpy.Array, count: jax.numpy.Array) => {
      const arith = new JaxScheduleArith('test', anchors);
      arith.input(count);
      const value = arith.pow('float32', x, y);
      x.dispose();
      count.dispose();
      return arith.finish(value, 'float32');
    };
    for (const g of [f, jax.jit(f)]) {
      const got = await g(np.array(xs), np.array(0, { dtype: np.int32 })).data();
      const bad = Array.from(xs).flatMap((x, i) => {
        const want = eagerArith.pow('float32', x, y);
        return Object.is(want, got[i]) ? [] : [`${Object.is(x, -0) ? '-0' : x} ** ${y}: ${got[i]} instead of ${want}`];
      });
      assert.deepEqual(bad.slice(0, 5), [], `y = ${y}: ${bad.length} mismatches`);
    }
  }
  anchors.dispose();
});

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import fc from 'fast-check';
import {
  OptaxError, ShapedArray, adamax, adamaxw, chain, clip, clipByGlobalNorm, cosineDecaySchedule, ema, linearSchedule, scale, scaleByAdamax, warmupCosineDecaySchedule,
} from '../../src/index.js';
import { toJaxJs } from '../../src/jax-js/index.js';
import { float64Array } from '../../src/jax-js/constants.js';
import { divide64 } from '../../src/jax-js/float64-division.js';
import { KernelAnchors } from '../../src/jax-js/constants.js';
import { runBoth } from './helpers.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

const X64 = { a: 'float64', b: 'float64', c: 'float64', d: 'float64', e: 'float64' } as const;

test('float64 leaves (x64): adamax, adamaxw with float64 schedules, ema, clip: bit-identical to the pure path, jitted and eagerly', async () => {
  const txs = {
    adamax: () => adamax(0.05),
    adamaxB1: () => chain(scaleByAdamax({ b1: 0.99, b2: 0.9, eps: 1e-300 }), scale(-0.01)),
    adamaxwLinear: () => adamaxw(linearSchedule({ initValue: 0.1, endValue: 0.01, transitionSteps: 7, dtype: 'float64' }), { weightDecay: 0.01 }),
    adamaxWarmupCosine: () => adamax(warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 10, dtype: 'float64' })),
    emaClip: () => chain(clip(0.7), ema(0.95), scale(0.3), scale(0.7)),
  };
  for (const [name, make] of Object.entries(txs)) {
    for (const jit of [true, false]) {
      const r = await runBoth(make(), 16, 41, { jit, dtypes: X64, shapes: jit ? undefined : { a: [3, 5], d: [17], e: [2, 2, 3] } });
      assert.deepEqual(r.jax, r.pure, `${name} jit=${jit}`);
    }
  }
});

test('a tree mixing float32 and float64 leaves: each leaf with its dtype\'s scalars, bit-identical', async () => {
  const r = await runBoth(adamaxw(cosineDecaySchedule({ initValue: 0.1, decaySteps: 9 }), { weightDecay: 0.02 }), 12, 42, { dtypes: { a: 'float64', d: 'float64' } });
  assert.deepEqual(r.jax, r.pure);
});

test('float64 array hyperparameters and random float64 trees (fast-check): bit-identical, jitted', async () => {
  await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 1e6 }), fc.double({ min: 0.5, max: 0.999, noNaN: true }), async (n, seed, b1) => {
    const eps = new ShapedArray(Float64Array.from({ length: n }, (_, i) => 10 ** -(i + 3)), [n]);
    const r = await runBoth(adamax(0.03, { b1, eps }), 8, seed, { dtypes: { p: 'float64', q: 'float64' }, shapes: { p: [n], q: [2, n] } });
    assert.deepEqual(r.jax, r.pure);
  }), { numRuns: 10 });
});

test('float64 division: the IEEE quotient over random operands in [2^-900, 2^900], jitted and eagerly', async () => {
  const anchors = new KernelAnchors();
  const dv = new DataView(new ArrayBuffer(8));
  let seed = 7;
  const next = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed; };
  const rnd = () => {
    for (;;) {
      dv.setUint32(0, next()); dv.setUint32(4, next());
      const v = dv.getFloat64(0);
      if (Math.abs(v) >= 2 ** -440 && Math.abs(v) <= 2 ** 440) return v;
    }
  };
  const n = 20000;
  const xs = Array.from({ length: n }, rnd), ys = Array.from({ length: n }, rnd);
  // Quotients next to a rounding boundary: x = (q + ulp/2 +- tiny) * y.
  for (let i = 0; i < 2000; i++) { const y = 1 + i * 2 ** -40; xs[i] = (1 + 2 ** -53) * y; ys[i] = y; }
  const X = float64Array(xs), Y = float64Array(ys);
  const div = (a: any, b: any) => { const q = divide64(a, b, (c) => anchors.literal('float64', c)); a.dispose(); b.dispose(); return q; };
  for (const f of [div, jax.jit(div)]) {
    const got = await f(X.ref, Y.ref).data();
    const bad = xs.flatMap((x, i) => (Object.is(got[i], x / ys[i]) ? [] : [i]));
    assert.deepEqual(bad, []);
  }
  X.dispose(); Y.dispose(); anchors.dispose();
});

test('float64 leaves: clipByGlobalNorm refuses them clearly; a float64 schedule that never settles and is not lowered is an OptaxError', () => {
  const opt = toJaxJs(clipByGlobalNorm(1));
  assert.throws(() => opt.init({ w: np.zeros([2]).astype(np.float64) }), (e: unknown) => e instanceof OptaxError && /float32 leaves only/.test(e.message));
});

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import fc from 'fast-check';
import {
  OptaxError, ShapedArray, adamax, adamaxw, applyIfFinite, chain, clip, clipByGlobalNorm, cosineDecaySchedule, ema, linearSchedule, multiSteps, scale, scaleByAdamax, skipLargeUpdates, warmupCosineDecaySchedule,
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

// Steps 3 and 4 NaN, 5 an infinity, 9 NaN (apply_if_finite skips, gives up, resets).
const poison = (i: number): number | undefined => (i === 3 || i === 4 || i === 9 ? NaN : i === 5 ? -Infinity : undefined);
const MIXED = { a: 'float64', d: 'float64' } as const;

test('clipByGlobalNorm on float64 leaves and on trees mixing float32 and float64 (the norm promoted to float64 from the first float64 sum): bit-identical, clipped and not, jitted and eagerly', async () => {
  for (const [dtypes, label] of [[X64, 'x64'], [MIXED, 'mixed']] as const) {
    // Gradients of norm around 10: a max norm of 1 clips every step, 100 none.
    for (const maxNorm of [1, 100]) {
      const r = await runBoth(chain(clipByGlobalNorm(maxNorm), adamax(0.05)), 8, 43, { dtypes, recordUpdates: true, shapes: { a: [3, 5], b: [], c: [1], d: [40], e: [2, 2, 3] } });
      assert.deepEqual(r.jax, r.pure, `${label} maxNorm ${maxNorm}`);
    }
  }
  const eager = await runBoth(clipByGlobalNorm(2), 4, 44, { jit: false, dtypes: MIXED, recordUpdates: true, shapes: { a: [3, 5], d: [17], e: [2, 2, 3] } });
  assert.deepEqual(eager.jax, eager.pure);
});

test('applyIfFinite on float64 leaves (its traced inner step\'s fused multiply-adds in float64, from float64 ops): bit-identical with NaN and infinite steps, jitted and eagerly, float64 schedules and mixed trees', async () => {
  const schedule = linearSchedule({ initValue: 0.1, endValue: 0.01, transitionSteps: 7, dtype: 'float64' });
  for (const [label, tx, dtypes] of [
    ['adamax', applyIfFinite(adamax(0.05), { maxConsecutiveErrors: 1 }), X64],
    ['adamaxw linear', applyIfFinite(adamaxw(schedule, { weightDecay: 0.01 }), { maxConsecutiveErrors: 2 }), X64],
    // A float64 cosine is not lowered to the graph: its traced values are read from a table.
    ['adamax warmup-cosine, mixed', applyIfFinite(adamax(warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 10, dtype: 'float64' })), { maxConsecutiveErrors: 0 }), MIXED],
  ] as const) {
    const r = await runBoth(tx, 14, 45, { dtypes, poison, recordUpdates: true });
    assert.deepEqual(r.jax, r.pure, label);
  }
  const eager = await runBoth(applyIfFinite(adamax(0.05, { b1: 0.8 }), { maxConsecutiveErrors: 1 }), 8, 46, { jit: false, dtypes: X64, poison, shapes: { a: [3, 5], d: [17], e: [2, 2, 3] } });
  assert.deepEqual(eager.jax, eager.pure);
});

test('multiSteps on float64 leaves: the float32 accumulator (optax\'s default), a float64 one, each leaf\'s dtype, skipLargeUpdates in float64: updates, zeros\' signs, params and state bit-identical', async () => {
  for (const [label, tx, dtypes] of [
    ['default accumulator', multiSteps(adamax(0.05), { everyKSchedule: 3 }), X64],
    ['accumulator null', multiSteps(adamax(0.05), { everyKSchedule: 2, accumulatorDtype: null }), X64],
    ['float64 accumulator, mixed leaves', multiSteps(adamaxw(0.02, { weightDecay: 0.1 }), { everyKSchedule: 3, accumulatorDtype: 'float64' }), MIXED],
    ['sum, float32 leaves, float64 accumulator', multiSteps(adamax(0.01), { everyKSchedule: 2, useGradMean: false, accumulatorDtype: 'float64' }), {}],
  ] as const) {
    const r = await runBoth(tx, 9, 47, { dtypes, recordUpdates: true });
    assert.deepEqual(r.jax, r.pure, label);
  }
  const large = await runBoth(multiSteps(adamax(0.05), { everyKSchedule: 2, shouldSkipUpdateFn: skipLargeUpdates(60) }), 12, 71, { dtypes: MIXED, recordUpdates: true });
  const skipState = (large.jax.state as { skip_state: { norm_squared: number[] | number } }).skip_state;
  skipState.norm_squared = (skipState.norm_squared as number[])[0];
  assert.deepEqual(large.jax, large.pure);
  const skipped = (large.pure.updates as Record<string, number[]>[]).filter((u) => Object.values(u).every((l) => l.every((x) => Object.is(x, 0)))).length;
  assert.ok(skipped > 0 && skipped < 12, `${skipped} of 12 mini-steps skipped`);
});

test('float64 leaves: a state whose accumulator is not of accumulatorDtype is an OptaxError naming it', () => {
  const opt = toJaxJs(multiSteps(adamax(0.1), { everyKSchedule: 2 }));
  const params = { w: np.zeros([3]).astype(np.float64) };
  const state = opt.init(jax.tree.ref(params));
  assert.equal(state.acc_grads.w.dtype, 'float32');
  assert.throws(() => opt.update({ w: np.ones([3]).astype(np.float64) }, { ...state, acc_grads: { w: np.zeros([3]).astype(np.float64) } }, jax.tree.ref(params)), (e: unknown) => e instanceof OptaxError && /acc_grads does not match grads: float64\[3\] vs float32\[3\]/.test(e.message));
});

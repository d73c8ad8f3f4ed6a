import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import {
  OptaxError, ShapedArray, adamax, adamaxw, ema, injectHyperparams, applyUpdates as pureApply, chain, clipByGlobalNorm,
  clip, cosineDecaySchedule, linearSchedule, scale, scaleByAdamax, scaleByLearningRate, exponentialDecay, sgdrSchedule, warmupCosineDecaySchedule,
  type GradientTransformation,
} from '../../src/index.js';
import { applyUpdates, toJaxJs, type JaxArray } from '../../src/jax-js/index.js';
import { fromJax, maxRelDiff, pureValues, randomTree, rng, runBoth, toJax } from './helpers.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

test('adamax with a constant learning rate: bit-identical to the pure path over random trees, 20 steps, jitted', async () => {
  for (const seed of [1, 2, 3]) {
    const r = await runBoth(adamax(0.05), 20, seed);
    assert.deepEqual(r.jax, r.pure, `seed ${seed}`);
  }
});

test("constants stay apart: chain(scale(0.3), scale(0.7), scale(1.1)) rounds after each scale, as optax (jax-js's simplifier would refold (x * c1) * c2 into x * (c1 * c2)), jitted and eagerly", async () => {
  // Without the anchors (constants.ts) 393 of 1,000 of these float32 updates differed from optax's.
  for (const jit of [true, false]) {
    const r = await runBoth(chain(scale(0.3), scale(0.7), scale(1.1)), 2, 33, { jit, shapes: { w: [1000] }, recordUpdates: true });
    assert.deepEqual(r.jax, r.pure, jit ? 'jitted' : 'eagerly');
  }
});

test('eagerly (no jit): bit-identical on leaves of two or more elements; jax-js evaluates one-element arrays in double precision', async () => {
  const r = await runBoth(adamax(0.05), 20, 4, { jit: false, shapes: { a: [3, 5], d: [17], e: [2, 2, 3] } });
  assert.deepEqual(r.jax, r.pure);
  // jax-js 0.1.25 computes eager ops on one-element arrays without rounding each to float32, so those
  // leaves drift by a few ulps from the pure path (and from the jitted step, which is exact).
  const tiny = await runBoth(adamax(0.05), 20, 4, { jit: false, shapes: { b: [], c: [1] } });
  const diff = maxRelDiff(tiny.jax.params, tiny.pure.params);
  assert.ok(diff < 1e-5, `max relative difference ${diff}`);
  if (process.env.OPTAX_TS_REPORT) console.log(`# max relative difference ${diff}`);
});

test('adamax on a one-leaf tree (where XLA multiplies by the reciprocal of the bias correction): bit-identical', async () => {
  const r = await runBoth(adamax(0.01, { b1: 0.8 }), 20, 7, { shapes: { w: [4, 8] } });
  assert.deepEqual(r.jax, r.pure);
});

test('adamaxw with a warmup cosine schedule: bit-identical across warmup, decay and the end of the schedule', async () => {
  const schedule = warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 5, decaySteps: 20, endValue: 0.001 });
  const r = await runBoth(adamaxw(schedule, { weightDecay: 0.01 }), 30, 11);
  assert.deepEqual(r.jax, r.pure);
});

test('scaleByLearningRate with linear and cosine schedules, and b1 = 0.99 (a longer bias table): bit-identical', async () => {
  const tx = chain(scaleByAdamax({ b1: 0.99, b2: 0.9 }), scaleByLearningRate(linearSchedule({ initValue: 0.1, endValue: 0.01, transitionSteps: 10, transitionBegin: 3 })));
  const r = await runBoth(tx, 20, 5);
  assert.deepEqual(r.jax, r.pure);
  const r3 = await runBoth(adamax(sgdrSchedule({ cosineKwargs: [{ initValue: 0, peakValue: 0.1, warmupSteps: 2, decaySteps: 6 }, { initValue: 0.05, peakValue: 0.08, warmupSteps: 1, decaySteps: 5 }] })), 14, 4);
  assert.deepEqual(r3.jax, r3.pure);
  const r2 = await runBoth(adamax(cosineDecaySchedule({ initValue: 0.1, decaySteps: 12, alpha: 0.1 })), 16, 6);
  assert.deepEqual(r2.jax, r2.pure);
});

test('clipByGlobalNorm then adamax: bit-identical, small and large leaves', async () => {
  const r = await runBoth(chain(clipByGlobalNorm(1), adamax(0.05)), 20, 9);
  assert.deepEqual(r.jax, r.pure);
  const big = await runBoth(chain(clipByGlobalNorm(1), adamax(0.05)), 5, 10, { shapes: { a: [4096], b: [300, 7], c: [3, 100], d: [1057] } });
  // Beyond 32 elements XLA sums in windows; the adapter follows them with jax-js's full sums (in order)
  // or, where the last dimension is padded (c, d), in lanes with elementwise additions.
  assert.deepEqual(big.jax, big.pure);
});

test('ema (debiased, the bias correction in the graph) and clip: bit-identical, jitted', async () => {
  const r = await runBoth(chain(clip(0.7), ema(0.95)), 15, 12);
  assert.deepEqual(r.jax, r.pure);
  const plain = await runBoth(chain(ema(0.5, { debias: false }), scale(-0.1)), 6, 13);
  assert.deepEqual(plain.jax, plain.pure);
});

test('clipByGlobalNorm below the threshold leaves updates exactly as they are', async () => {
  const opt = toJaxJs(clipByGlobalNorm(1e6));
  const g = { w: np.array([1, -2, 3]) };
  const [u, s] = opt.update(g, opt.init({ w: np.zeros([3]) }));
  assert.deepEqual(Array.from(await u.w.data()), [1, -2, 3]);
  assert.deepEqual(s, {});
});

test('the count saturates at 2^31-1 in the graph, as the pure path', async () => {
  const tx = adamax(0.1);
  const opt = toJaxJs(tx);
  const pureState = tx.init({ w: new Float32Array(2) }) as any;
  pureState[0].count = 2147483646;
  const state = opt.init({ w: np.zeros([2]) }) as any;
  state[0].count.dispose();
  state[0].count = np.array(2147483646, { dtype: np.int32 });
  const step = jax.jit((g: JaxArray, s: unknown, p: JaxArray) => opt.update({ w: g }, s, { w: p }) as any);
  let s: any = state, ps: any = pureState;
  for (let i = 0; i < 3; i++) {
    let u: any, pu: any;
    [u, s] = step(np.array([0.5, -1]), s, np.zeros([2]));
    [pu, ps] = tx.update({ w: new Float32Array([0.5, -1]) }, ps, { w: new Float32Array(2) });
    assert.deepEqual(Array.from(await u.w.data()), Array.from(pu.w));
  }
  assert.equal((await s[0].count.ref.data())[0], 2147483647);
  jax.tree.dispose(s);
  opt.dispose();
});

test('what is not supported yet throws an OptaxError naming the transformation', () => {
  assert.throws(() => toJaxJs(injectHyperparams(clipByGlobalNorm)(1)), (e: unknown) => e instanceof OptaxError && /inject_hyperparams\(clip_by_global_norm\)/.test(e.message));
  assert.throws(() => toJaxJs(adamax((count: number) => 0.1 / (count + 1))), (e: unknown) => e instanceof OptaxError && /scale_by_learning_rate: its schedule is a function optax-ts did not build/.test(e.message));
  assert.throws(() => toJaxJs(adamax(exponentialDecay({ initValue: 0.1, transitionSteps: 10, decayRate: 0.9 })), { countScalars: 'table' }), (e: unknown) => e instanceof OptaxError && /exponential_decay never settles/.test(e.message));
  assert.throws(() => toJaxJs({} as any), OptaxError);
});

test('bad arguments throw an OptaxError before anything is computed', () => {
  const opt = toJaxJs(adamax(0.1));
  const state = opt.init({ w: np.zeros([2]) });
  assert.throws(() => opt.update({ w: np.zeros([3]) }, state, { w: np.zeros([2]) }), (e: unknown) => e instanceof OptaxError && /grads.*does not match|does not match/.test(e.message));
  assert.throws(() => opt.update({ w: np.zeros([2]) }, [{}, {}], { w: np.zeros([2]) }), (e: unknown) => e instanceof OptaxError && /this state does not belong to scale_by_adamax/.test(e.message));
  assert.throws(() => opt.update({ w: np.zeros([2], { dtype: np.int32 }) }, state, { w: np.zeros([2]) }), (e: unknown) => e instanceof OptaxError && /float32/.test(e.message));
  const w = toJaxJs(adamaxw(0.1));
  const ws = w.init({ w: np.zeros([2]) });
  assert.throws(() => w.update({ w: np.zeros([2]) }, ws), (e: unknown) => e instanceof OptaxError && /needs params/.test(e.message));
});

/** Runs `tx` eagerly through toJaxJs with in-graph count scalars and on the pure path, from a given start count. */
async function runGraphEager(tx: GradientTransformation<any>, steps: number, seed: number, startCount = 0) {
  const next = rng(seed);
  const shapes = { a: [3, 5], d: [17] };
  let pureParams = randomTree(next, shapes);
  let pureState = tx.init(pureParams) as any;
  const opt = toJaxJs(tx, { countScalars: 'graph' });
  let params = toJax(pureParams);
  let state = opt.init(jax.tree.ref(params)) as any;
  const setCount = (s: any, js: boolean): void => {
    for (const part of Array.isArray(s) ? s : [s]) {
      if (part && typeof part === 'object' && 'count' in part) {
        if (js) part.count = startCount;
        else { part.count.dispose(); part.count = np.array(startCount, { dtype: np.int32 }); }
      }
    }
  };
  if (startCount) { setCount(pureState, true); setCount(state, false); }
  for (let i = 0; i < steps; i++) {
    const g = randomTree(next, shapes, 4);
    const [u, s] = tx.update(g, pureState, pureParams);
    pureParams = pureApply(pureParams, u);
    pureState = s;
    const [ju, js] = opt.update(toJax(g), state, jax.tree.ref(params));
    params = applyUpdates(params, ju);
    state = js;
  }
  const result = { jax: { params: await fromJax(params), state: await fromJax(state) }, pure: { params: pureValues(pureParams), state: pureValues(pureState) } };
  jax.tree.dispose(params as any);
  jax.tree.dispose(state as any);
  opt.dispose();
  return result;
}

test("countScalars: 'graph' (eager): schedules and the bias correction evaluated from the count as jax-js ops are bit-identical to the pure path", async () => {
  const schedules = {
    warmupCosine: warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 5, decaySteps: 20, endValue: 0.001 }),
    exponential: exponentialDecay({ initValue: 0.1, transitionSteps: 3, decayRate: 0.7, staircase: false, endValue: 0.001 }),
    staircase: exponentialDecay({ initValue: 0.1, transitionSteps: 3, decayRate: 0.7, staircase: true }),
    linear: linearSchedule({ initValue: 0.1, endValue: 0.01, transitionSteps: 10, transitionBegin: 3 }),
  };
  for (const [name, schedule] of Object.entries(schedules)) {
    const r = await runGraphEager(adamaxw(schedule, { weightDecay: 0.01 }), 8, 21, name === 'linear' ? 0 : 4);
    assert.deepEqual(r.jax, r.pure, name);
  }
  // Far beyond any table: the count starts at 10^6 (the exponential decay keeps decaying).
  const far = await runGraphEager(adamax(exponentialDecay({ initValue: 0.1, transitionSteps: 100000, decayRate: 0.5 }), { b1: 0.99999 }), 5, 22, 1_000_000);
  assert.deepEqual(far.jax, far.pure);
});

test("countScalars: 'auto' (the default): what does not settle within 2^16 steps is evaluated in the graph, bit-identical, jitted", async () => {
  // The schedule never settles (in the graph); the bias correction of b1 = 0.99 is read from a table.
  const r = await runBoth(adamax(exponentialDecay({ initValue: 0.1, transitionSteps: 3, decayRate: 0.7 }), { b1: 0.99 }), 6, 41);
  assert.deepEqual(r.jax, r.pure);
  // b1 = 0.99999 settles after ~1.7 million steps: its bias correction (the leaves' divisor, whose
  // reciprocal the step shares) is computed in the graph.
  const slow = await runBoth(adamax(0.01, { b1: 0.99999 }), 6, 42);
  assert.deepEqual(slow.jax, slow.pure);
});

test("countScalars: 'graph' refuses what it cannot lower with an OptaxError naming it", () => {
  assert.throws(() => toJaxJs(adamax((count: number) => 0.1 / (count + 1)), { countScalars: 'graph' }), (e: unknown) => e instanceof OptaxError && /did not build/.test(e.message));
  // A float64 cosine is not lowered to the graph; it settles, so it is read from a table instead.
  toJaxJs(adamax(cosineDecaySchedule({ initValue: 0.1, decaySteps: 10, dtype: 'float64' })), { countScalars: 'graph' }).dispose();
  // x64 adamax: its bias correction is glibc's pow in float64 (not lowered), tabulated where it settles;
  // with b1 = 0.99999 it settles after ~3.7 million steps, beyond the tables.
  const x64 = toJaxJs(adamax(0.1, { b1: 0.99999 }));
  const w64 = () => ({ w: np.zeros([2]).astype(np.float64) });
  assert.throws(() => x64.update(w64(), x64.init(w64()), w64()), (e: unknown) => e instanceof OptaxError && /float64 \(x64\) power is not lowered.*nor can it be tabulated.*more than 1048576 steps to settle/.test(e.message));
  assert.throws(() => toJaxJs(adamax(0.1), { countScalars: 'fast' as any }), OptaxError);
});

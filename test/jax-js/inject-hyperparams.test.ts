import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import fc from 'fast-check';
import {
  OptaxError, type GradientTransformation, adamax, applyIfFinite, adamaxw, addDecayedWeights, applyUpdates as pureApply, chain, clip, injectHyperparams, registerInjectable,
  scale, scaleByAdamax, scaleByLearningRate, setHyperparams, warmupCosineDecaySchedule, linearSchedule,
} from '../../src/index.js';
import { definitionScalars } from '../../src/kernel/elementwise.js';
import { eagerArith } from '../../src/schedules/arith.js';
import { applyUpdates, setHyperparams as setJaxHyperparams, toJaxJs } from '../../src/jax-js/index.js';
import { SHAPES, fromJax, pureValues, randomTree, rng, runBoth, runMoved, toJax } from './helpers.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

/** The adapter's state with its hyperparameters (float32 scalar arrays, read back as [x]) as the pure path's numbers. */
function scalarsAsNumbers(state: any): any {
  return { ...state, hyperparams: Object.fromEntries(Object.entries(state.hyperparams).map(([k, v]) => [k, (v as number[])[0]])) };
}

test('each stage\'s injectable formula gives writeScalars\' values for float32 hyperparameters (every count tried)', () => {
  const f32 = (min: number, max: number) => fc.float({ min: Math.fround(min), max: Math.fround(max), noNaN: true });
  fc.assert(fc.property(f32(0, 1), f32(0, 1), f32(0, 1e-3), f32(0, 10), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (b1, b2, eps, x, count) => {
    for (const tx of <GradientTransformation<any>[]>[scaleByAdamax({ b1, b2, eps }), scale(x), scale(-x), scaleByLearningRate(x), scaleByLearningRate(x, { flipSign: false }), clip(x), addDecayedWeights(x + 1)]) {
      const def = tx.elementwise!;
      const control = 'count' in def.initControl() ? { count } : {};
      const expected = definitionScalars(def, control, 'float32', undefined);
      const got = def.injectable!.scalars(def.injectable!.hyperparams, count, 'float32', eagerArith);
      for (const [k, v] of Object.entries(expected)) assert.ok(Object.is(got[k], v), `${def.name} ${k}: ${got[k]} vs ${v as number}`);
    }
  }), { numRuns: 300 });
});

test('injectHyperparams: bit-identical to the pure path (state layout included), jitted; a scheduled hyperparameter evaluated in the graph', async () => {
  const schedule = warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 12 });
  for (const tx of <GradientTransformation<any>[]>[
    injectHyperparams(adamax, { staticArgs: 'b1' })(0.05, { b2: 0.99, eps: 1e-6 }),
    injectHyperparams(adamax, { staticArgs: ['b1'] })(schedule),
    injectHyperparams(adamaxw, { staticArgs: 'b1' })({ learningRate: 0.05, weightDecay: 0.1, mask: { a: true, b: false, c: true, d: false, e: true } }),
    chain(scaleByAdamax(), injectHyperparams(scaleByLearningRate)(schedule)),
    chain(injectHyperparams(clip)(0.7), injectHyperparams(scale)(-0.1)),
  ]) {
    const r = await runBoth(tx, 16, 80, { recordUpdates: true });
    const jaxState = Array.isArray(r.jax.state) ? (r.jax.state as any[]).map((s) => ('hyperparams' in s ? scalarsAsNumbers(s) : s)) : scalarsAsNumbers(r.jax.state);
    assert.deepEqual({ ...r.jax, state: jaxState }, r.pure, tx.name);
  }
});

/**
 * Runs injectHyperparams(adamax) (b1 static) on both paths, jitted on the adapter, setting learning_rate
 * and b2 before each step: with setHyperparams on the pure path, with `set` on the adapter's state; the
 * final params and states must be equal. Returns the adapter's transformation, params and state.
 */
async function runSetting(seed: number, rates: readonly number[], set: (state: any, values: { learningRate: number; b2: number }) => Promise<any>) {
  const tx = injectHyperparams(adamax, { staticArgs: 'b1' })({ learningRate: 0.1, b2: 0.9 });
  const next = rng(seed);
  let pureParams = randomTree(next, SHAPES);
  let pureState = tx.init(pureParams);
  const opt = toJaxJs(tx);
  const step = jax.jit((p: any, s: any, g: any): [any, any] => {
    const [u, ns] = opt.update(g, s, jax.tree.ref(p));
    return [applyUpdates(p, u), ns];
  });
  let params: any = toJax(pureParams);
  let state: any = opt.init(jax.tree.ref(params));
  for (const [i, learningRate] of rates.entries()) {
    const g = randomTree(next, SHAPES, 4);
    const values = { learningRate, b2: 0.9 + i / 100 };
    pureState = setHyperparams(pureState, values);
    state = await set(state, values);
    const [u, s] = tx.update(g, pureState, pureParams);
    pureParams = pureApply(pureParams, u);
    pureState = s;
    [params, state] = step(params, state, toJax(g));
  }
  assert.deepEqual({ params: await fromJax(params), state: scalarsAsNumbers(await fromJax(state)) }, { params: pureValues(pureParams), state: pureValues(pureState) });
  return { opt, params, state };
}

test('hyperparameters set between steps (replacing the state\'s arrays, as optax; setHyperparams on the pure path) take effect in the jitted step', async () => {
  const { opt, params, state } = await runSetting(81, [0.1, 0.1, 0.02, 0.02, 0.5, 0, 0.003], async (st, { learningRate, b2 }) => {
    st.hyperparams.learning_rate.dispose();
    st.hyperparams.b2.dispose();
    st.hyperparams.learning_rate = np.array(learningRate, { dtype: np.float32 });
    st.hyperparams.b2 = np.array(b2, { dtype: np.float32 });
    return st;
  });
  jax.tree.dispose([params, state]);
  opt.dispose();
});

test("injectHyperparams(adamax) with b1 injected: its bias correction b1 ** t (a base that varies in the graph) is powf's full path, bit-identical", async () => {
  const r = await runBoth(injectHyperparams(adamax)(0.1), 12, 91);
  assert.deepEqual(r.jax.params, r.pure.params);
  assert.deepEqual((r.jax.state as any).inner_state, (r.pure.state as any).inner_state);
});

test('injectHyperparams: what is not lowered is an OptaxError at toJaxJs; a wrong state names the field', () => {
  const halve = (factor: number) => scale(factor / 2);
  registerInjectable(halve, { name: 'halve', params: [{ name: 'factor', option: 'factor', positional: true }], build: (a) => halve(a.factor) });
  assert.throws(() => toJaxJs(applyIfFinite(injectHyperparams(scale)(0.5), { maxConsecutiveErrors: 1 })), (e: unknown) => e instanceof OptaxError && /inject_hyperparams directly inside apply_if_finite/.test(e.message));
  assert.throws(() => toJaxJs(injectHyperparams(halve)(3)), (e: unknown) => e instanceof OptaxError && /optax-ts's own factories/.test(e.message));
  const opt = toJaxJs(injectHyperparams(scale)(0.5));
  const params = { w: np.zeros([3]) };
  const state: any = opt.init(jax.tree.ref(params));
  assert.throws(() => opt.update({ w: np.ones([3]) }, { ...state, hyperparams: {} }, null), (e: unknown) => e instanceof OptaxError && /expected hyperparams \{step_size\}/.test(e.message));
  assert.throws(() => opt.update({ w: np.ones([3]) }, { ...state, hyperparams: { step_size: np.array(1, { dtype: np.int32 }) } }, null), (e: unknown) => e instanceof OptaxError && /hyperparams.step_size must be a float32 scalar/.test(e.message));
  assert.throws(() => opt.update({ w: np.ones([3]) }, [state], null), (e: unknown) => e instanceof OptaxError && /does not belong to this transformation/.test(e.message));
});


test('a pure-path injectHyperparams state (numbers for the hyperparameters) moves into the adapter and the run continues bit-identically', async () => {
  const schedule = warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 12 });
  const r = await runMoved(injectHyperparams(adamaxw, { staticArgs: 'b1' })({ learningRate: schedule, weightDecay: 0.1 }), 5, 6, 82);
  assert.deepEqual({ ...r.jax, state: scalarsAsNumbers(r.jax.state) }, r.pure);
});

test('injectHyperparams eagerly (no jit), on leaves of two or more elements: bit-identical', async () => {
  const schedule = warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 12 });
  const r = await runBoth(injectHyperparams(adamaxw, { staticArgs: 'b1' })({ learningRate: schedule, weightDecay: 0.1 }), 12, 90, { jit: false, shapes: { a: [3, 5], d: [17], e: [2, 2, 3] } });
  assert.deepEqual({ ...r.jax, state: scalarsAsNumbers(r.jax.state) }, r.pure);
});

test('float64 leaves (x64): float64 hyperparameters (the params\' dtype, or hyperparamDtype) in the state, a float64 schedule evaluated in the graph, adamax\'s float64 bias correction of a static b1 from its table: bit-identical, jitted and eagerly', async () => {
  const X64 = { a: 'float64', b: 'float64', c: 'float64', d: 'float64', e: 'float64' } as const;
  const schedule = linearSchedule({ initValue: 0.1, endValue: 0.01, transitionSteps: 7, dtype: 'float64' });
  for (const tx of <GradientTransformation<any>[]>[
    chain(scaleByAdamax({ b1: 0.8 }), injectHyperparams(scaleByLearningRate, { hyperparamDtype: 'float64' })(schedule)),
    chain(injectHyperparams(clip)(0.7), injectHyperparams(addDecayedWeights)(0.1), injectHyperparams(scale)(-0.1)),
  ]) {
    const r = await runBoth(tx, 10, 82, { recordUpdates: true, dtypes: X64 });
    const jaxState = Array.isArray(r.jax.state) ? (r.jax.state as any[]).map((s) => ('hyperparams' in s ? scalarsAsNumbers(s) : s)) : scalarsAsNumbers(r.jax.state);
    assert.deepEqual({ ...r.jax, state: jaxState }, r.pure, tx.name);
  }
  // adamax's bias correction 1 - b1 ** t in float64 (glibc's pow, not lowered to the graph) with a static
  // b1: read from the stage's table of the pure path's values, the other scalars from the injected arrays.
  for (const tx of [injectHyperparams(adamax, { staticArgs: 'b1' })(0.05, { b2: 0.99 }), injectHyperparams(adamaxw, { staticArgs: ['b1'] })({ learningRate: schedule, weightDecay: 0.1 })]) {
    for (const jit of [true, false]) {
      const r = await runBoth(tx, 8, 85, { dtypes: X64, jit, ...(jit ? {} : { shapes: { a: [3, 5], d: [17], e: [2, 2, 3] } }) });
      assert.deepEqual({ ...r.jax, state: scalarsAsNumbers(r.jax.state) }, r.pure, `x64 static b1 jit=${jit}`);
    }
  }
  const opt = toJaxJs(injectHyperparams(scale)(0.05));
  const params = { a: np.zeros([2]).astype(np.float64), b: np.zeros([2]) };
  const state = opt.init(jax.tree.ref(params));
  assert.equal(state.hyperparams.step_size.dtype, 'float64');
  // A tree mixing float32 and float64 leaves: float64 hyperparameters (see the test below).
});

test('hyperparameters of another dtype than the leaves (hyperparamDtype, a tree mixing float32 and float64): the pure path\'s values, bit-identical, jitted and eagerly', async () => {
  const MIXED = { a: 'float64', d: 'float64' } as const;
  const X64 = { a: 'float64', b: 'float64', c: 'float64', d: 'float64', e: 'float64' } as const;
  const schedule = linearSchedule({ initValue: 0.1, endValue: 0.01, transitionSteps: 7 });
  const cases: [GradientTransformation<any>, Record<string, 'float32' | 'float64'>][] = [
    // float64 b1 on float32 leaves: 1 - b1 in double, rounded to float32 (not 1 - float32(b1)); the bias
    // correction from float32(b1).
    [injectHyperparams(adamax, { hyperparamDtype: 'float64' })(0.05, { b1: 0.9, b2: 0.99, eps: 1e-6 }), {}],
    [injectHyperparams(adamaxw, { hyperparamDtype: 'float64', staticArgs: 'b1' })({ learningRate: schedule, weightDecay: 0.1 }), {}],
    // A mixed tree: float64 hyperparameters (the params' highest dtype) for float32 and float64 leaves.
    [chain(scaleByAdamax({ b1: 0.8 }), injectHyperparams(clip)(0.7), injectHyperparams(addDecayedWeights)(0.1), injectHyperparams(scaleByLearningRate)(0.3)), MIXED],
    // float32 hyperparameters of float64 leaves.
    [chain(injectHyperparams(clip, { hyperparamDtype: 'float32' })(0.7), injectHyperparams(scale, { hyperparamDtype: 'float32' })(-0.1)), X64],
  ];
  for (const [tx, dtypes] of cases) {
    for (const jit of [true, false]) {
      // Eagerly on leaves of two or more elements (jax-js evaluates eager one-element ops in double: the README).
      const r = await runBoth(tx, 6, 83, { recordUpdates: true, dtypes, jit, ...(jit ? {} : { shapes: { a: [3, 5], d: [17], e: [2, 2, 3] } }) });
      const jaxState = Array.isArray(r.jax.state) ? (r.jax.state as any[]).map((s) => ('hyperparams' in s ? scalarsAsNumbers(s) : s)) : scalarsAsNumbers(r.jax.state);
      assert.deepEqual({ ...r.jax, state: jaxState }, r.pure, `${tx.name} ${JSON.stringify(dtypes)} jit=${jit}`);
    }
  }
  // float32 hyperparameters of a float64 leaf with b1 injected: its float64 bias correction (glibc's pow
  // with a base that changes between steps) is not lowered: an OptaxError naming the power.
  const opt = toJaxJs(injectHyperparams(adamax, { hyperparamDtype: 'float32' })(0.05));
  const p = { a: np.zeros([2]).astype(np.float64) };
  assert.throws(() => opt.update({ a: np.ones([2]).astype(np.float64) }, opt.init(jax.tree.ref(p)), jax.tree.ref(p)), (e: unknown) => e instanceof OptaxError && /float64 \(x64\) power is not lowered/.test(e.message));
});

test('setHyperparams on the adapter\'s state: as the pure path\'s (bit-identical run, the hyperparameter dtype kept); NaN, unknown, scheduled names and non-numbers refused before anything changes', async () => {
  const { opt, params, state } = await runSetting(84, [0.1, 0.02, 0.5, 0, 0.003], async (st, values) => {
    const old = st.hyperparams.learning_rate;
    const out = setJaxHyperparams(st, values);
    await assert.rejects(old.data(), /freed/, 'the replaced array is disposed');
    return out;
  });
  const before = await fromJax(state.hyperparams);
  const refused = (values: Record<string, unknown>, pattern: RegExp) => assert.throws(() => setJaxHyperparams(state, values), (e: unknown) => e instanceof OptaxError && pattern.test(e.message), JSON.stringify(values));
  refused({ learningRate: 0.3, b2: NaN }, /hyperparameter 'b2' is NaN/);
  refused({ learningRate: 0.3, momentum: 1 }, /unknown hyperparameter 'momentum'/);
  refused({ learningRate: np.array(0.3) }, /learning_rate must be a number/);
  assert.deepEqual(await fromJax(state.hyperparams), before, 'nothing changed');
  jax.tree.dispose(params);
  jax.tree.dispose(state);
  opt.dispose();
  // A scheduled hyperparameter; float64 hyperparameters stay float64.
  const scheduled = toJaxJs(injectHyperparams(scaleByLearningRate)(linearSchedule({ initValue: 0.1, endValue: 0, transitionSteps: 4 })));
  const s1: any = scheduled.init({ w: np.zeros([2]) });
  assert.throws(() => setJaxHyperparams(s1, { learningRate: 0.2 }), (e: unknown) => e instanceof OptaxError && /follows a schedule/.test(e.message));
  const x64 = toJaxJs(injectHyperparams(scale, { hyperparamDtype: 'float64' })(0.5));
  const s2: any = setJaxHyperparams(x64.init({ w: np.zeros([2]) }), { stepSize: 0.1 });
  assert.equal(s2.hyperparams.step_size.dtype, 'float64');
  assert.deepEqual(await s2.hyperparams.step_size.ref.data(), new Float64Array([0.1]));
  for (const o of [scheduled, x64]) o.dispose();
  jax.tree.dispose(s1);
  jax.tree.dispose(s2);
});

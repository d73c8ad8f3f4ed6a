/**
 * injectHyperparams in the engine: the hyperparameters are per-step scalars computed from the state
 * (schedules evaluated at their counts, values set with setHyperparams taking effect at the next step),
 * bit-identical to the reference path on every backend; an inner transformation rebuilt with another
 * structure makes that step run on the reference path (or throw, with fallback: 'error').
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/engine/compile.js';
import { OptaxError } from '../../src/core/errors.js';
import { adamax } from '../../src/alias/adamax.js';
import { adamaxw } from '../../src/alias/adamaxw.js';
import { chain } from '../../src/transforms/chain.js';
import { scale } from '../../src/transforms/scale.js';
import { clip } from '../../src/transforms/clip.js';
import { clipByGlobalNorm } from '../../src/transforms/clip-by-global-norm.js';
import { ema } from '../../src/transforms/ema.js';
import { scaleByAdamax } from '../../src/transforms/scale-by-adamax.js';
import { injectHyperparams, setHyperparams } from '../../src/transforms/inject-hyperparams.js';
import { registerInjectable } from '../../src/transforms/injectable.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import { ReferenceRun, assertBitEqual, cloneState, cloneTree } from './support.js';
import { applyIfFinite } from '../../src/transforms/apply-if-finite.js';
import { multiSteps } from '../../src/transforms/multi-steps.js';
import { cosineDecaySchedule } from '../../src/schedules/cosine-decay.js';
import { warmupCosineDecaySchedule } from '../../src/schedules/warmup-cosine-decay.js';

const f32 = (...v: number[]) => new Float32Array(v);
const f64 = (...v: number[]) => new Float64Array(v);
const params = () => ({ a: f32(1, 2, -0), b: f64(-1, 0.5) });
const grads = (i: number) => ({ a: f32(i, -1, 2), b: f64(0.5 * i, NaN) });

/** Steps the reference and a stepper on `backend`, applying `edit` to both states before step `at`. */
function lockstep(tx: GradientTransformation<any>, backend: 'wasm' | 'js' | 'interpreter', at = -1, edit = (s: any) => s) {
  const ref = new ReferenceRun(tx, params());
  const s = compile(tx, params(), { backend });
  for (let i = 0; i < 5; i++) {
    if (i === at) { s.setState(edit(s.state)); ref.state = edit(ref.state); }
    ref.step(cloneTree(grads(i)));
    s.step(cloneTree(grads(i)));
    assertBitEqual(s.params, ref.params, `${backend} step ${i + 1} params`);
    assertBitEqual(s.state, ref.state, `${backend} step ${i + 1} state`);
  }
  return s;
}

test('injectHyperparams is fused: fixed, scheduled and set values, on every backend, its state laid out as optax does', () => {
  const cases: [GradientTransformation<any>, ((s: any) => any) | undefined][] = [
    [injectHyperparams(adamax)(0.1), (s) => setHyperparams(s, { learningRate: 0.5, b1: 0.5 })],
    [injectHyperparams(adamax)((c: number) => 0.1 / (c + 1), { b2: 0.99 }), (s) => setHyperparams(s, { eps: 1e-3 })],
    [injectHyperparams(adamaxw)(0.1, { weightDecay: 0.3, mask: () => ({ a: true, b: false }) }), (s) => setHyperparams(s, { weightDecay: 0 })],
    [chain(injectHyperparams(clipByGlobalNorm)((c: number) => 2 ** -c), adamax(0.1)), undefined],
  ];
  for (const [tx, edit] of cases) {
    for (const backend of ['wasm', 'js', 'interpreter'] as const) {
      const s = lockstep(tx, backend, edit ? 2 : -1, edit);
      assert.equal(s.backend, backend);
      s.dispose();
    }
  }
});

test('an inner transformation rebuilt with another structure runs that step on the reference path, or throws with fallback: error', () => {
  // A factory whose structure depends on a hyperparameter's value.
  const odd = (factor: number) => (factor === 3 ? chain(clip(factor), scale(-1)) : chain(scale(factor), scale(-1)));
  registerInjectable(odd, { name: 'odd', params: [{ name: 'factor', option: 'factor', positional: true }], build: (a) => odd(a.factor) });
  const tx = injectHyperparams(odd)(2);
  for (const backend of ['wasm', 'js'] as const) {
    const s = lockstep(tx, backend, 1, (st) => setHyperparams(st, { factor: 3 }));
    assert.equal(s.backend, backend);
    s.dispose();
    const back = lockstep(tx, backend, 3, (st) => setHyperparams(st, { factor: 0.5 }));
    back.dispose();
  }
  const strict = compile(tx, params(), { fallback: 'error' });
  strict.step(grads(1));
  strict.setState(setHyperparams(strict.state, { factor: 3 }));
  const before = cloneTree(strict.params);
  assert.throws(() => strict.step(grads(2)), (e: unknown) => e instanceof OptaxError && /rebuilt its inner transformation with another structure/.test(e.message));
  assertBitEqual(strict.params, before, 'unchanged');
  strict.dispose();
});

test('scheduled hyperparameters: the stages compute their scalars from the values of the step (nothing rebuilt), bit-identical over many steps, with values set, states loaded, inside applyIfFinite and multiSteps, float32 and float64', () => {
  const cosine = () => cosineDecaySchedule({ initValue: 0.1, decaySteps: 20, alpha: 0.1 });
  const cases: [string, () => GradientTransformation<any>][] = [
    ['adamax(cosineDecay)', () => injectHyperparams(adamax)(cosine(), { b1: 0.8 })],
    ['adamax(lr function, b1 scheduled)', () => injectHyperparams(adamax)({ learningRate: (c: number) => 0.1 / (c + 1), b1: (c: number) => 0.9 - 0.01 * (c % 7) })],
    ['adamaxw(warmupCosineDecay)', () => injectHyperparams(adamaxw)(warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.1, warmupSteps: 5, decaySteps: 25 }), { weightDecay: 0.1 })],
    ['scale(schedule)', () => injectHyperparams(scale)((c: number) => 1 / (c + 3))],
    ['clip(schedule)', () => injectHyperparams(clip)((c: number) => 2 / (c + 1))],
    ['applyIfFinite(adamax(cosineDecay))', () => applyIfFinite(injectHyperparams(adamax)(cosine()), { maxConsecutiveErrors: 2 })],
    ['multiSteps(adamax(cosineDecay), k=2)', () => multiSteps(injectHyperparams(adamax)(cosine()), { everyKSchedule: 2 })],
    ['chain(clipByGlobalNorm, adamax(cosineDecay))', () => chain(clipByGlobalNorm(1), injectHyperparams(adamax)(cosine()))],
  ];
  for (const dtype of ['float32', 'float64'] as const) {
    const arr = dtype === 'float32' ? f32 : f64;
    const p = () => ({ a: arr(1, 2, -0), b: arr(-1, 0.5) });
    const g = (i: number) => ({ a: arr(i % 5 === 3 ? NaN : Math.sin(i), -1, 2 - i), b: arr(0.5 * i, -0) });
    for (const [name, make] of cases) {
      for (const backend of ['wasm', 'js'] as const) {
        const tx = make();
        const ref = new ReferenceRun(tx, p());
        const s = compile(tx, p(), { backend, fallback: 'error' });
        for (let i = 0; i < 24; i++) {
          if (i === 9 && name.startsWith('adamax(')) {
            const set = (st: any) => setHyperparams(st, { b2: 0.99 });
            s.setState(set(s.state));
            ref.state = set(ref.state);
          }
          if (i === 16) {
            const saved = cloneState(ref.state);
            s.setState(saved);
            ref.state = cloneState(saved);
          }
          ref.step(cloneTree(g(i)));
          s.step(cloneTree(g(i)));
          assertBitEqual(s.params, ref.params, `${name} ${dtype} ${backend} step ${i + 1} params`);
          assertBitEqual(s.state, ref.state, `${name} ${dtype} ${backend} step ${i + 1} state`);
        }
        s.dispose();
      }
    }
  }
});

test('a scheduled learning rate its factory rejects (negative, NaN) throws at that step as the reference does, and the step changes nothing', () => {
  for (const bad of [-1, NaN, Infinity]) {
    for (const backend of ['wasm', 'js'] as const) {
      const tx = injectHyperparams(adamax)((c: number) => (c === 6 ? bad : 0.1 / (c + 1)));
      const p = () => ({ a: f32(1, 2, -0), b: f32(-1, 0.5) });
      const g = (i: number) => ({ a: f32(Math.sin(i), -1, 2), b: f32(0.5 * i, -0) });
      const ref = new ReferenceRun(tx, p());
      const s = compile(tx, p(), { backend });
      for (let i = 0; i < 6; i++) {
        ref.step(cloneTree(g(i)));
        s.step(cloneTree(g(i)));
      }
      const before = { params: cloneTree(s.params), state: cloneState(s.state) };
      assert.throws(() => ref.step(cloneTree(g(6))), /learning rate must be/);
      assert.throws(() => s.step(cloneTree(g(6))), /learning rate must be/, `${bad} ${backend}`);
      assertBitEqual(s.params, before.params, `${bad} ${backend}: params after the failed step`);
      assertBitEqual(s.state, before.state, `${bad} ${backend}: state after the failed step`);
      s.dispose();
    }
  }
});

/**
 * Counts the engine's rebuilds of an injection's inner transformation: the fused step calls the
 * combinator's `step` (which builds the inner transformation for the values of the step) only when it
 * cannot compute the stages' scalars from those values; the reference path calls its own closure.
 */
function countRebuilds(tx: GradientTransformation<any>): { readonly count: number } {
  const c = (tx as { combinator?: { kind: string; step: (...a: any[]) => unknown } }).combinator!;
  assert.equal(c.kind, 'injectHyperparams');
  const counter = { count: 0 };
  const step = c.step;
  c.step = (...a: any[]) => { counter.count++; return step(...a); };
  return counter;
}

const BACKENDS = [['js', 1], ['wasm', 1], ['wasm', 2]] as const;

/** Hostile values a schedule gives at some steps: each accepted by the factory or refused as the reference refuses it. */
const SUBNORMAL32 = 2 ** -140, SUBNORMAL64 = 2 ** -1060;

test('every injected hyperparameter is a per-step scalar of the fused step (scheduled b1, b2, eps, weight decay, clip, clip_by_global_norm, scale, ema; hyperparameters of another dtype than the leaves): nothing rebuilt after the first step, bit-identical on every backend', () => {
  const wavy = (base: number, amp: number) => (c: number) => base + amp * Math.sin(c);
  // [name, factory, hostile values the schedule returns at steps 5..] (each accepted by the factory).
  const cases: [string, (hostile: (v: number) => (c: number) => number) => GradientTransformation<any>][] = [
    ['adamax b1', (h) => injectHyperparams(adamax)({ learningRate: 0.1, b1: h(0.9) })],
    ['adamax b2', (h) => injectHyperparams(adamax)({ learningRate: 0.1, b2: h(0.99) })],
    ['adamax eps', (h) => injectHyperparams(adamax)({ learningRate: 0.1, eps: h(1e-3) })],
    ['adamax all scheduled', (h) => injectHyperparams(adamax)({ learningRate: cosineDecaySchedule({ initValue: 0.1, decaySteps: 20 }), b1: h(0.8), b2: wavy(0.99, 0.005), eps: wavy(1e-4, 5e-5) })],
    ['adamaxw b1, weight decay', (h) => injectHyperparams(adamaxw)({ learningRate: 0.1, b1: h(0.85), weightDecay: wavy(0.01, 0.005) })],
    ['scale_by_adamax b1', (h) => injectHyperparams(scaleByAdamax)({ b1: h(0.9) })],
    ['clip', (h) => injectHyperparams(clip)(h(0.7))],
    ['scale', (h) => injectHyperparams(scale)(h(-0.5))],
    ['ema', (h) => injectHyperparams(ema)(h(0.9))],
    ['ema, no debias', (h) => injectHyperparams(ema)(h(0.9), { debias: false })],
    ['adamax b1, float64 hyperparameters', (h) => injectHyperparams(adamax, { hyperparamDtype: 'float64' })({ learningRate: 0.1, b1: h(0.9) })],
    ['adamax b1, float32 hyperparameters', (h) => injectHyperparams(adamax, { hyperparamDtype: 'float32' })({ learningRate: cosineDecaySchedule({ initValue: 0.1, decaySteps: 20 }), b1: h(0.9) })],
    ['ema, float64 hyperparameters', (h) => injectHyperparams(ema, { hyperparamDtype: 'float64' })(h(0.9))],
    ['clip_by_global_norm', (h) => injectHyperparams(clipByGlobalNorm)(h(1.5))],
    ['clip_by_global_norm, float64 hyperparameters', (h) => injectHyperparams(clipByGlobalNorm, { hyperparamDtype: 'float64' })(h(1.5))],
  ];
  // The hostile values: exact ends of the ranges, subnormals (float32's and float64's), then ordinary.
  const hostileFor = (name: string): number[] => {
    const ends = name.startsWith('scale') && !name.startsWith('scale_by') ? [0, 1, -1e30] : name.startsWith('clip') ? [0, Infinity, 1] : [0, 1];
    return [...ends, SUBNORMAL32, SUBNORMAL64, -0];
  };
  // float32 leaves, float64 leaves, and both in one tree (a stage with a program per dtype).
  for (const dtype of ['float32', 'float64', 'mixed'] as const) {
    const arr = dtype === 'float64' ? f64 : f32, arrB = dtype === 'float32' ? f32 : f64;
    const p = () => ({ a: arr(1, 2, -0, 3, 4, 5, 6, 7), b: arrB(-1, 0.5) });
    const g = (i: number) => ({ a: arr(Math.sin(i), -1, 2 - i, 0, 1e-3, -4, 5, i), b: arrB(0.5 * i, -0) });
    for (const [name, make] of cases) {
      const bad = hostileFor(name);
      const hostile = (base: number) => (c: number) => (c >= 5 && c < 5 + bad.length ? bad[c - 5] : base * (1 + 0.01 * Math.sin(c)));
      for (const [backend, threads] of BACKENDS) {
        const tx = make(hostile);
        const rebuilds = countRebuilds(tx);
        const ref = new ReferenceRun(tx, p());
        const s = compile(tx, p(), { backend, threads, minElementsPerThread: 1, fallback: 'error' });
        assert.equal(s.threads, threads);
        const at = `${name} ${dtype} ${backend}×${threads}`;
        for (let i = 0; i < 16; i++) {
          ref.step(cloneTree(g(i)));
          s.step(cloneTree(g(i)));
          assertBitEqual(s.params, ref.params, `${at} step ${i + 1} params`);
          assertBitEqual(s.state, ref.state, `${at} step ${i + 1} state`);
        }
        assert.equal(rebuilds.count, 1, `${at}: the inner transformation was rebuilt at ${rebuilds.count - 1} steps after the first`);
        s.dispose();
      }
    }
  }
});

test('a scheduled b1, b2, eps, decay or clip bound its factory rejects (NaN, negative, above 1, infinite) throws at that step the reference path\'s error, and the step changes nothing', () => {
  const cases: [string, (v: (c: number) => number) => GradientTransformation<any>, number[]][] = [
    ['b1', (v) => injectHyperparams(adamax)({ learningRate: 0.1, b1: v }), [NaN, -0.5, 1.5, Infinity, -SUBNORMAL32]],
    ['b2', (v) => injectHyperparams(adamaxw)({ learningRate: 0.1, b2: v }), [NaN, -1, 2]],
    ['eps', (v) => injectHyperparams(adamax)({ learningRate: 0.1, eps: v }), [NaN, -1e-8, Infinity]],
    ['decay', (v) => injectHyperparams(ema)(v), [NaN, -0.1, 1.0000001]],
    ['max_delta', (v) => injectHyperparams(clip)(v), [NaN, -1, -Infinity]],
    ['step_size', (v) => injectHyperparams(scale)(v), [NaN, Infinity]],
    ['max_norm', (v) => injectHyperparams(clipByGlobalNorm)(v), [NaN, -1, -Infinity]],
  ];
  for (const [name, make, bads] of cases) {
    for (const bad of bads) {
      for (const [backend, threads] of BACKENDS) {
        const tx = make((c: number) => (c === 6 ? bad : 0.5 + 0.01 * c));
        const p = () => ({ a: f32(1, 2, -0), b: f32(-1, 0.5) });
        const g = (i: number) => ({ a: f32(Math.sin(i), -1, 2), b: f32(0.5 * i, -0) });
        const ref = new ReferenceRun(tx, p());
        const s = compile(tx, p(), { backend, threads, minElementsPerThread: 1 });
        for (let i = 0; i < 6; i++) {
          ref.step(cloneTree(g(i)));
          s.step(cloneTree(g(i)));
        }
        const before = { params: cloneTree(s.params), state: cloneState(s.state) };
        let expected: unknown;
        assert.throws(() => ref.step(cloneTree(g(6))), (e) => { expected = e; return e instanceof OptaxError; });
        assert.throws(() => s.step(cloneTree(g(6))), (e: unknown) => e instanceof OptaxError && e.message === (expected as Error).message, `${name} ${bad} ${backend}×${threads}: ${(expected as Error).message}`);
        assertBitEqual(s.params, before.params, `${name} ${bad} ${backend}: params after the failed step`);
        assertBitEqual(s.state, before.state, `${name} ${bad} ${backend}: state after the failed step`);
        s.dispose();
      }
    }
  }
});

test('the fused steps by formulas leave the transformation\'s own cache alone: its update on the stepper\'s state afterwards uses the values of that state', () => {
  // The step after setHyperparams builds the inner transformation (the schedule gives 0.1 there), the
  // steps after it take 0.2 by formulas: the record the engine updates must not be the one the
  // transformation's cache compares the values of a later update with.
  for (const [name, make] of [
    ['learning rate', () => injectHyperparams(adamax)((c: number) => (c <= 1 ? 0.1 : 0.2))],
    ['b1', () => injectHyperparams(adamax)({ learningRate: 0.1, b1: (c: number) => (c <= 1 ? 0.5 : 0.9) })],
  ] as const) {
    const tx = make();
    const s = compile(tx, params(), { backend: 'js', fallback: 'error' });
    s.step(cloneTree(grads(0)));
    s.setState(setHyperparams(s.state as any, { eps: 1e-3 }));
    for (let i = 1; i < 4; i++) s.step(cloneTree(grads(i)));
    const state = cloneState(s.state);
    const [u] = tx.update(cloneTree(grads(4)), cloneState(state), cloneTree(s.params));
    const [expected] = make().update(cloneTree(grads(4)), cloneState(state), cloneTree(s.params));
    assertBitEqual(u, expected, `${name}: the update after fused steps`);
    s.dispose();
  }
});

// Property-based hostile inputs for every public transformation, combinator and schedule: malformed
// and adversarial params, gradients, states and options. See harness.ts for what each case asserts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as optax from '../../src/index.js';
import { type GradientTransformation, OptaxError, treeLeaves } from '../../src/index.js';
import { corrupt, corruption, hostileKey, holds, notATree, rejects, runs, tree } from './harness.js';

const p = () => ({ w: new Float32Array([1, -2]), b: [new Float64Array([0.5]), null] as const });

/** Every public transformation and combinator, built with valid arguments. */
const transformations: readonly [string, () => GradientTransformation<any>][] = [
  ['scaleByAdamax', () => optax.scaleByAdamax()],
  ['adamax', () => optax.adamax(0.1)],
  ['adamax(schedule)', () => optax.adamax(optax.linearSchedule({ initValue: 0.1, endValue: 0, transitionSteps: 5 }))],
  ['adamaxw', () => optax.adamaxw(0.1, { weightDecay: 0.01 })],
  ['scale', () => optax.scale(2)],
  ['scaleByLearningRate', () => optax.scaleByLearningRate(0.1)],
  ['scaleBySchedule', () => optax.scaleBySchedule((c) => 1 / (c + 1))],
  ['identity', () => optax.identity()],
  ['setToZero', () => optax.setToZero()],
  ['clip', () => optax.clip(1)],
  ['clipByGlobalNorm', () => optax.clipByGlobalNorm(1)],
  ['addDecayedWeights', () => optax.addDecayedWeights(0.1)],
  ['ema', () => optax.ema(0.9)],
  ['chain', () => optax.chain(optax.clipByGlobalNorm(1), optax.adamax(0.1))],
  ['masked', () => optax.masked(optax.adamax(0.1), { w: true, b: false })],
  ['partition', () => optax.partition({ a: optax.adamax(0.1), z: optax.setToZero() }, { w: 'a', b: 'z' })],
  ['applyIfFinite', () => optax.applyIfFinite(optax.adamax(0.1), { maxConsecutiveErrors: 2 })],
  ['multiSteps', () => optax.multiSteps(optax.adamax(0.1), { everyKSchedule: 2 })],
  ['injectHyperparams', () => optax.injectHyperparams(optax.adamax)({ learningRate: 0.1 })],
];

test('hostile params: init throws an OptaxError or succeeds, and changes nothing', () => {
  for (const [name, make] of transformations) {
    fc.assert(fc.property(tree, corruption, notATree, (t, how, junk) => {
      const params = corrupt(t, how, junk);
      const tx = make();
      holds([params], () => tx.init(params as never));
    }), { ...runs(40), examples: [] });
    assert.ok(name);
  }
});

test('hostile gradients: update throws an OptaxError (or succeeds on a fitting tree), and changes nothing', () => {
  for (const [, make] of transformations) {
    const tx = make();
    const params = p();
    const state = tx.init(params);
    fc.assert(fc.property(tree, corruption, notATree, (t, how, junk) => {
      const grads = corrupt(t, how, junk);
      holds([grads, state, params], () => tx.update(grads as never, state, params));
    }), runs(30));
  }
});

test('hostile states: a state that is not this transformation\'s is an OptaxError, and nothing changes', () => {
  const params = p();
  const grads = p();
  for (const [name, make] of transformations) {
    const tx = make();
    const good = tx.init(params);
    // Replace one node of the good state (a count, a tree, a flag) by something hostile.
    const nodes: (readonly (string | number)[])[] = [];
    const walk = (x: unknown, path: (string | number)[]): void => {
      if (path.length > 0) nodes.push(path);
      if (Array.isArray(x)) x.forEach((v, i) => walk(v, [...path, i]));
      else if (optax.isDictNode(x)) for (const k of Object.keys(x)) walk(x[k], [...path, k]);
    };
    walk(good, []);
    const replaced = (path: readonly (string | number)[], value: unknown): unknown => {
      const go = (x: unknown, i: number): unknown => {
        if (i === path.length) return value;
        if (Array.isArray(x)) return x.map((v, j) => (j === path[i] ? go(v, i + 1) : v));
        return Object.fromEntries(Object.entries(x as object).map(([k, v]) => [k, k === path[i] ? go(v, i + 1) : v]));
      };
      return go(good, 0);
    };
    const hostile = fc.oneof(notATree, fc.constantFrom<unknown>(NaN, -1, 2.5, 2 ** 31, '1', null, [], {}, JSON.parse('{"__proto__": 1}')));
    fc.assert(fc.property(fc.constantFrom(...(nodes.length ? nodes : [[]])), hostile, (path, value) => {
      const state = path.length ? replaced(path, value) : value;
      holds([state, grads, params], () => tx.update(grads as never, state as never, params));
    }), runs(40));
    // Wholesale wrong states are always rejected.
    for (const state of [null, undefined, 3, [], {}, 'state', [good, good], { ...Object(good), extra: 1 }]) {
      if (optax.isDictNode(state) && optax.isDictNode(good) && Object.keys(state).length === 0 && Object.keys(good).length === 0) continue; // {} is a stateless transformation's own state
      rejects([state, grads, params], () => tx.update(grads as never, state as never, params), `${name} with ${String(state)}`);
    }
  }
});

test('hostile options: every factory throws an OptaxError or builds, and changes nothing', () => {
  const factories: readonly [string, (o: unknown) => unknown][] = [
    ['scaleByAdamax', (o) => optax.scaleByAdamax(o as never)],
    ['adamax', (o) => optax.adamax(0.1, o as never)],
    ['adamaxw', (o) => optax.adamaxw(0.1, o as never)],
    ['scaleByLearningRate', (o) => optax.scaleByLearningRate(0.1, o as never)],
    ['scaleBySchedule', (o) => optax.scaleBySchedule(() => 1, o as never)],
    ['addDecayedWeights', (o) => optax.addDecayedWeights(0.1, o as never)],
    ['ema', (o) => optax.ema(0.9, o as never)],
    ['applyIfFinite', (o) => optax.applyIfFinite(optax.scale(1), o as never)],
    ['multiSteps', (o) => optax.multiSteps(optax.scale(1), o as never)],
    ['injectHyperparams', (o) => optax.injectHyperparams(optax.adamax, o as never)],
    ['compile', (o) => optax.compile(optax.scale(1), p(), o as never).dispose()],
    ['constantSchedule', (o) => optax.constantSchedule(o as never)],
    ['linearSchedule', (o) => optax.linearSchedule(o as never)],
    ['polynomialSchedule', (o) => optax.polynomialSchedule(o as never)],
    ['exponentialDecay', (o) => optax.exponentialDecay(o as never)],
    ['cosineDecaySchedule', (o) => optax.cosineDecaySchedule(o as never)],
    ['warmupCosineDecaySchedule', (o) => optax.warmupCosineDecaySchedule(o as never)],
    ['warmupConstantSchedule', (o) => optax.warmupConstantSchedule(o as never)],
    ['warmupExponentialDecaySchedule', (o) => optax.warmupExponentialDecaySchedule(o as never)],
    ['piecewiseConstantSchedule', (o) => optax.piecewiseConstantSchedule(o as never)],
    ['piecewiseInterpolateSchedule', (o) => optax.piecewiseInterpolateSchedule(o as never)],
    ['linearOnecycleSchedule', (o) => optax.linearOnecycleSchedule(o as never)],
    ['cosineOnecycleSchedule', (o) => optax.cosineOnecycleSchedule(o as never)],
    ['joinSchedules', (o) => optax.joinSchedules(o as never)],
    ['sgdrSchedule', (o) => optax.sgdrSchedule(o as never)],
  ];
  const names = fc.constantFrom('b1', 'b2', 'eps', 'weightDecay', 'mask', 'flipSign', 'debias', 'accumulatorDtype', 'maxConsecutiveErrors',
    'everyKSchedule', 'threads', 'backend', 'fallback', 'value', 'initValue', 'endValue', 'transitionSteps', 'peakValue', 'decayRate',
    'warmupSteps', 'decaySteps', 'boundariesAndScales', 'schedules', 'boundaries', 'cosineKwargs', 'dtype', 'power');
  const values = fc.oneof(fc.double(), fc.integer(), fc.constantFrom<unknown>('0.1', null, undefined, true, 'float64', [], {}, [0.1], () => 0.1, 10n));
  const options = fc.oneof(
    fc.dictionary(fc.oneof(names, hostileKey), values, { maxKeys: 5 }),
    notATree,
    fc.constantFrom<unknown>(null, JSON.parse('{"__proto__": {"b1": 2}}'), Object.create({ b1: 2 })),
  );
  for (const [name, make] of factories) {
    fc.assert(fc.property(options, (o) => {
      holds([o], () => {
        const built = make(o);
        // A schedule that was built must answer every count with a number or an OptaxError.
        if (typeof built === 'function') for (const c of [0, 1, 1000, -1, 2 ** 31, NaN, 1.5]) holds([], () => (built as (c: number) => number)(c));
      });
    }), { ...runs(60), examples: [] });
    assert.ok(name);
  }
});

test('hostile gradients at a compiled stepper: an OptaxError, the stepper\'s params and state untouched', () => {
  const params = p();
  const stepper = optax.compile(optax.chain(optax.clipByGlobalNorm(1), optax.adamax(0.1)), params, { threads: 1 });
  try {
    const before = () => [treeLeaves(stepper.params).leaves.map((l) => Array.from(optax.leafData(l as never))), JSON.stringify(stepper.state, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v))];
    fc.assert(fc.property(tree, corruption, notATree, (t, how, junk) => {
      const grads = corrupt(t, how, junk);
      const held = before();
      const e = holds([grads], () => stepper.step(grads as never));
      if (e) assert.deepEqual(before(), held);
    }), runs(40));
    fc.assert(fc.property(corruption, notATree, (how, junk) => {
      const held = before();
      const e = holds([], () => { stepper.state = corrupt(stepper.state, how, junk) as never; });
      assert.ok(e instanceof OptaxError);
      assert.deepEqual(before(), held);
    }), runs(20));
  } finally {
    stepper.dispose();
  }
});

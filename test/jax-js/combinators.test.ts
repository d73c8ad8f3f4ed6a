import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import {
  OptaxError, adamax, adamaxw, chain, clip, identity, masked, partition, scale, scaleByAdamax, setToZero, warmupCosineDecaySchedule,
} from '../../src/index.js';
import { toJaxJs } from '../../src/jax-js/index.js';
import { runBoth } from './helpers.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

const SHAPES = { a: [3, 5], b: [], d: [17], e: [2, 2, 3] };

test('masked with a tree of booleans, and with a function of the tree: bit-identical to the pure path, jitted and eagerly', async () => {
  const byTree = adamaxw(0.05, { weightDecay: 0.1, mask: { a: true, b: false, d: true, e: false } });
  const r0 = await runBoth(byTree, 12, 31, { shapes: SHAPES });
  assert.deepEqual(r0.jax, r0.pure);
  // Eagerly, leaves of two or more elements (see transformation.test.ts on jax-js's eager scalars).
  const eager = await runBoth(byTree, 12, 31, { jit: false, shapes: { a: [3, 5], b: [2], d: [17], e: [2, 2, 3] } });
  assert.deepEqual(eager.jax, eager.pure);
  // A mask function sees the tree (of jax-js arrays in the adapter): decay only the matrices.
  const byFunction = chain(masked(scaleByAdamax({ b1: 0.8 }), (tree: Record<string, { shape: readonly number[] }>) => Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, v.shape.length >= 2]))), scale(-0.01));
  const r = await runBoth(byFunction, 12, 32, { shapes: SHAPES });
  assert.deepEqual(r.jax, r.pure);
});

test('partition: each label its own transformation (a schedule in one of them), bit-identical, jitted', async () => {
  const schedule = warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 15 });
  const tx = partition({ fast: adamax(schedule), slow: chain(clip(0.5), scale(-0.001)), frozen: setToZero() }, { a: 'fast', b: 'slow', d: 'fast', e: 'frozen' });
  const r = await runBoth(tx, 16, 33, { shapes: SHAPES });
  assert.deepEqual(r.jax, r.pure);
  const byFunction = partition({ m: adamax(0.01), v: identity() }, (tree: Record<string, { shape: readonly number[] }>) => Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, v.shape.length >= 2 ? 'm' : 'v'])));
  const r2 = await runBoth(byFunction, 8, 34, { shapes: SHAPES });
  assert.deepEqual(r2.jax, r2.pure);
});

test('a mask or labels that do not fit the tree: an OptaxError naming the path', () => {
  const opt = toJaxJs(adamaxw(0.1, { mask: { a: true } }));
  assert.throws(() => opt.init({ a: np.zeros([2]), b: np.zeros([2]) }), (e: unknown) => e instanceof OptaxError && /mask does not match params/.test(e.message));
  const p = toJaxJs(partition({ x: adamax(0.1) }, { a: 'y' }));
  assert.throws(() => p.init({ a: np.zeros([2]) }), (e: unknown) => e instanceof OptaxError && /unknown label 'y'/.test(e.message));
});

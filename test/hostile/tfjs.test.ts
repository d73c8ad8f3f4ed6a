/**
 * The TensorFlow.js adapter against careless input: disposed tensors and a corrupted saved state.
 * Each is an OptaxError, and a rejected call leaves the variables, the iteration count and the
 * optimizer's state as they were (the next step still runs).
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { OptaxError, adamax } from '../../src/index.js';
import { toTfjs } from '../../src/tfjs/index.js';

await tf.setBackend('cpu');

const isOptaxError = (pattern: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof OptaxError, `expected an OptaxError, got ${String(e)}`);
  assert.match(e.message, pattern);
  return true;
};

let serial = 0;
/** A stepped optimizer over two fresh variables, a step function, and a snapshot of everything. */
function setup(path: 'engine' | 'ops') {
  const [wn, bn] = [`hostile_w${serial}`, `hostile_b${serial++}`];
  const w = tf.variable(tf.tensor1d([1, 2, 3]), true, wn);
  const b = tf.variable(tf.tensor1d([1]), true, bn);
  const opt = toTfjs(adamax(0.1), { path });
  const step = () => opt.applyGradients({ [wn]: tf.tensor1d([1, -1, 0.5]), [bn]: tf.tensor1d([2]) });
  step();
  const snapshot = async () => {
    const weights = await opt.getWeights();
    return JSON.stringify([[...w.dataSync()], [...b.dataSync()], opt.iterations, weights.map((x) => [x.name, [...x.tensor.dataSync()]])]);
  };
  return { opt, step, snapshot, names: [wn, bn] };
}

for (const path of ['engine', 'ops'] as const) {
  test(`tfjs (${path}): a disposed gradient is an OptaxError naming the variable; nothing changes`, async () => {
    const { opt, step, snapshot, names } = setup(path);
    const before = await snapshot();
    const disposed = tf.tensor1d([1]);
    disposed.dispose();
    assert.throws(() => opt.applyGradients({ [names[0]]: tf.tensor1d([1, 1, 1]), [names[1]]: disposed }), isOptaxError(new RegExp(`^applyGradients: the gradient of '${names[1]}' is disposed`)));
    assert.equal(await snapshot(), before);
    step();
  });

  test(`tfjs (${path}): setWeights refuses a disposed weight and a bad step count, and keeps the state it had`, async () => {
    const { opt, step, snapshot } = setup(path);
    const before = await snapshot();
    const copy = async () => (await opt.getWeights()).map((x) => ({ name: x.name, tensor: x.tensor.clone() }));
    const disposed = await copy();
    disposed[1].tensor.dispose();
    await assert.rejects(opt.setWeights(disposed), isOptaxError(/^setWeights: '.*' is disposed/));
    const iterDisposed = await copy();
    iterDisposed[0].tensor.dispose();
    await assert.rejects(opt.setWeights(iterDisposed), isOptaxError(/^setWeights: the iteration count is disposed/));
    for (const bad of [tf.scalar(-1, 'int32'), tf.scalar(2 ** 31 - 1 + 1, 'float32')]) {
      const weights = await copy();
      const at = weights.findIndex((x) => x.name.includes('"count"'));
      weights[at] = { name: weights[at].name.replace(/#.*$/, bad.dtype === 'int32' ? '#int' : '#num32'), tensor: bad };
      await assert.rejects(opt.setWeights(weights), isOptaxError(/count must be a non-negative int32/));
    }
    assert.equal(await snapshot(), before);
    step();
  });
}

test('tfjs: setWeights before the first step refuses a bad step count (it would make every step throw)', async () => {
  const { opt, names } = setup('engine');
  const saved = (await opt.getWeights()).map((x) => ({ name: x.name, tensor: x.tensor.clone() }));
  const fresh = toTfjs(adamax(0.1));
  const at = saved.findIndex((x) => x.name.includes('"count"'));
  const bad = saved.map((x, i) => (i === at ? { name: x.name, tensor: tf.scalar(-5, 'int32') } : x));
  await assert.rejects(fresh.setWeights(bad), isOptaxError(/count must be a non-negative int32 step count, got number -5/));
  await fresh.setWeights(saved);
  fresh.applyGradients({ [names[0]]: tf.tensor1d([1, 1, 1]), [names[1]]: tf.tensor1d([1]) });
  assert.equal(fresh.iterations, 2);
});

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as jax from '@jax-js/jax';
import { valueTerms, xlaReduceSum, xlaReduceWindows } from '../../src/core/xla-reduce-sum.js';
import { reduceSum } from '../../src/tfjs/global-norm.js';
import { float64Array } from '../../src/jax-js/constants.js';
import { xlaOrderedSum } from '../../src/jax-js/transformation.js';
import { orderSensitiveValues } from './order-sensitive-values.js';

// Shapes whose last dimension is padded, so that some level's windows are summed in lanes
// (laneWindowSums, shared by the tfjs and jax-js adapters), one row and several.
const SHAPES: number[][] = [[7, 37], [3, 100], [5, 70], [2, 3, 45]];

before(async () => {
  await tf.setBackend('cpu');
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

test('the shapes reach the lane-ordered windows', () => {
  for (const shape of SHAPES) assert.ok(xlaReduceWindows(shape).levels.some((l) => l.laneRows), shape.join('x'));
});

test("laneWindowSums through both adapters: XLA's order, bit for bit, on order-sensitive float32 values", () => {
  SHAPES.forEach((shape, k) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = orderSensitiveValues('f32', size, 11 + k);
    const expected = xlaReduceSum(valueTerms('float32', values), shape);
    const viaTfjs = tf.tidy(() => reduceSum(tf.tensor(values, shape, 'float32')).dataSync()[0]);
    assert.ok(Object.is(viaTfjs, expected), `tfjs ${shape.join('x')}: ${viaTfjs} vs ${expected}`);
    const viaJax = xlaOrderedSum(jax.numpy.array(new Float32Array(values)).reshape(shape)).js() as number;
    assert.ok(Object.is(viaJax, expected), `jax-js ${shape.join('x')}: ${viaJax} vs ${expected}`);
  });
});

test('laneWindowSums on float64 through jax-js', () => {
  const shape = [4, 21];
  const values = orderSensitiveValues('f64', 84, 5);
  const expected = xlaReduceSum(valueTerms('float64', values), shape);
  const got = xlaOrderedSum(float64Array(values, shape)).js() as number;
  assert.ok(Object.is(got, expected), `${got} vs ${expected}`);
});

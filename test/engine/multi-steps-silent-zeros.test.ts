/**
 * MultiSteps' zeros on a mini-step that emits nothing, leaf by leaf. optax 0.2.8 multiplies each leaf
 * by `emit` on its own (`jax.tree.map(lambda ga: emit * ga, final_updates)`), so XLA's algebraic
 * simplifier folds a constant learning rate into that multiplication per leaf: a leaf whose update
 * is `c * y` gets `0 * y` (the sign of `y`), a leaf whose update is not (masked weight decay added
 * after the scale) gets `0 * u`. The reference path once used `0 * y` only when every leaf's update
 * had that form, and the engine decided per leaf: a -0 parameter came out -0 on one, +0 on the other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/engine/compile.js';
import { chain } from '../../src/transforms/chain.js';
import { masked } from '../../src/transforms/masked.js';
import { multiSteps } from '../../src/transforms/multi-steps.js';
import { scaleByLearningRate } from '../../src/transforms/scale-by-learning-rate.js';
import { addDecayedWeights } from '../../src/transforms/add-decayed-weights.js';
import { ReferenceRun, assertBitEqual } from './support.js';

const tx = () => multiSteps(chain(scaleByLearningRate(0.1), masked(addDecayedWeights(0.1), { a: false, b: true })), { everyKSchedule: 2 });
const params = () => ({ a: new Float64Array([-0, -0, 1]), b: new Float64Array([-0, 2, 3]) });
const grads = { a: new Float64Array([0.5, -0.5, 0.25]), b: new Float64Array([0.5, 1, -1]) };

test('multiSteps: a mini-step\'s zeros carry the sign XLA gives each leaf (0 * y where the leaf ends with a constant scale, else 0 * u)', () => {
  const ref = new ReferenceRun(tx(), params());
  ref.step(grads);
  const { a, b } = ref.params as unknown as { a: Float64Array; b: Float64Array };
  // Leaf a: u = -0.1 * g, folded to 0 * g: -0 + (+0) = +0 where g > 0, -0 + (-0) = -0 where g < 0.
  assert.ok(Object.is(a[0], 0) && Object.is(a[1], -0), `a: ${[...a].map((x) => (Object.is(x, -0) ? '-0' : x))}`);
  // Leaf b: u = -0.1 * g + 0.1 * p, not a constant scale: 0 * u = -0 for u = -0.05, so -0 + -0 = -0.
  assert.ok(Object.is(b[0], -0), `b[0]: ${b[0]}`);
  ref.step(grads);
  for (const backend of ['wasm', 'js', 'interpreter'] as const) {
    const s = compile(tx(), params(), { backend, threads: 1, fallback: 'error' });
    const run = new ReferenceRun(tx(), params());
    for (let i = 0; i < 2; i++) {
      s.step(grads);
      run.step(grads);
      assertBitEqual(s.params, run.params, `${backend} step ${i} params`);
    }
    s.dispose();
  }
});

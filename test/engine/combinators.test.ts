/**
 * masked and partition through the engine: static and function masks/labels, nesting, and the
 * per-step check that a mask or label function still selects the compiled leaves (a step where it
 * does not runs on the reference path, exactly).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/engine/compile.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import type { Tree } from '../../src/tree/tree.js';
import { adamax } from '../../src/alias/adamax.js';
import { chain } from '../../src/transforms/chain.js';
import { scale } from '../../src/transforms/scale.js';
import { scaleByAdamax } from '../../src/transforms/scale-by-adamax.js';
import { setToZero } from '../../src/transforms/set-to-zero.js';
import { addDecayedWeights } from '../../src/transforms/add-decayed-weights.js';
import { masked } from '../../src/transforms/masked.js';
import { partition } from '../../src/transforms/partition.js';
import { scaleByLearningRate } from '../../src/transforms/scale-by-learning-rate.js';
import { ReferenceRun, assertBitEqual, cloneTree } from './support.js';

const f32 = (...v: number[]) => new Float32Array(v);
const f64 = (...v: number[]) => new Float64Array(v);

const params = () => ({ dense: { w: new ShapedArray(f32(1, 2, 3, 4), [2, 2]), b: f32(0.5, -0.5) }, emb: f64(1, 2, 3), head: [f32(9), null] });
const gradSeq = [1, -2, 0.5, 4].map((k) => ({ dense: { w: new ShapedArray(f32(k, -k, 2 * k, 0), [2, 2]), b: f32(k, k) }, emb: f64(-k, k, 0), head: [f32(k), null] }));

function run(tx: Parameters<typeof compile>[0], backend: 'wasm' | 'js' | 'interpreter' = 'wasm') {
  const ref = new ReferenceRun(tx, params());
  const s = compile(tx, params(), { backend });
  for (const g of gradSeq) {
    ref.step(cloneTree(g));
    s.step(cloneTree(g));
    assertBitEqual(s.params, ref.params, 'params');
    assertBitEqual(s.state, ref.state, 'state');
  }
  return s;
}

test('adamaxw-style weight decay with a mask function (called on each step, as optax does) is fused', () => {
  let calls = 0;
  const matrices = (tree: Tree) => {
    calls++;
    const t = tree as ReturnType<typeof params>;
    return { dense: { w: true, b: false }, emb: t.emb !== null, head: [false, null] };
  };
  const tx = chain(scaleByAdamax(), addDecayedWeights(0.01, { mask: matrices }), scaleByLearningRate(0.1));
  for (const backend of ['wasm', 'js', 'interpreter'] as const) {
    calls = 0;
    const s = run(tx, backend);
    assert.equal(s.backend, backend);
    assert.ok(calls >= gradSeq.length, 'the mask function runs every step');
    s.dispose();
  }
});

test('a mask function whose answer changes makes that step run on the reference path, exactly', () => {
  // Selects `emb` when its first value is positive: true on the params (compiled), then false, true,
  // false, true on the gradients of the four steps.
  const positive = (tree: Tree) => ({ dense: true, emb: (tree as ReturnType<typeof params>).emb[0] > 0, head: false });
  const s = run(chain(masked(scale(-2), positive), scaleByLearningRate(0.5)));
  assert.equal(s.backend, 'wasm');
  s.dispose();
});

test('partition with a labels function, nested masks and chains; frozen groups', () => {
  const labels = (tree: Tree) => {
    const t = tree as ReturnType<typeof params>;
    return { dense: t.dense ? 'fast' : 'slow', emb: 'slow', head: ['frozen', null] };
  };
  const tx = partition({
    fast: chain(adamax(0.05), masked(scale(0.5), { dense: { w: true, b: false }, emb: false, head: false })),
    slow: adamax((c: number) => 0.01 / (c + 1)),
    frozen: setToZero(),
  }, labels);
  const s = run(tx);
  assert.equal(s.backend, 'wasm');
  const state = s.state as any;
  assert.deepEqual(Object.keys(state.inner_states), ['fast', 'slow', 'frozen']);
  // The frozen head never moves; the inner states hold nothing (null) where their group does not apply.
  assert.equal(s.params.head[0]![0], 9);
  assert.equal(state.inner_states.slow.inner_state[0].mu.dense, null);
  s.dispose();
});

test('masked with a prefix mask and a fully masked subtree, both dtypes', () => {
  const s = run(chain(masked(adamax(0.1), { dense: true, emb: false, head: [true, null] }), masked(scale(3), { dense: { w: false, b: true }, emb: true, head: false })));
  assert.equal(s.backend, 'wasm');
  s.dispose();
});

/**
 * What a stepper hands out and takes in, the same on every backend: frozen view trees (assigning a
 * leaf instead of writing into it throws), frozen state containers, and on the reference path a
 * state that is validated fully when loaded (step counters included, the path named), copied in, and
 * handed out as copies (outside edits never reach the stepper).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/engine/compile.js';
import { OptaxError } from '../../src/core/errors.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import { adamax } from '../../src/alias/adamax.js';
import { multiSteps } from '../../src/transforms/multi-steps.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import type { Tree } from '../../src/tree/tree.js';
import { ReferenceRun, assertBitEqual, cloneTree } from './support.js';

const f32 = (...v: number[]) => new Float32Array(v);
const params = () => ({ w: f32(1, -2, 3), layer: { m: new ShapedArray(new Float64Array([0.5, 1.5, -1, 2]), [2, 2]) } });
const grads = (k: number) => ({ w: f32(0.5 * k, -1, 2), layer: { m: new ShapedArray(new Float64Array([k, -k, 0.25, 1]), [2, 2]) } });

/** A transformation the engine cannot see into (no kernel): it keeps the last gradients in its state. */
function keepLast(): GradientTransformation<{ count: number; last: Tree }> {
  return {
    name: 'keep_last',
    init: (p) => ({ count: 0, last: cloneTree(p as Tree) }),
    update: (u, s) => [u, { count: s.count + 1, last: u as Tree }],
  };
}

const backends = ['wasm', 'js', 'interpreter'] as const;

test('assigning a leaf of stepper.grads / stepper.params (instead of writing into it) throws, on every backend', () => {
  const cases = [
    ...backends.map((backend) => ({ label: backend, s: compile(adamax(0.1), params(), { backend }) })),
    { label: 'reference', s: compile(keepLast() as GradientTransformation<unknown>, params()) },
  ];
  for (const { label, s } of cases) {
    if (label === 'reference') assert.equal(s.backend, 'reference');
    const g = grads(1);
    assert.throws(() => { (s.grads as { w: Float32Array }).w = g.w; }, TypeError, label);
    assert.throws(() => { (s.params as { w: Float32Array }).w = g.w; }, TypeError, label);
    assert.throws(() => { (s.grads.layer as { m: unknown }).m = g.layer.m; }, TypeError, label);
    assert.throws(() => { (s.grads.layer.m as { data: unknown }).data = g.layer.m.data; }, TypeError, label);
    assert.throws(() => { (s.grads as Record<string, unknown>).extra = g.w; }, TypeError, label);
    assert.throws(() => { delete (s.grads as Partial<{ w: unknown }>).w; }, TypeError, label);
    // Writing into the views is the way, and it is what the step reads.
    s.grads.w.set(g.w);
    s.grads.layer.m.data.set(g.layer.m.data);
    s.step();
    const ref = new ReferenceRun(label === 'reference' ? keepLast() as GradientTransformation<unknown> : adamax(0.1), params());
    ref.step(g);
    assertBitEqual(s.params, ref.params, label);
    // Frozen trees still copy like any tree.
    assertBitEqual(cloneTree(s.params), ref.params, label);
    // The state's containers are frozen too (a count assigned there would be silently lost).
    const state = s.state as unknown as Record<string, unknown>[] & { count?: number };
    assert.throws(() => { if (Array.isArray(state)) state[0].count = 5; else (state as { count: number }).count = 5; }, TypeError, label);
    s.dispose();
  }
});

test('reference path: state = validates step counters (an OptaxError naming the path) and changes nothing', () => {
  // A float64 accumulator over float32 params is not fused: MultiSteps on the reference path.
  for (const tx of [keepLast() as GradientTransformation<unknown>, multiSteps(adamax(0.1), { everyKSchedule: 2, accumulatorDtype: 'float64' }) as GradientTransformation<unknown>]) {
    const s = compile(tx, params());
    assert.equal(s.backend, 'reference');
    s.step(grads(1));
    const good = s.state as Record<string, unknown>;
    const before = cloneTree({ p: s.params });
    const counter = 'count' in good ? 'count' : 'mini_step';
    for (const bad of [-1, 2.5, NaN, 2 ** 31, 1e10, Infinity, '1', true, null]) {
      const state = { ...good, [counter]: bad };
      assert.throws(() => { s.state = state as never; }, (e: unknown) => e instanceof OptaxError && e.message.startsWith(`state.${counter}: `), `${tx.name} ${String(bad)}`);
      assert.throws(() => s.setState(state as never), OptaxError);
    }
    if (counter === 'mini_step') {
      assert.throws(() => s.setState({ ...good, gradient_step: -3 } as never), /^OptaxError: state\.gradient_step: .*non-negative int32 step count/);
      const inner = good.inner_opt_state as Record<string, unknown>[];
      assert.throws(() => s.setState({ ...good, inner_opt_state: [{ ...inner[0], count: 0.5 }, inner[1]] } as never), /^OptaxError: state\.inner_opt_state\[0\]\.count: /);
    }
    // Nothing changed: the stepper goes on exactly.
    assertBitEqual({ p: s.params }, before);
    assertBitEqual(s.state, good);
    s.dispose();
  }
});

test('reference path: the caller\'s arrays are copied in, and the state handed out is a copy', () => {
  const tx = keepLast() as GradientTransformation<unknown>;
  const s = compile(tx, params());
  assert.equal(s.backend, 'reference');
  // A state loaded from the caller's arrays: editing them afterwards does not reach the stepper.
  const mine = { count: 3, last: grads(2) };
  s.setState(mine as never);
  mine.last.w[0] = 99;
  mine.last.layer.m.data[0] = 99;
  assertBitEqual((s.state as { last: Tree }).last, grads(2));
  // Handed out: a copy (editing its arrays changes nothing inside).
  const out = s.state as { count: number; last: { w: Float32Array } };
  out.last.w[1] = 77;
  assertBitEqual((s.state as { last: Tree }).last, grads(2));
  // A state computed from the caller's gradients (this one keeps them) does not alias them either.
  const g = grads(5);
  s.step(g);
  g.w[2] = 55;
  assertBitEqual((s.state as { last: Tree }).last, grads(5));
  assert.equal((s.state as { count: number }).count, 4);
  s.dispose();
});

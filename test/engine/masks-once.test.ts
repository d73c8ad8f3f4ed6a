/**
 * compile's `masks: 'once'`: mask and labels functions are called by compile alone (as jax.jit calls
 * them once, when it traces), never by a step; the steps are the reference path's with the selection
 * compile saw, on every backend and thread count, MultiSteps around them included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/engine/compile.js';
import { OptaxError } from '../../src/core/errors.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import { adamax } from '../../src/alias/adamax.js';
import { adamaxw } from '../../src/alias/adamaxw.js';
import { chain } from '../../src/transforms/chain.js';
import { scale } from '../../src/transforms/scale.js';
import { masked, type MaskTree } from '../../src/transforms/masked.js';
import { partition } from '../../src/transforms/partition.js';
import { multiSteps } from '../../src/transforms/multi-steps.js';
import type { Tree } from '../../src/tree/tree.js';
import { ReferenceRun, assertBitEqual, cloneTree } from './support.js';

const f32 = (...v: number[]) => new Float32Array(v);
const params = (): Tree => ({ a: f32(1, -2, 3), b: f32(0.5, 4), c: { d: f32(-1, 2, -3, 4) } });
const grads = (i: number): Tree => ({ a: f32(0.1 * i, -1, 2), b: f32(-0.5, i), c: { d: f32(3, -i, 0.25, 1) } });
const SETTINGS = [
  { backend: 'wasm', threads: 1 },
  { backend: 'wasm', threads: 2, minElementsPerThread: 1 },
  { backend: 'js', threads: 1 },
  { backend: 'js', threads: 2, minElementsPerThread: 1 },
  { backend: 'interpreter' },
] as const;

/** A mask function that counts its calls, answering by the tree's structure only (decay every leaf but b). */
function countingMask(): { fn: (t: Tree) => MaskTree; calls: () => number } {
  let calls = 0;
  return { fn: (t) => { calls++; const r = t as Record<string, unknown>; return { a: true, b: false, c: r.c === null ? null : { d: true } } as MaskTree; }, calls: () => calls };
}

test("masks: 'once': a step calls no mask or labels function, and steps as the reference path does", () => {
  const cases: [string, (fn: (t: Tree) => MaskTree) => GradientTransformation<unknown>][] = [
    ['adamaxw(mask)', (fn) => adamaxw(0.1, { weightDecay: 0.5, mask: fn }) as GradientTransformation<unknown>],
    ['chain(masked(scale(2)), adamax)', (fn) => chain(masked(scale(2), fn), adamax(0.1)) as GradientTransformation<unknown>],
    ['partition(labels fn)', (fn) => partition({ x: adamax(0.1), y: chain(scale(-1), adamax(0.2)) }, (t: Tree) => {
      const m = fn(t) as Record<string, unknown>;
      return { a: m.a ? 'x' : 'y', b: m.b ? 'x' : 'y', c: 'x' };
    }) as GradientTransformation<unknown>],
    ['multiSteps(chain(masked(scale(2)), adamax))', (fn) => multiSteps(chain(masked(scale(2), fn), adamax(0.1)), { everyKSchedule: 2 }) as GradientTransformation<unknown>],
    ['multiSteps(adamaxw(mask))', (fn) => multiSteps(adamaxw(0.1, { weightDecay: 0.5, mask: fn }), { everyKSchedule: 3 }) as GradientTransformation<unknown>],
  ];
  for (const [name, make] of cases) {
    for (const settings of SETTINGS) {
      const at = `${name} ${JSON.stringify(settings)}`;
      const counting = countingMask();
      const s = compile(make(counting.fn), params(), { ...settings, masks: 'once', fallback: 'error' });
      assert.notEqual(s.backend, 'reference', at);
      const afterCompile = counting.calls();
      assert.ok(afterCompile >= 1, `${at}: compile called the function`);
      const ref = new ReferenceRun(make(countingMask().fn), params());
      for (let i = 0; i < 7; i++) {
        s.step(cloneTree(grads(i)));
        ref.step(cloneTree(grads(i)));
        assertBitEqual(s.params, ref.params, `${at} step ${i} params`);
        assertBitEqual(s.state, ref.state, `${at} step ${i} state`);
      }
      assert.equal(counting.calls(), afterCompile, `${at}: no step called the function`);
      s.dispose();
    }
  }
});

test("masks: 'once': a selection that changes after compile is not looked at (by default it is followed)", () => {
  // A mask that depends on the values (not possible under jax.jit): decays a only while a[0] > 0.
  const byValue = (t: Tree): MaskTree => ({ a: (t as { a: Float32Array }).a[0] > 0, b: true, c: { d: false } });
  const atCompile: MaskTree = { a: true, b: true, c: { d: false } };
  const flip = (i: number): Tree => ({ a: f32(i % 2 === 0 ? 1 : -1, 1, 1), b: f32(1, 1), c: { d: f32(1, 1, 1, 1) } });
  for (const settings of SETTINGS) {
    const once = compile(adamaxw(0.1, { weightDecay: 0.5, mask: byValue }), params(), { ...settings, masks: 'once' });
    const everyStep = compile(adamaxw(0.1, { weightDecay: 0.5, mask: byValue }), params(), settings);
    const fixed = new ReferenceRun(adamaxw(0.1, { weightDecay: 0.5, mask: atCompile }) as GradientTransformation<unknown>, params());
    const followed = new ReferenceRun(adamaxw(0.1, { weightDecay: 0.5, mask: byValue }) as GradientTransformation<unknown>, params());
    for (let i = 0; i < 4; i++) {
      for (const s of [once, everyStep]) s.step(cloneTree(flip(i)));
      fixed.step(cloneTree(flip(i)));
      followed.step(cloneTree(flip(i)));
    }
    assertBitEqual(once.params, fixed.params, `${JSON.stringify(settings)} once: compile's selection`);
    assertBitEqual(everyStep.params, followed.params, `${JSON.stringify(settings)} every-step: each step's selection`);
    // The two differ (the test would prove nothing otherwise).
    assert.notDeepEqual(Array.from((once.params as { a: Float32Array }).a), Array.from((everyStep.params as { a: Float32Array }).a));
    once.dispose();
    everyStep.dispose();
  }
});

test("masks: 'every-step' is the default, and MultiSteps around a mask function fuses only with 'once'", () => {
  const tx = multiSteps(chain(masked(scale(2), () => ({ a: true, b: false, c: { d: true } })), adamax(0.1)), { everyKSchedule: 2 });
  assert.throws(() => compile(tx, params(), { fallback: 'error' }), (e: unknown) => e instanceof OptaxError && /mask or labels function inside it/.test(e.message));
  assert.throws(() => compile(tx, params(), { fallback: 'error', masks: 'every-step' }), OptaxError);
  const s = compile(tx, params(), { fallback: 'error', masks: 'once' });
  assert.notEqual(s.backend, 'reference');
  s.dispose();
});

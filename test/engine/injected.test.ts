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
import { injectHyperparams, setHyperparams } from '../../src/transforms/inject-hyperparams.js';
import { registerInjectable } from '../../src/transforms/injectable.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import { ReferenceRun, assertBitEqual, cloneTree } from './support.js';

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

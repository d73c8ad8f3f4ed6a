/**
 * What the engine cannot fuse still runs exactly, behind the same API: opaque transformations and
 * array hyperparameters (the whole transformation on the reference path), steps whose scalars turn
 * out not to be fusable (that step on the reference path), errors thrown by a step (nothing changes),
 * and kernels whose outputs alias other inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/engine/compile.js';
import { OptaxError } from '../../src/core/errors.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import { roundTo } from '../../src/core/dtype.js';
import { ex } from '../../src/kernel/expr.js';
import { elementwise } from '../../src/kernel/elementwise.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import { adamax } from '../../src/alias/adamax.js';
import { chain } from '../../src/transforms/chain.js';
import { scale } from '../../src/transforms/scale.js';
import { scaleByAdamax } from '../../src/transforms/scale-by-adamax.js';
import { scaleByLearningRate } from '../../src/transforms/scale-by-learning-rate.js';
import { applyIfFinite } from '../../src/transforms/apply-if-finite.js';
import { clipByGlobalNorm } from '../../src/transforms/clip-by-global-norm.js';
import { masked } from '../../src/transforms/masked.js';
import { partition } from '../../src/transforms/partition.js';
import type { Tree } from '../../src/tree/tree.js';
import { ReferenceRun, assertBitEqual, cloneState, cloneTree } from './support.js';

const BACKENDS = ['wasm', 'js', 'interpreter'] as const;
const f32 = (...v: number[]) => new Float32Array(v);
const f64 = (...v: number[]) => new Float64Array(v);

/** Runs `tx` on the reference path and compiled on every backend, comparing after every step. */
function checkParity(tx: GradientTransformation<any>, params: () => Tree, grads: readonly Tree[], expectBackend?: string, extraArgs?: Record<string, unknown>): void {
  for (const backend of BACKENDS) {
    const ref = new ReferenceRun(tx, params());
    const s = compile(tx, params(), { backend });
    if (expectBackend) assert.equal(s.backend, expectBackend === 'kernel' ? backend : expectBackend);
    grads.forEach((g, i) => {
      ref.step(cloneTree(g), extraArgs);
      s.step(cloneTree(g), extraArgs);
      assertBitEqual(s.params, ref.params, `${backend} step ${i + 1} params`);
      assertBitEqual(s.state, ref.state, `${backend} step ${i + 1} state`);
    });
    s.dispose();
  }
}

test('applyIfFinite around a chain is fused (a finiteness check, then the chain traced as optax runs it), with its state laid out as optax does', () => {
  const tx = applyIfFinite(adamax(0.1), { maxConsecutiveErrors: 1 });
  const params = () => ({ w: f32(1, 2, -0), b: f64(-1) });
  const grads = [{ w: f32(1, 2, 3), b: f64(1) }, { w: f32(NaN, 2, 3), b: f64(1) }, { w: f32(Infinity, 2, 3), b: f64(1) }, { w: f32(-1, 0, 1), b: f64(2) }];
  for (const backend of ['wasm', 'js', 'interpreter'] as const) {
    const ref = new ReferenceRun(tx, params());
    const s = compile(tx, params(), { backend });
    assert.equal(s.backend, backend);
    grads.forEach((g, i) => {
      ref.step(cloneTree(g));
      s.step(cloneTree(g));
      assertBitEqual(s.params, ref.params, `${backend} step ${i + 1} params`);
      assertBitEqual(s.state, ref.state, `${backend} step ${i + 1} state`);
    });
    s.dispose();
  }
  const auto = compile(tx, params());
  assert.equal(auto.backend, 'wasm');
  auto.step(grads[1]);
  assert.equal(auto.state.notfinite_count, 1);
  assert.equal(auto.state.last_finite, false);
  // Loading a state is validated against the layout, counters included.
  assert.throws(() => auto.setState({ ...auto.state, inner_state: [auto.state.inner_state[0]] } as never), (e: unknown) => e instanceof OptaxError && /^state\.inner_state: .*expected a list of 2/.test(e.message));
  assert.throws(() => auto.setState({ ...auto.state, notfinite_count: 'x' } as never), (e: unknown) => e instanceof OptaxError && /apply_if_finite/.test(e.message));
  auto.setState({ ...auto.state, notfinite_count: 5, total_notfinite: 7 });
  assert.equal(auto.state.notfinite_count, 5);
  assert.equal(auto.state.total_notfinite, 7);
  auto.dispose();
  // Inside a chain it is fused too (test/engine/nested-guard.test.ts); after a stage that computes
  // its input (other than clipByGlobalNorm), it runs on the reference path, exactly.
  checkParity(chain(applyIfFinite(adamax(0.1), { maxConsecutiveErrors: 1 }), scale(1)), params, grads, 'kernel');
  const after = chain(scale(2), applyIfFinite(adamax(0.1), { maxConsecutiveErrors: 1 }));
  checkParity(after, params, grads, 'reference');
  const s = compile(after, params());
  assert.match(s.referenceReason!, /apply_if_finite after scale is not fused/);
  s.dispose();
});

test('on the reference path, a state that holds the params is detached from the in-place updates', () => {
  // A transformation keeping the params it saw (as optax's lookahead-style wrappers do); its state
  // must not change when the engine later updates the params in place.
  const keep: GradientTransformation<{ last: Tree }> = {
    name: 'keep_params',
    init: (p) => ({ last: p }),
    update: (u, _s, p) => [u, { last: p! }],
  };
  checkParity(chain(keep, scale(-0.5)), () => ({ w: f32(1, 2) }), [{ w: f32(1, 1) }, { w: f32(2, 2) }, { w: f32(3, 3) }], 'reference');
});

test('array (broadcast) hyperparameters are fused: each a stream broadcast to every leaf, both dtypes', () => {
  const tx = chain(scaleByAdamax({ b1: new ShapedArray(f32(0.9, 0.5), [2]), eps: new ShapedArray(f64(1e-8, 0.3), [2]) }), scale(-0.1));
  const params = () => ({ w: new ShapedArray(f32(1, 2, 3, 4), [2, 2]), b: f64(-1, 1e-310), c: new ShapedArray(f64(1, 2, 3, 4, 5, 6), [3, 1, 2]) });
  const grads = [1, -2, 0.3].map((k) => ({ w: new ShapedArray(f32(k, -k, 2 * k, NaN), [2, 2]), b: f64(k / 3, -0), c: new ShapedArray(f64(k, 1, -k, 1e-320, 0, 7), [3, 1, 2]) }));
  checkParity(tx, params, grads, 'kernel');
  const s = compile(tx, params(), { fallback: 'error' });
  assert.equal(s.referenceReason, undefined);
  s.dispose();
});

test('an array hyperparameter that does not broadcast against a leaf throws the reference path\'s error at the step, and nothing changes', () => {
  const tx = chain(scaleByAdamax({ b1: new ShapedArray(f32(0.9, 0.5, 0.1), [3]) }), scale(-0.1));
  const params = () => ({ w: new ShapedArray(f32(1, 2, 3, 4), [2, 2]) });
  const ref = new ReferenceRun(tx, params());
  let expected: Error | undefined;
  try { ref.step({ w: new ShapedArray(f32(1, 1, 1, 1), [2, 2]) }); } catch (e) { expected = e as Error; }
  assert.ok(expected instanceof OptaxError);
  for (const backend of BACKENDS) {
    const s = compile(tx, params(), { backend, fallback: 'error' });
    const before = cloneState({ p: s.params, s: s.state });
    assert.throws(() => s.step({ w: new ShapedArray(f32(1, 1, 1, 1), [2, 2]) }), { message: expected.message });
    assertBitEqual({ p: s.params, s: s.state }, before);
    s.dispose();
  }
});

test('a step whose scalars cannot be fused (an array, an unrounded float32) runs on the reference path; the others stay fused', () => {
  // A definition whose scalar is not a float32 at step 1 (breaking the contract that scalars come
  // rounded) and an array at step 2: those steps must still match the reference exactly. The
  // unrounded value 2^-25 + 2^-50 added to 0.5 rounds up in double-then-float32 (the reference) but
  // ties to 0.5 once rounded to float32 first (a float32 kernel argument).
  const odd = elementwise<{ count: number }, { count: number; acc: Tree }>({
    name: 'odd',
    kernel: { updates: ex.mul(ex.scalar('k'), ex.updates), state: { acc: ex.add(ex.state('acc'), ex.scalar('k')) } },
    stateLeaves: ['acc'],
    initControl: () => ({ count: 0 }),
    checkControl: () => {},
    advance: ({ count }) => ({ count: count + 1 }),
    scalars: ({ count }, dtype) => ({ k: count === 1 ? 2 ** -25 + 2 ** -50 : count === 2 ? new ShapedArray(dtype === 'float32' ? f32(2, 3) : f64(2, 3), [2]) : 0.5 }),
  });
  const grads = [1, 2, 3, 4].map((v) => ({ w: f32(v, -v), b: f64(v, v) }));
  checkParity(chain(odd, scale(-1)), () => ({ w: f32(1, 2), b: f64(3, 4) }), grads, 'kernel');
});

test('extra arguments reach the scalars of fused stages', () => {
  const byLoss = elementwise<Record<string, never>, Record<string, never>>({
    name: 'scale_by_loss',
    kernel: { updates: ex.mul(ex.scalar('loss'), ex.updates), state: {} },
    stateLeaves: [],
    initControl: () => ({}),
    checkControl: () => {},
    advance: (c) => c,
    scalars: (_c, dtype, extra) => ({ loss: roundTo(dtype, (extra?.loss as number) ?? 1) }),
  });
  checkParity(chain(byLoss, scale(-1)), () => ({ w: f32(1, 2) }), [{ w: f32(1, 1) }, { w: f32(2, 2) }], 'kernel', { loss: 0.3 });
});

test('a step that throws (a schedule rejecting a step) throws what the reference throws and changes nothing', () => {
  const lr = (count: number) => (count < 2 ? 0.1 : -1); // negative at step 2: rejected
  for (const backend of BACKENDS) {
    const s = compile(adamax(lr), { w: f32(1, 2) }, { backend });
    s.step({ w: f32(1, 1) });
    s.step({ w: f32(1, 1) });
    const params = cloneTree(s.params), mu = cloneTree(s.state[0].mu), grads = cloneTree(s.grads);
    assert.throws(() => s.step({ w: f32(5, 5) }), /scale_by_learning_rate: learning rate must be >= 0, got -1/);
    assertBitEqual(s.params, params);
    assertBitEqual(s.state[0].mu, mu);
    assertBitEqual(s.grads, grads);
    assert.equal(s.state[0].count, 2);
    s.dispose();
  }
});

test('kernels whose outputs are other streams of the same step (swapped state) are exact on every backend', () => {
  // `b` is computed, then `a` takes the old `b` and `c` the old params: an evaluator that stores the
  // outputs one by one (params first, then the state in key order) must not read what it already wrote.
  const swap = elementwise<Record<string, never>, { a: Tree; b: Tree; c: Tree }>({
    name: 'swap',
    kernel: { updates: ex.add(ex.state('a'), ex.updates), state: { b: ex.add(ex.state('a'), ex.params), a: ex.state('b'), c: ex.params } },
    stateLeaves: ['a', 'b', 'c'],
    initControl: () => ({}),
    checkControl: () => {},
    advance: (c) => c,
    scalars: () => ({}),
  });
  checkParity(swap, () => ({ w: f32(1, 2, 3), v: f64(-1) }), [1, 2, 3].map((k) => ({ w: f32(k, k, -k), v: f64(k) })), 'kernel');
});

test('clipByGlobalNorm fuses at the start of a chain (norm in optax order, both dtypes) and falls back elsewhere', () => {
  const params = () => ({ a: f32(1, 2, 3), b: f64(4, 5), c: new ShapedArray(f32(1, 1, 1, 1), [2, 2]) });
  const grads = [{ a: f32(3, 4, 5), b: f64(1e-3, 2), c: new ShapedArray(f32(0.5, 0.5, 0.5, 0.5), [2, 2]) }, { a: f32(0, 0, 0), b: f64(0, 0), c: new ShapedArray(f32(0, 0, 0, -0), [2, 2]) }, { a: f32(NaN, 1, 1), b: f64(1, 1), c: new ShapedArray(f32(1, 1, 1, 1), [2, 2]) }];
  checkParity(chain(clipByGlobalNorm(1), scaleByAdamax(), scaleByLearningRate(0.1)), params, grads, 'kernel');
  checkParity(chain(scaleByAdamax(), clipByGlobalNorm(1), scaleByLearningRate(0.1)), params, grads, 'reference');
});

test('clipByGlobalNorm on trees with rank-0 and one-element leaves (XLA divides those, multiplies the others by 1/norm) is fused bit-identically', () => {
  const scalar = (x: number) => new ShapedArray(f32(x), []);
  const params = () => ({ a: f32(1, 2, 3), s: scalar(0.5), o: f32(-2), d: f64(7) });
  // Norms well above 1, with values where g / n and g * (1 / n) round differently.
  const grads = [1, 2, 3, 4, 5, 6].map((k) => ({ a: f32(3.1 * k, -4.7, 5.3), s: scalar(9.7 / k), o: f32(-6.1 * k), d: f64(2.3 * k) }));
  checkParity(chain(clipByGlobalNorm(1), scaleByAdamax(), scaleByLearningRate(0.1)), params, grads, 'kernel');
  // Only one-element leaves: the division stage alone.
  checkParity(chain(clipByGlobalNorm(1), scaleByLearningRate(0.1)), () => ({ s: scalar(1), o: f32(2) }), grads.map((g) => ({ s: g.s, o: g.o })), 'kernel');
  // One one-element leaf: scale_by_adamax divides by its bias correction.
  checkParity(chain(scaleByAdamax({ b1: 0.99 }), scaleByLearningRate(0.1)), () => ({ o: f32(2) }), grads.map((g) => ({ o: g.o })), 'kernel');
});

test("fallback: 'error' makes a transformation that cannot be fused an OptaxError at compile time, with the reason; the default runs it on the reference path and says why", () => {
  const opaque: GradientTransformation<Record<string, never>> = { name: 'opaque', init: () => ({}), update: (u, s) => [u, s] };
  const tx = chain(opaque, adamax(0.1));
  assert.throws(() => compile(tx, { w: f32(1) }, { fallback: 'error' }), (e: unknown) => e instanceof OptaxError && /compile: chain cannot be fused: opaque cannot be fused/.test(e.message));
  const lax = compile(tx, { w: f32(1) });
  assert.equal(lax.backend, 'reference');
  assert.match(lax.referenceReason!, /opaque cannot be fused/);
  lax.dispose();
  const strict = compile(adamax(0.1), { w: f32(1) }, { fallback: 'error' });
  assert.notEqual(strict.backend, 'reference');
  assert.equal(strict.referenceReason, undefined);
  strict.dispose();
  assert.throws(() => compile(adamax(0.1), { w: f32(1) }, { fallback: 'never' as never }), (e: unknown) => e instanceof OptaxError && /fallback must be/.test(e.message));
});

test("fallback: 'error' makes a fused step that would need the reference path throw, changing nothing", () => {
  // A mask function whose selection changes between steps: by default that step runs on the reference
  // path; strict, it throws before anything is written.
  const positive = (tree: Tree) => ({ a: (tree as { a: Float32Array }).a[0] > 0, b: true });
  const tx = chain(scaleByAdamax(), masked(scale(2), positive), scaleByLearningRate(0.1));
  const strict = compile(tx, { a: f32(1), b: f32(2) }, { fallback: 'error' });
  strict.step({ a: f32(1), b: f32(1) });
  const before = cloneTree(strict.params), state = structuredClone(strict.state);
  assert.throws(() => strict.step({ a: f32(-1), b: f32(1) }), (e: unknown) => e instanceof OptaxError && /cannot run fused \(a mask or labels function selects other leaves/.test(e.message));
  assertBitEqual(strict.params, before, 'params unchanged');
  assertBitEqual(strict.state, state, 'state unchanged');
  strict.dispose();
});

test('a mask or label tree changed after compile is read again, as optax reads it at every update: the step follows it (or throws what optax throws)', () => {
  const mask: Record<string, boolean> = { a: true, b: false };
  const labels: Record<string, string> = { a: 'x', b: 'y' };
  for (const tx of [chain(scaleByAdamax(), masked(scale(2), mask), scaleByLearningRate(0.1)), chain(scaleByAdamax(), partition({ x: scale(2), y: scale(-1) }, labels), scaleByLearningRate(0.1))]) {
    mask.b = false;
    labels.b = 'y';
    const params = () => ({ a: f32(1), b: f32(2) });
    const fused = compile(tx as GradientTransformation<unknown>, params());
    assert.notEqual(fused.backend, 'reference');
    const reference = new ReferenceRun(tx as GradientTransformation<unknown>, params());
    const grads = () => ({ a: f32(1), b: f32(1) });
    fused.step(grads());
    reference.step(grads());
    mask.b = true;
    labels.b = 'x';
    fused.step(grads());
    reference.step(grads());
    assertBitEqual(fused.params, reference.params, 'after the change');
    mask.b = false;
    labels.b = 'y';
    fused.step(grads());
    reference.step(grads());
    assertBitEqual(fused.params, reference.params, 'changed back');
    fused.dispose();
  }
  // A change that makes optax throw (the inner state no longer matches the mask) throws the same error.
  const inner: Record<string, boolean> = { a: true, b: false };
  const stateful = masked(adamax(0.1), inner) as GradientTransformation<unknown>;
  const fused = compile(stateful, { a: f32(1), b: f32(2) }, { fallback: 'error' });
  fused.step({ a: f32(1), b: f32(1) });
  inner.b = true;
  assert.throws(() => fused.step({ a: f32(1), b: f32(1) }), (e: unknown) => e instanceof OptaxError && /a mask or labels tree changed since compile/.test(e.message));
  fused.dispose();
  inner.b = false;
  const lax = compile(stateful, { a: f32(1), b: f32(2) });
  lax.step({ a: f32(1), b: f32(1) });
  inner.b = true;
  assert.throws(() => lax.step({ a: f32(1), b: f32(1) }), (e: unknown) => e instanceof OptaxError && /b/.test(e.message));
  lax.dispose();
});

test('applyIfFinite around a chain that starts with clipByGlobalNorm is fused: the finiteness pass, the norm, then the chain, as the reference path runs them', () => {
  const tx = applyIfFinite(chain(clipByGlobalNorm(1), adamax(0.1)), { maxConsecutiveErrors: 1 });
  const params = () => ({ w: f32(1, 2, -0), b: f64(-1, 3) });
  const grads = [{ w: f32(1, 2, 3), b: f64(1, 0.5) }, { w: f32(NaN, 2, 3), b: f64(1, 1) }, { w: f32(1e-3, 2e-3, 0), b: f64(1e-4, 0) }, { w: f32(Infinity, 2, 3), b: f64(1, 1) }, { w: f32(-Infinity, 0, 1), b: f64(2, 2) }, { w: f32(-1, 0, 1), b: f64(2, -0) }];
  checkParity(tx, params, grads, 'kernel');
  const s = compile(tx, params(), { fallback: 'error' });
  assert.notEqual(s.backend, 'reference');
  s.dispose();
});

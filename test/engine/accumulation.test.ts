/**
 * MultiSteps in the engine: the accumulator lives in the arena; each mini-step is one pass (the
 * running mean, and p + 0 * y); each k-th step runs the inner chain; a skip function is called with
 * the gradients as in optax. State layout, setState mid-accumulation, and the reasons it does not fuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/engine/compile.js';
import { OptaxError } from '../../src/core/errors.js';
import { adamax } from '../../src/alias/adamax.js';
import { chain } from '../../src/transforms/chain.js';
import { scale } from '../../src/transforms/scale.js';
import { masked } from '../../src/transforms/masked.js';
import { MultiSteps, multiSteps } from '../../src/transforms/multi-steps.js';
import { skipLargeUpdates, skipNotFinite } from '../../src/transforms/skip-updates.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import { ReferenceRun, assertBitEqual, cloneState, cloneTree } from './support.js';

const f32 = (...v: number[]) => new Float32Array(v);
const f64 = (...v: number[]) => new Float64Array(v);
const params = () => ({ a: f32(1, 2, -0), b: f32(-1, 0.5) });
const grads = (i: number) => ({ a: f32(i, -1, i % 3 === 2 ? NaN : 2), b: f32(0.5 * i, -0) });

test('multiSteps(adamax) is fused on every backend: emitting and accumulating passes, state as optax lays it out, setState mid-accumulation', () => {
  const ms = new MultiSteps(adamax(0.1), { everyKSchedule: 3 });
  const tx = ms.gradientTransformation();
  for (const backend of ['wasm', 'js', 'interpreter'] as const) {
    const ref = new ReferenceRun(tx, params());
    const s = compile(tx, params(), { backend, fallback: 'error' });
    assert.equal(s.backend, backend);
    for (let i = 0; i < 8; i++) {
      if (i === 4) {
        // A checkpoint taken mid-accumulation, loaded back into both.
        const saved = structuredClone(ref.state) as typeof ref.state;
        s.setState(saved as never);
        ref.state = structuredClone(saved);
      }
      ref.step(cloneTree(grads(i)));
      s.step(cloneTree(grads(i)));
      assertBitEqual(s.params, ref.params, `${backend} step ${i + 1} params`);
      assertBitEqual(s.state, ref.state, `${backend} step ${i + 1} state`);
      assert.equal(ms.hasUpdated(s.state as never), ms.hasUpdated(ref.state as never));
    }
    assert.deepEqual(Object.keys(s.state as object), ['mini_step', 'gradient_step', 'inner_opt_state', 'acc_grads', 'skip_state']);
    s.dispose();
  }
});

test('a skip function is called with the gradients, gradient_step and params, as the reference calls it', () => {
  const seen: number[] = [];
  const skipNaN = (u: any, step: number): [boolean, unknown] => { seen.push(step); return [Number.isNaN(u.a[2]), { step }]; };
  const tx = multiSteps(adamax(0.1), { everyKSchedule: 2, shouldSkipUpdateFn: skipNaN });
  const ref = new ReferenceRun(tx, params());
  const s = compile(tx, params(), { fallback: 'error' });
  for (let i = 0; i < 7; i++) {
    ref.step(cloneTree(grads(i)));
    s.step(cloneTree(grads(i)));
    assertBitEqual(s.params, ref.params, `step ${i + 1} params`);
    assertBitEqual(s.state, ref.state, `step ${i + 1} state`);
  }
  s.dispose();
});

test('skipNotFinite and skipLargeUpdates, computed by the engine on its gradient views: bit-identical to the reference (skipped steps, states, -0, windows of many leaves, mixed dtypes), on every backend; the state read is a snapshot', () => {
  // 1 leaf, mixed dtypes, and 40 leaves (the leaf sums added in XLA's 32-wide windows, in lanes).
  const trees: (() => Record<string, Float32Array | Float64Array>)[] = [
    () => ({ w: f32(1, -2, 0.5, 3) }),
    () => ({ a: f32(1, 2, -0), b: f64(-1, 0.5), c: f32(3) }),
    () => Object.fromEntries(Array.from({ length: 40 }, (_, j) => [`l${String(j).padStart(2, '0')}`, j % 3 === 0 ? f64(j, -j / 3) : f32(Math.cos(j) * 2 ** (j % 9), 1 / (j + 1))])),
  ];
  // Gradients of step i: some with a NaN or an infinity, some large (their squared norm past 50).
  const gradsOf = (tree: Record<string, Float32Array | Float64Array>, i: number) => Object.fromEntries(Object.entries(tree).map(([k, v], j) => [k, v.map((_, e) => {
    if (j === 0 && e === 0 && i % 5 === 3) return i % 2 ? NaN : -Infinity;
    return (i % 4 === 1 ? 9 : 0.25) * Math.sin(i + 3 * j + e) + (e === 1 && i % 3 === 0 ? -0 : 0);
  })]));
  for (const [name, fn] of [['skipNotFinite', skipNotFinite], ['skipLargeUpdates(50)', skipLargeUpdates(50)], ['skipLargeUpdates(Infinity)', skipLargeUpdates(Infinity)]] as const) {
    for (const make of trees) {
      for (const [backend, threads] of [['js', 1], ['wasm', 1], ['wasm', 2]] as const) {
        const tx = multiSteps(adamax(0.1), { everyKSchedule: 2, shouldSkipUpdateFn: fn });
        const ref = new ReferenceRun(tx, make());
        const s = compile(tx, make(), { backend, threads, minElementsPerThread: 1, fallback: 'error' });
        const at = `${name}, ${Object.keys(make()).length} leaves, ${backend} ${threads}t`;
        let snapshot: unknown, copy: unknown;
        for (let i = 0; i < 12; i++) {
          const g = gradsOf(make(), i);
          ref.step(cloneTree(g));
          // In place: the engine's own computation of the skip function.
          for (const [k, v] of Object.entries(g)) (s.grads as Record<string, Float32Array | Float64Array>)[k].set(v);
          s.step();
          assertBitEqual(s.params, ref.params, `${at}: step ${i + 1} params`);
          assertBitEqual(s.state, ref.state, `${at}: step ${i + 1} state`);
          if (i === 5) {
            snapshot = (s.state as { skip_state: unknown }).skip_state;
            copy = structuredClone(snapshot);
          }
          if (i === 8) {
            // A checkpoint loaded back mid-run.
            const saved = cloneState(ref.state);
            s.setState(saved as never);
            ref.state = cloneState(saved);
          }
        }
        // A state read earlier does not change with later steps (the engine writes its own copy in place).
        assert.deepEqual(snapshot, copy, at);
        s.dispose();
      }
    }
  }
});

test('what MultiSteps fusion does not cover is reported: float64 accumulators for float32 params, nested MultiSteps, mask functions inside', () => {
  const p64 = () => ({ w: f64(1, 2) });
  const reason = (tx: Parameters<typeof compile>[0], p: () => any) => {
    assert.throws(() => compile(tx, p(), { fallback: 'error' }), OptaxError);
    const s = compile(tx, p());
    assert.equal(s.backend, 'reference');
    const r = s.referenceReason!;
    s.dispose();
    return r;
  };
  assert.match(reason(multiSteps(adamax(0.1), { everyKSchedule: 2, accumulatorDtype: 'float64' }), params), /float64 accumulator over float32 params/);
  assert.match(reason(chain(multiSteps(adamax(0.1), { everyKSchedule: 2 }), scale(1)), params), /only around the whole transformation/);
  assert.match(reason(multiSteps(chain(masked(scale(2), () => ({ a: true, b: false })), adamax(0.1)), { everyKSchedule: 2 }), params), /mask or labels function inside it/);
  // float64 params fuse with every accumulator dtype (optax's float32 default included).
  for (const accumulatorDtype of [null, 'float32', 'float64'] as const) {
    const s = compile(multiSteps(adamax(0.1), { everyKSchedule: 2, accumulatorDtype }), p64(), { fallback: 'error' });
    assert.notEqual(s.backend, 'reference');
    s.dispose();
  }
});

test('a float32 accumulator over float64 params (optax\'s default) is fused: the mean computed in float64, stored rounded to float32, on every backend and 1 or 2 threads', () => {
  // Values whose running mean is not a float32 (1/3, 0.1): the rounding on store shows.
  const p = () => ({ a: f64(1, 2, -0, 3, 1e-300, 5, 6, 7, 8), b: f32(-1, 0.5), c: new ShapedArray(f64(0.25), []) });
  const g = (i: number) => ({ a: f64(i / 3, -0.1, i % 3 === 2 ? NaN : 2, 1e-310, 1e300, -i, 7 / 3, 1e-45, -0), b: f32(0.5 * i, -0), c: new ShapedArray(f64(i / 7), []) });
  const tx = multiSteps(adamax(0.1), { everyKSchedule: 3 });
  for (const backend of ['wasm', 'js', 'interpreter'] as const) {
    for (const threads of [1, 2]) {
      const ref = new ReferenceRun(tx, p());
      const s = compile(tx, p(), { backend, threads, minElementsPerThread: 1, fallback: 'error' });
      for (let i = 0; i < 8; i++) {
        if (i === 4) {
          const saved = cloneState(ref.state);
          s.setState(saved as never);
          ref.state = cloneState(saved);
        }
        ref.step(cloneTree(g(i)));
        s.step(cloneTree(g(i)));
        assertBitEqual(s.params, ref.params, `${backend}/${threads} step ${i + 1} params`);
        assertBitEqual(s.state, ref.state, `${backend}/${threads} step ${i + 1} state`);
      }
      const acc = (s.state as unknown as { acc_grads: { a: Float32Array | Float64Array } }).acc_grads.a;
      assert.ok(acc instanceof Float32Array, 'the accumulator of float64 params is float32');
      // A float64 accumulator in a checkpoint does not fit: the error names the path and the dtype.
      assert.throws(() => s.setState({ ...(s.state as object), acc_grads: p() } as never), /state\.acc_grads\.a: dtype mismatch: .*float64.*float32 accumulator/);
      s.dispose();
    }
  }
});

test('multiSteps with skipLargeUpdates under subnormals: \'flush\': the skip function runs in XLA\'s mode, as the reference runs it (a square below the normal range is 0)', async () => {
  const { withFlushedSubnormals } = await import('../../src/index.js');
  const tx = () => multiSteps(scale(0), { everyKSchedule: 2, shouldSkipUpdateFn: skipLargeUpdates(1e6) });
  const g = { w: f32(8.131516e-20, 0) }; // 8.13e-20 ** 2 = 6.6e-39: subnormal in float32, flushed to 0
  const ref = new ReferenceRun(tx(), { w: f32(1, 2) });
  withFlushedSubnormals(() => ref.step(g));
  assert.equal((ref.state as any).skip_state.norm_squared, 0);
  for (const backend of ['wasm', 'js', 'interpreter'] as const) {
    const s = compile(tx(), { w: f32(1, 2) }, { backend, subnormals: 'flush' });
    s.step(g);
    assertBitEqual(s.state, ref.state, `${backend}: state`);
    s.dispose();
  }
});

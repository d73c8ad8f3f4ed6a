/**
 * The Stepper API: views (structure, forms, alignment, zero-copy), step with and without a gradient
 * tree, validation errors naming the path and changing nothing, the state getter/setter (optax's
 * layout, usable with the pure API, checkpoint round trip), options, dispose.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/engine/compile.js';
import { OptaxError } from '../../src/core/errors.js';
import { registerThreadPlatform } from '../../src/engine/thread-platform.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import { adamax } from '../../src/alias/adamax.js';
import { chain } from '../../src/transforms/chain.js';
import { scale } from '../../src/transforms/scale.js';
import { scaleByAdamax } from '../../src/transforms/scale-by-adamax.js';
import { applyUpdates } from '../../src/transforms/apply-updates.js';
import { ReferenceRun, assertBitEqual, cloneTree } from './support.js';

const f32 = (...v: number[]) => new Float32Array(v);
const f64 = (...v: number[]) => new Float64Array(v);

function params() {
  return { layer: { w: new ShapedArray(f32(1, 2, 3, 4, 5, 6), [2, 3]), b: f64(0.5, -0.5) }, skip: null, list: [f32(7), f32()] };
}
function grads() {
  return { layer: { w: new ShapedArray(f32(0.1, -0.2, 0.3, -0.4, 0.5, NaN), [2, 3]), b: f64(1e-300, -2) }, skip: null, list: [f32(Infinity), f32()] };
}

test('views mirror the params: structure, key order, nulls, ShapedArray forms, dtypes; aligned, zero-copy', () => {
  const input = params();
  const s = compile(adamax(0.01), input, { backend: 'js' });
  assert.deepEqual(Object.keys(s.params), ['layer', 'skip', 'list']);
  assert.deepEqual(Object.keys(s.params.layer), ['w', 'b']);
  assert.equal(s.params.skip, null);
  assert.ok(s.params.layer.w instanceof ShapedArray && s.grads.layer.w instanceof ShapedArray);
  assert.deepEqual(s.params.layer.w.shape, [2, 3]);
  assert.ok(s.params.layer.b instanceof Float64Array && s.grads.list[0] instanceof Float32Array);
  assertBitEqual(s.params, input);
  assert.notEqual(s.params.layer.b, input.layer.b); // copied in
  for (const v of [s.params.layer.w.data, s.params.layer.b, s.grads.list[0], s.grads.layer.b]) assert.equal(v.byteOffset % 64, 0);
  // Writing the gradients into the views is all a step needs.
  s.grads.list[0][0] = 2;
  s.step();
  const ref = new ReferenceRun(adamax(0.01), params());
  ref.step({ layer: { w: new ShapedArray(new Float32Array(6), [2, 3]), b: f64(0, 0) }, skip: null, list: [f32(2), f32()] });
  assertBitEqual(s.params, ref.params);
  assertBitEqual(input, params()); // the caller's arrays are never touched
  s.dispose();
});

test('step(grads) copies a foreign tree into stepper.grads; the state has optax layout and works with the pure API', () => {
  const tx = adamax(0.05);
  const s = compile(tx, params());
  const ref = new ReferenceRun(tx, params());
  for (let i = 0; i < 3; i++) { s.step(grads()); ref.step(grads()); }
  assertBitEqual(s.grads, grads());
  assertBitEqual(s.params, ref.params);
  assertBitEqual(s.state, ref.state);
  assert.equal(s.state[0].count, 3);
  // The state is an ordinary optax state: the pure API accepts it (and does not change the views).
  const before = cloneTree(s.state[0].mu);
  const [u, next] = tx.update(grads(), s.state, s.params);
  assert.equal(next[0].count, 4);
  assertBitEqual(s.state[0].mu, before);
  assertBitEqual(applyUpdates(s.params, u), (() => { ref.step(grads()); return ref.params; })());
  s.dispose();
});

test('a foreign gradient tree that does not fit throws an OptaxError naming the path, and changes nothing', () => {
  const s = compile(adamax(0.05), params());
  s.step(grads());
  const snapshot = { params: cloneTree(s.params), grads: cloneTree(s.grads), mu: cloneTree(s.state[0].mu), count: s.state[0].count };
  const bad: [unknown, RegExp][] = [
    [{ ...grads(), layer: { w: grads().layer.w } }, /^grads\.layer: grads does not match params: missing key\(s\) b/],
    [{ ...grads(), layer: { ...grads().layer, b: f32(1, 2) } }, /^grads\.layer\.b: dtype mismatch: grads leaf is float32, params leaf is float64/],
    [{ ...grads(), layer: { ...grads().layer, w: new ShapedArray(f32(1, 2, 3, 4, 5, 6), [3, 2]) } }, /^grads\.layer\.w: shape mismatch: grads leaf has shape \[3, 2\], params leaf has shape \[2, 3\]/],
    [{ ...grads(), list: [f32(1, 2), f32()] }, /^grads\.list\[0\]: shape mismatch/],
    [{ ...grads(), skip: f32(1) }, /^grads\.skip: grads does not match params: expected null/],
    [{ ...grads(), list: [f32(1)] }, /^grads\.list: grads does not match params: expected a list of 2/],
  ];
  for (const [tree, message] of bad) {
    assert.throws(() => s.step(tree as never), (e: unknown) => e instanceof OptaxError && message.test(e.message));
    assertBitEqual(s.params, snapshot.params);
    assertBitEqual(s.grads, snapshot.grads);
    assertBitEqual(s.state[0].mu, snapshot.mu);
    assert.equal(s.state[0].count, snapshot.count);
  }
  s.dispose();
});

test('setState loads a checkpoint (validated first) and the run continues exactly', () => {
  const tx = adamax(0.05);
  const a = compile(tx, params(), { backend: 'wasm' });
  for (let i = 0; i < 2; i++) a.step(grads());
  const checkpoint = { params: cloneTree(a.params), state: [{ ...a.state[0], mu: cloneTree(a.state[0].mu), nu: cloneTree(a.state[0].nu) }, a.state[1]] };
  a.step(grads());
  const b = compile(tx, checkpoint.params, { backend: 'interpreter' });
  b.state = checkpoint.state as typeof b.state;
  b.step(grads());
  assertBitEqual(b.params, a.params);
  assertBitEqual(b.state, a.state);
  // Loading the stepper's own live state back is harmless.
  b.setState(b.state);
  assertBitEqual(b.state, a.state);
  a.dispose();
  b.dispose();
});

test('setState rejects a state that does not fit, naming the path, and changes nothing', () => {
  const s = compile(adamax(0.05), params());
  s.step(grads());
  const good: any = s.state; // edited freely below, to build broken states
  const mu = cloneTree(good[0].mu);
  const cases: [unknown, RegExp][] = [
    [[good[0]], /^state: this state does not fit the compiled transformation: expected a list of 2 states \(chain\)/],
    [[{ ...good[0], count: -1 }, good[1]], /^state\[0\]: scale_by_adamax: state\.count must be a non-negative int32/],
    [[{ count: 1, mu: good[0].mu }, good[1]], /^state\[0\]: scale_by_adamax: this state does not belong to scale_by_adamax/],
    [[{ ...good[0], nu: { ...good[0].nu, layer: { ...good[0].nu.layer, b: f64(1) } } }, good[1]], /^state\[0\]\.nu\.layer\.b: shape mismatch/],
    [[{ ...good[0], mu: { ...good[0].mu, layer: { ...good[0].mu.layer, w: f64(1, 2, 3, 4, 5, 6) } } }, good[1]], /^state\[0\]\.mu\.layer\.w: dtype mismatch: state\[0\]\.mu leaf is float64, params leaf is float32/],
    [[good[0], { count: 0 }], /^state\[1\]: scale: this state does not belong to scale/],
  ];
  for (const [state, message] of cases) {
    assert.throws(() => s.setState(state as never), (e: unknown) => e instanceof OptaxError && message.test(e.message), String(message));
    assertBitEqual(s.state[0].mu, mu);
    assert.equal(s.state[0].count, 1);
  }
  s.dispose();
});

test('options: backend and threads are reported; bad options throw', () => {
  const tiny = { w: f32(1, 2) };
  for (const backend of ['wasm', 'js', 'interpreter'] as const) {
    const s = compile(adamax(0.1), tiny, { backend });
    assert.equal(s.backend, backend);
    assert.equal(s.threads, 1); // a tiny tree is not worth a thread
    assert.equal(s.referenceReason, undefined);
    s.dispose();
  }
  assert.equal(compile(adamax(0.1), tiny).backend, 'wasm');
  assert.throws(() => compile(adamax(0.1), tiny, { threads: 0 }), /threads must be an integer from 1 to 64/);
  assert.throws(() => compile(adamax(0.1), tiny, { backend: 'gpu' as never }), /backend must be/);
  assert.throws(() => compile(adamax(0.1), tiny, { minElementsPerThread: 0.5 }), /minElementsPerThread/);
  assert.throws(() => compile({} as never, tiny), /not a gradient transformation/);
  assert.throws(() => compile(adamax(0.1), { w: [1, 2] } as never), /^OptaxError: params\.w: expected an array leaf|params\.w/);
});

test('options are validated (types, ranges, unknown keys, own plain values) before any worker starts', () => {
  let spawned = 0;
  registerThreadPlatform({ name: 'counting', parallelism: () => 2, mainCanBlock: true, spawn: () => { spawned++; throw new Error('no workers in this test'); } });
  try {
    const big = { w: new Float32Array(1 << 10) };
    const bad: [unknown, RegExp][] = [
      [{ threads: 1e6, minElementsPerThread: 1 }, /^OptaxError: compile: threads must be an integer from 1 to 64, got 1000000$/],
      [{ threads: 65, minElementsPerThread: 1 }, /threads must be an integer from 1 to 64, got 65/],
      [{ threads: Infinity }, /threads must be .* got Infinity/],
      [{ threads: NaN }, /got NaN/],
      [{ threads: '2' }, /threads must be .* got "2"/],
      [{ threads: 2n }, /got 2n/],
      [{ threads: -1 }, /got -1/],
      [{ minElementsPerThread: 2 ** 60 }, /minElementsPerThread must be an integer >= 1/],
      [{ minElementsPerThread: '1' }, /minElementsPerThread must be/],
      [{ backend: 'WASM' }, /backend must be 'auto', 'wasm', 'js' or 'interpreter', got "WASM"/],
      [{ backend: null }, /backend must be .* got null/],
      [{ workerTimeout: 0 }, /workerTimeout must be an integer number of milliseconds from 1 to 2\^31 - 1, got 0/],
      [{ workerTimeout: 2 ** 31 }, /workerTimeout must be/],
      [{ workerTimeout: 1.5 }, /workerTimeout must be/],
      [{ workerJournal: 1 }, /workerJournal must be true or false, got 1/],
      [{ thread: 4 }, /^OptaxError: compile: unknown option thread; the options are threads, backend, minElementsPerThread, fallback, workerTimeout, workerJournal, subnormals, masks$/],
      [{ subnormals: 'ftz' }, /^OptaxError: compile: subnormals must be 'ieee' or 'flush', got "ftz"$/],
      [{ subnormals: true }, /subnormals must be 'ieee' or 'flush', got true/],
      [{ masks: 'always' }, /^OptaxError: compile: masks must be 'every-step' or 'once', got "always"$/],
      [{ ['\u001b[2J' + 'x'.repeat(100)]: 1 }, /unknown option "\\u001b\[2Jx+"/],
      [null, /^OptaxError: compile: options must be a plain object, got null$/],
      [[], /options must be a plain object/],
      [4, /options must be a plain object/],
      [{ get threads() { return 2; } }, /option threads is a getter or setter/],
    ];
    for (const [options, message] of bad) {
      assert.throws(() => compile(adamax(0.1), big, options as never), (e: unknown) => e instanceof OptaxError && message.test(String(e)), String(options && JSON.stringify(options, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))));
    }
    assert.equal(spawned, 0, 'no worker was started for a rejected option');
    // The bound itself is accepted (this platform starts none: the stepper runs alone).
    const s = compile(adamax(0.1), big, { threads: 64, minElementsPerThread: 1 });
    assert.equal(spawned, 1);
    assert.equal(s.threads, 1);
    s.dispose();
    // Inherited properties are not options.
    const proto = Object.prototype as Record<string, unknown>;
    proto.threads = 1e6;
    try {
      compile(adamax(0.1), big, {}).dispose();
    } finally {
      delete proto.threads;
    }
  } finally {
    registerThreadPlatform(undefined);
  }
});

test('dispose stops the stepper; its views stay readable', () => {
  const s = compile(chain(scaleByAdamax(), scale(-0.1)), { w: f32(1, 2) }, { threads: 2, minElementsPerThread: 1 });
  s.step({ w: f32(1, 1) });
  const p = Array.from(s.params.w);
  s.dispose();
  s.dispose();
  assert.throws(() => s.step(), /disposed/);
  assert.deepEqual(Array.from(s.params.w), p);
});

test("subnormals: each stepper computes in the mode it was compiled for, whatever the caller's (withFlushedSubnormals)", async () => {
  const { withFlushedSubnormals } = await import('../../src/kernel/interpret.js');
  const tiny = Math.fround(1e-40); // a float32 subnormal
  for (const backend of ['wasm', 'js', 'interpreter'] as const) {
    // p + scale(0.5)(0): p unchanged in IEEE mode; read as zero (and the sum flushed) in XLA's mode.
    const ieee = compile(scale(0.5), { w: new Float32Array([tiny, -tiny]) }, { backend });
    withFlushedSubnormals(() => ieee.step({ w: new Float32Array(2) }));
    assert.deepEqual(Array.from(ieee.params.w), [tiny, -tiny], backend);
    ieee.dispose();
    const flush = compile(scale(0.5), { w: new Float32Array([tiny, -tiny]) }, { backend, subnormals: 'flush' });
    flush.step({ w: new Float32Array(2) });
    assert.ok(Object.is(flush.params.w[0], 0) && Object.is(flush.params.w[1], 0), `${backend}: ${flush.params.w}`);
    // A result that underflows keeps its sign: 2^-126 * -0.5.
    const down = compile(scale(-0.5), { w: new Float32Array([2 ** -126, 1]) }, { backend, subnormals: 'flush' });
    down.step({ w: new Float32Array([2 ** -126, 0]) });
    // p + (-0.5 * g): the product -2^-127 is flushed to -0, so p stays 2^-126 (IEEE: 2^-127).
    assert.deepEqual(Array.from(down.params.w), [2 ** -126, 1], backend);
    flush.dispose();
    down.dispose();
  }
});

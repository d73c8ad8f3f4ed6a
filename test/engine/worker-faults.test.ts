/**
 * Fault injection for the worker threads, at 2 threads: a worker that throws, exits or hangs half-way
 * through its share of a step (one that dies before it starts its share: test/hostile/workers.test.ts,
 * where the step completes on the calling thread). The chosen guarantee
 * (stepper.ts, `Stepper.step`): the failing step throws an OptaxError naming the leaves that may be
 * partly updated; the stepper is then broken: every later call throws without touching memory (no
 * late write by a hung worker either), `threads` is 0; a dead worker is noticed at once and a hung one
 * by the documented `workerTimeout`, never by a block per step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/engine/compile.js';
import { OptaxError } from '../../src/core/errors.js';
import { type ThreadHandle, type ThreadPlatform, registerThreadPlatform, threadPlatform } from '../../src/engine/thread-platform.js';
import { adamax } from '../../src/alias/adamax.js';
import { applyIfFinite } from '../../src/transforms/apply-if-finite.js';
import { chain } from '../../src/transforms/chain.js';
import { clipByGlobalNorm } from '../../src/transforms/clip-by-global-norm.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import type { Tree } from '../../src/tree/tree.js';
import { ReferenceRun, assertBitEqual, cloneTree } from './support.js';

const node = threadPlatform()!;

/**
 * Source run in the worker before its body: every kernel it builds (WebAssembly exports, or the JS
 * kernels made with `new Function`) runs half its share at call `at`, then `fault`.
 */
function faultPrefix(at: number, fault: string): string {
  return `
var __calls = 0;
function __wrap(fn) {
  return function () {
    if (++__calls === ${at}) {
      var args = Array.prototype.slice.call(arguments);
      args[0] = args[0] >> 1;
      fn.apply(null, args);
      ${fault}
    }
    return fn.apply(null, arguments);
  };
}
var __Instance = WebAssembly.Instance;
WebAssembly.Instance = function (m, imports) {
  var inst = new __Instance(m, imports), out = {};
  Object.keys(inst.exports).forEach(function (name) {
    var fn = inst.exports[name];
    out[name] = typeof fn === 'function' ? __wrap(fn) : fn;
  });
  return { exports: out };
};
var __Function = Function;
Function = function () {
  var made = __Function.apply(null, arguments);
  return function () {
    var factory = made.apply(null, arguments);
    return function (buffer) { return __wrap(factory(buffer)); };
  };
};
`;
}

/** The node platform, with a fault injected into every worker (and each handle kept). */
function faultyPlatform(fault: string, handles: ThreadHandle[] = []): ThreadPlatform {
  return {
    ...node,
    spawn(body, init, onReport) {
      // The worker's share of a step is one call per group (two groups here): call 3 is in step 2.
      const h = node.spawn((fault ? faultPrefix(3, fault) : '') + body, init, onReport);
      handles.push(h);
      return h;
    },
  };
}

function tree(k: number): Tree {
  const w = new Float32Array(70_001), b = new Float64Array(4_096), c = new Float32Array(999);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i + k);
  for (let i = 0; i < b.length; i++) b[i] = Math.cos(i * (k + 1));
  c.fill(k + 0.5);
  return { w, layer: { b: new ShapedArray(b, [64, 64]) }, c };
}

/** Steps once (fine), then fails part-way; checks the guarantee. */
function runFault(name: string, fault: string, options: { workerTimeout: number; maxMs: number; backend?: 'wasm' | 'js' }): void {
  registerThreadPlatform(faultyPlatform(fault));
  try {
    const tx = adamax(0.01);
    const s = compile(tx, tree(0), { backend: options.backend ?? 'wasm', threads: 2, minElementsPerThread: 1, workerTimeout: options.workerTimeout });
    assert.equal(s.backend, options.backend ?? 'wasm');
    assert.equal(s.threads, 2, name);
    const ref = new ReferenceRun(tx, tree(0));
    s.step(tree(1));
    ref.step(tree(1));
    assertBitEqual(s.params, ref.params, `${name}: the step before the fault`);
    assertBitEqual(s.state, ref.state, `${name}: the state before the fault`);

    const t0 = performance.now();
    let error: unknown;
    try {
      s.step(tree(2));
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof OptaxError, `${name}: ${String(error)}`);
    assert.match(error.message, /^step: the step failed part-way \(.+\): the params and state of .*params\.w.* may be partly updated, and the step count did not advance\. This stepper is now broken/, name);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed < options.maxMs, `${name}: the fault took ${elapsed.toFixed(0)} ms to surface (at most ${options.maxMs})`);
    assert.equal(s.threads, 0, `${name}: threads after the fault`);

    // Broken: every call throws at once and changes nothing, now and later (no late write).
    const after = cloneTree(s.params);
    const grads = cloneTree(s.grads);
    const good = ref.state;
    for (const call of [() => s.step(), () => s.step(tree(3)), () => s.setState(good as never), () => { s.state = good as never; }, () => s.state]) {
      const t1 = performance.now();
      assert.throws(call, (e: unknown) => e instanceof OptaxError && /this stepper is broken \(a step failed part-way/.test(e.message), name);
      assert.ok(performance.now() - t1 < 1000, `${name}: a broken stepper throws at once`);
    }
    const until = Date.now() + 300;
    while (Date.now() < until) { /* a hung worker, were it still running, would write now */ }
    assertBitEqual(s.params, after, `${name}: params untouched after the fault`);
    assertBitEqual(s.grads, grads, `${name}: grads untouched after the fault`);
    s.dispose();
    assert.equal(s.threads, 0);
  } finally {
    registerThreadPlatform(undefined);
  }
}

test('a worker that throws part-way through a step: the step fails at once, the stepper is broken (wasm and js kernels)', () => {
  runFault('throw', 'throw new Error("injected fault");', { workerTimeout: 60_000, maxMs: 5_000 });
  runFault('throw (js)', 'throw new Error("injected fault");', { workerTimeout: 60_000, maxMs: 5_000, backend: 'js' });
});

test('a worker that exits part-way (process.exit): noticed at once, not at the stall timeout (wasm and js kernels)', () => {
  runFault('exit', 'process.exit(7);', { workerTimeout: 60_000, maxMs: 5_000 });
  runFault('exit (js)', 'process.exit(7);', { workerTimeout: 60_000, maxMs: 5_000, backend: 'js' });
});

test('a worker that hangs part-way: the step fails after workerTimeout, and the hung worker is stopped', () => {
  runFault('hang', 'for (;;) {}', { workerTimeout: 2_000, maxMs: 10_000 });
});

test('a stepper whose workers all finished is not broken by the fault machinery (many steps, 2 threads)', () => {
  const tx = adamax(0.01);
  const s = compile(tx, tree(0), { backend: 'wasm', threads: 2, minElementsPerThread: 1 });
  const ref = new ReferenceRun(tx, tree(0));
  for (let k = 1; k <= 20; k++) {
    s.step(tree(k % 3));
    ref.step(tree(k % 3));
  }
  assert.equal(s.threads, 2);
  assertBitEqual(s.params, ref.params);
  assertBitEqual(s.state, ref.state);
  s.dispose();
  assert.equal(s.threads, 0);
});

test('a worker that throws in its share of the global norm: nothing was written, and the error says so', () => {
  // Per step the worker makes two norm calls (float32 and float64 windows), then two pass calls: call 5
  // is its first norm call of step 2.
  registerThreadPlatform({ ...node, spawn: (body, init, onReport) => node.spawn(faultPrefix(5, 'throw new Error("injected fault");') + body, init, onReport) });
  try {
    const tx = applyIfFinite(chain(clipByGlobalNorm(1), adamax(0.01)), { maxConsecutiveErrors: 3 });
    const s = compile(tx, tree(0), { backend: 'wasm', threads: 2, minElementsPerThread: 1 });
    assert.equal(s.threads, 2);
    const ref = new ReferenceRun(tx, tree(0));
    s.step(tree(1));
    ref.step(tree(1));
    assertBitEqual(s.params, ref.params, 'the step before the fault');
    assert.throws(() => s.step(tree(2)), (e: unknown) => e instanceof OptaxError && /^step: the step failed part-way \(.+\): the params and state of no leaf may be partly updated/.test(e.message));
    assertBitEqual(s.params, ref.params, 'params untouched by the failed norm');
    assert.equal(s.threads, 0);
    s.dispose();
  } finally {
    registerThreadPlatform(undefined);
  }
});

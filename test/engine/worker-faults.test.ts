/**
 * Fault injection for the worker threads, at 2 threads (and 3): a worker that throws, exits or hangs part-way
 * through its share of a step (one that dies before it starts its share: test/hostile/workers.test.ts).
 * The guarantee (stepper.ts, `Stepper.step`):
 * - with `workerJournal`, a worker known to have stopped writing (it threw, or its exit hook ran) is
 *   recovered from its undo journal (src/engine/undo-journal.ts): the step completes on the calling
 *   thread, bit-identical to the reference, at once (not at the stall timeout; after the workers
 *   still writing finish), and the stepper goes on on 1 thread; without it, only where the worker
 *   stopped inside a call that writes no parameter or state (the global norm's);
 * - a hung worker cannot be known to have stopped writing: the step throws an OptaxError naming the
 *   leaves that may be partly updated after `workerTimeout`; the stepper is then broken: every later
 *   call throws without touching memory (no late write by the hung worker either), `threads` is 0.
 *
 * With `workerJournal`, a worker runs its share in blocks of 16384 elements (set below), each one kernel call. The
 * trees here: a float32 group of 71024 elements (w, c) and a float64 one of 4096 (b): the worker's
 * share of a step is 35512 float32 elements (blocks of 16384, 16384, 2744) and 2048 float64 ones
 * (one block): 4 calls per step, calls 5 to 8 in step 2; with the global norm, its first level first
 * (one call per dtype, never split): 6 calls per step.
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
import { multiSteps } from '../../src/transforms/multi-steps.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import { treeMap } from '../../src/tree/map.js';
import { partition } from '../../src/transforms/partition.js';
import { DEFAULT_JOURNAL_BLOCK, setJournalBlock } from '../../src/engine/undo-journal.js';
import { FUSED_EXPORT } from '../../src/engine/wasm/fused-module.js';
import { COPY_EXPORT } from '../../src/engine/wasm/copy-module.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import type { Tree } from '../../src/tree/tree.js';
import { ReferenceRun, assertBitEqual, cloneTree } from './support.js';

const node = threadPlatform()!;
const BLOCK = 16_384;

/**
 * Source run in the worker before its body: every kernel it builds (WebAssembly kernels, exported as
 * `run`, or the JS kernels made with `new Function`) runs half its call at call `at` (counted over
 * all its kernels), then `fault`. (The journal's copier, wasm/copy-module.ts, is left alone.)
 */
function faultPrefix(at: number, fault: string, wrapped = FUSED_EXPORT, only = -1): string {
  return `
var __calls = 0;
var __mine = ${only} < 0 || require('node:worker_threads').workerData.worker === ${only};
function __wrap(fn) {
  return function () {
    if (++__calls === ${at} && !__mine) {
      // Another worker faults now: this one is still busy when that is noticed.
      for (var __until = Date.now() + 300; Date.now() < __until;);
    }
    if (__calls === ${at} && __mine) {
      var args = Array.prototype.slice.call(arguments);
      args[0] = args[0] >> 1;
      if (${wrapped !== COPY_EXPORT}) fn.apply(null, args);
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
    out[name] = typeof fn === 'function' && name === '${wrapped === COPY_EXPORT ? COPY_EXPORT : FUSED_EXPORT}' ? __wrap(fn) : fn;
  });
  return { exports: out };
};
var __Function = Function;
Function = function () {
  var made = __Function.apply(null, arguments);
  return function () {
    var factory = made.apply(null, arguments);
    return function (buffer) { return ${wrapped !== COPY_EXPORT} ? __wrap(factory(buffer)) : factory(buffer); };
  };
};
`;
}

/** The node platform, with a fault injected into every worker at call `at` of `wrapped` (and each handle kept). */
function faultyPlatform(fault: string, at: number, wrapped?: string, only?: number, handles: ThreadHandle[] = []): ThreadPlatform {
  return {
    ...node,
    spawn(body, init, onReport) {
      // wrapped 'copyWithin': the worker gets no WebAssembly copier (as where WebAssembly is unavailable).
      const given = wrapped === 'copyWithin' ? { ...(init as object), copy: undefined } : init;
      const h = node.spawn((fault ? faultPrefix(at, fault, wrapped, only) : '') + body, given, onReport);
      handles.push(h);
      return h;
    },
  };
}

/** Runs `f` with the fault platform and the test's journal block size, restoring both after. */
function withFaults(fault: string, at: number, f: () => void, wrapped?: string, only?: number): void {
  registerThreadPlatform(faultyPlatform(fault, at, wrapped, only));
  setJournalBlock(BLOCK);
  try {
    f();
  } finally {
    registerThreadPlatform(undefined);
    setJournalBlock(DEFAULT_JOURNAL_BLOCK);
  }
}

function tree(k: number): Tree {
  const w = new Float32Array(70_001), b = new Float64Array(4_096), c = new Float32Array(999);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i + k);
  for (let i = 0; i < b.length; i++) b[i] = Math.cos(i * (k + 1));
  c.fill(k + 0.5);
  return { w, layer: { b: new ShapedArray(b, [64, 64]) }, c };
}

/**
 * Steps once (fine), then faults part-way at call `at` (in step 2); checks that step 2 completes,
 * bit-identical to the reference, and three more.
 */
function runRecovered(name: string, fault: string, at: number, options: { backend?: 'wasm' | 'js'; make?: () => GradientTransformation<any>; journal?: boolean; wrapped?: string; threads?: number; only?: number } = {}): void {
  withFaults(fault, at, () => {
    const tx = options.make?.() ?? adamax(0.01);
    const backend = options.backend ?? 'wasm';
    const threads = options.threads ?? 2;
    const s = compile(tx, tree(0), { backend, threads, minElementsPerThread: 1, workerTimeout: 60_000, workerJournal: options.journal ?? true });
    try {
      assert.equal(s.backend, backend);
      assert.equal(s.threads, threads, name);
      const ref = new ReferenceRun(tx, tree(0));
      s.step(tree(1));
      ref.step(tree(1));
      assertBitEqual(s.params, ref.params, `${name}: the step before the fault`);
      assert.equal(s.threads, threads, `${name}: no fault in step 1`);
      const t0 = performance.now();
      s.step(tree(2));
      ref.step(tree(2));
      const elapsed = performance.now() - t0;
      // The fault happened in step 2: the pool is stopped.
      assert.equal(s.threads, 1, `${name}: threads after the recovered fault`);
      assert.ok(elapsed < 5_000, `${name}: the recovered step took ${elapsed.toFixed(0)} ms (not the stall timeout)`);
      assertBitEqual(s.params, ref.params, `${name}: params after the faulted step`);
      assertBitEqual(s.state, ref.state, `${name}: state after the faulted step`);
      for (let k = 3; k <= 5; k++) {
        s.step(tree(k));
        ref.step(tree(k));
      }
      assertBitEqual(s.params, ref.params, `${name}: params after three more steps`);
      assertBitEqual(s.state, ref.state, `${name}: state after three more steps`);
    } finally {
      s.dispose();
    }
  }, options.wrapped, options.only);
}

/** Steps once (fine), then fails part-way (call `at`, in step 2) where it cannot be undone; checks the guarantee. */
function runFault(name: string, fault: string, at: number, options: { workerTimeout: number; maxMs: number; backend?: 'wasm' | 'js'; journal?: boolean }): void {
  withFaults(fault, at, () => {
    const tx = adamax(0.01);
    const s = compile(tx, tree(0), { backend: options.backend ?? 'wasm', threads: 2, minElementsPerThread: 1, workerTimeout: options.workerTimeout, workerJournal: options.journal ?? true });
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
  });
}

const THROW = 'throw new Error("injected fault");';
const EXIT = 'process.exit(7);';

for (const backend of ['wasm', 'js'] as const) {
  test(`a worker that throws part-way through a step: the step completes, bit-identical, on 1 thread (${backend})`, () => {
    // Its first block, a block in the middle of a call (blocks before it kept, later ones run here), its last call.
    for (const at of [5, 6, 8]) runRecovered(`throw at call ${at} (${backend})`, THROW, at, { backend });
  });

  test(`a worker that exits part-way (process.exit): noticed at once, the step completes, bit-identical (${backend})`, () => {
    for (const at of [6, 8]) runRecovered(`exit at call ${at} (${backend})`, EXIT, at, { backend });
  });
}

test('a worker that throws or exits while it saves a block (before writing it): the step completes, bit-identical', () => {
  // Three copies per block (params, mu, nu), four blocks per step: copy 14 saves step 2's second block.
  runRecovered('throw while saving', THROW, 14, { wrapped: COPY_EXPORT });
  runRecovered('exit while saving', EXIT, 14, { wrapped: COPY_EXPORT });
});

test('a journal saved with copyWithin (no WebAssembly copier): a worker that throws part-way is recovered, bit-identical', () => {
  runRecovered('throw, copyWithin (wasm)', THROW, 6, { wrapped: 'copyWithin' });
  runRecovered('throw, copyWithin (js)', THROW, 6, { wrapped: 'copyWithin', backend: 'js' });
});

test('3 threads: both workers throw, or both exit, or one while the other is busy, part-way: the step completes', () => {
  // Each worker's share: 23680 or 23664 float32 elements (blocks of 16384 and the rest) and 1368 or
  // 1360 float64 ones: 3 calls per step; call 5 is step 2's second float32 block.
  runRecovered('both throw', THROW, 5, { threads: 3 });
  runRecovered('both exit', EXIT, 5, { threads: 3 });
  // One exits while the other is still writing: the step waits for that one, then finishes the first.
  runRecovered('worker 0 exits, worker 1 busy', EXIT, 5, { threads: 3, only: 0 });
  runRecovered('worker 1 throws, worker 0 busy', THROW, 5, { threads: 3, only: 1 });
});

test('a worker that hangs part-way: the step fails after workerTimeout, and the hung worker is stopped', () => {
  runFault('hang', 'for (;;) {}', 6, { workerTimeout: 2_000, maxMs: 10_000 });
});

test('without workerJournal (the default), a worker that throws or exits part-way through a call breaks the stepper', () => {
  // Calls run whole then: two per step (one per group), call 3 is step 2's first.
  runFault('throw, no journal', THROW, 3, { workerTimeout: 60_000, maxMs: 5_000, journal: false });
  runFault('exit, no journal', EXIT, 3, { workerTimeout: 60_000, maxMs: 5_000, journal: false });
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

test('applyIfFinite(chain(clipByGlobalNorm(1), adamax)): a fault in the global norm\'s pass or in the update pass is recovered', () => {
  const make = (): GradientTransformation<any> => applyIfFinite(chain(clipByGlobalNorm(1), adamax(0.01)), { maxConsecutiveErrors: 3 });
  // Step 2's calls: 7 and 8 the norm's first level (float32, float64), 9 to 12 the update pass.
  for (const [fault, what] of [[THROW, 'throw'], [EXIT, 'exit']] as const) {
    runRecovered(`${what} in the norm's float32 call`, fault, 7, { make });
    runRecovered(`${what} in the norm's float64 call`, fault, 8, { make });
    runRecovered(`${what} in the update pass`, fault, 10, { make });
  }
  // The norm's pass writes no parameter or state: it is run again whole, journal or not (two update
  // calls per step without one: calls 5 and 6 are step 2's norm calls).
  runRecovered('throw in the norm\'s float32 call, no journal', THROW, 5, { make, journal: false });
});

test('partition with a group on the reference path (an island): a fault in the fused pass is recovered', () => {
  // The island's updates are written into the arena and applied by the fused pass (its float64 call: call 8).
  const opaque: GradientTransformation<Record<string, never>> = {
    name: 'opaque_scale',
    init: () => ({}),
    update: (u) => [treeMap(([l]: (Float32Array | Float64Array | ShapedArray)[]) => (l instanceof ShapedArray ? new ShapedArray(l.data.map((x) => -0.1 * x), l.shape) : l.map((x) => -0.1 * x)), [u]) as never, {}],
  };
  const make = (): GradientTransformation<any> => partition({ fast: adamax(0.01), slow: opaque }, { w: 'fast', layer: { b: 'slow' }, c: 'fast' });
  runRecovered('throw in the island\'s call', THROW, 8, { make });
  runRecovered('exit in a fused group\'s call', EXIT, 6, { make });
});

test('multiSteps(adamax): a fault in an accumulating step and in an emitting step is recovered', () => {
  const make = (): GradientTransformation<any> => multiSteps(adamax(0.01), { everyKSchedule: 2 });
  // Step 2 (mini-step 1 of 2) emits; step 3 accumulates (4 calls per step).
  runRecovered('throw in the emitting pass', THROW, 6, { make });
  runRecovered('exit in the emitting pass', EXIT, 7, { make });
  runRecovered('throw in the accumulating pass (step 2 with everyK 3)', THROW, 6, { make: () => multiSteps(adamax(0.01), { everyKSchedule: 3 }) });
});

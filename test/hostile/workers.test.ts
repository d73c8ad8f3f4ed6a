/**
 * Worker threads that die between steps (terminated from outside, as an out-of-memory kill or a
 * host's cleanup does), at 2 threads. A dead worker never started its share of the next step, so it
 * wrote nothing: the calling thread runs that share itself and the step completes, bit-identical to
 * the pure path; the stepper goes on on one thread. (It used to wait `workerTimeout`, then fail the
 * step with its other share already applied: half the parameters stepped, the step count not, and
 * the stepper broken for good.) A worker that dies part-way through its share is
 * test/engine/worker-faults.test.ts's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type GradientTransformation, adamax, chain, clipByGlobalNorm, compile, ShapedArray } from '../../src/index.js';
import { type ThreadHandle, registerThreadPlatform, threadPlatform } from '../../src/engine/thread-platform.js';
import type { Tree } from '../../src/tree/tree.js';
import { ReferenceRun, assertBitEqual } from '../engine/support.js';

const node = threadPlatform()!;

function tree(k: number): Tree {
  const w = new Float32Array(40_001), b = new Float64Array(4_096);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i + k);
  for (let i = 0; i < b.length; i++) b[i] = Math.cos(i * (k + 1));
  return { w, layer: { b: new ShapedArray(b, [64, 64]) } };
}

for (const [name, backend, make] of [
  ['adamax (wasm)', 'wasm', () => adamax(0.01)],
  ['adamax (js)', 'js', () => adamax(0.01)],
  ['clipByGlobalNorm then adamax: the norm\'s pass too (wasm)', 'wasm', () => chain(clipByGlobalNorm(1), adamax(0.01))],
] as const satisfies readonly (readonly [string, 'wasm' | 'js', () => GradientTransformation<any>])[]) {
  test(`${name}: workers terminated between steps: the next step completes on the calling thread, bit-identical; later steps too`, async () => {
    for (const yieldFirst of [false, true]) {
      const handles: ThreadHandle[] = [];
      registerThreadPlatform({ ...node, spawn: (body, init, onReport) => { const h = node.spawn(body, init, onReport); handles.push(h); return h; } });
      const tx: GradientTransformation<any> = make();
      const s = compile(tx, tree(0), { backend, threads: 2, minElementsPerThread: 1, workerTimeout: 300 });
      try {
        assert.equal(s.threads, 2);
        const ref = new ReferenceRun(tx, tree(0));
        s.step(tree(1));
        ref.step(tree(1));
        handles.forEach((h) => h.terminate());
        // Straight away (the step waits workerTimeout at most), or once the workers are gone.
        if (yieldFirst) await new Promise((r) => setTimeout(r, 200));
        s.step(tree(2));
        ref.step(tree(2));
        assertBitEqual(s.params, ref.params, `${name}: params after the step the workers missed`);
        assertBitEqual(s.state, ref.state, `${name}: state after the step the workers missed`);
        assert.equal(s.threads, 1);
        s.step(tree(3));
        ref.step(tree(3));
        assertBitEqual(s.params, ref.params, `${name}: params after the next step`);
        assertBitEqual(s.state, ref.state, `${name}: state after the next step`);
      } finally {
        s.dispose();
        registerThreadPlatform(undefined);
      }
    }
  });
}

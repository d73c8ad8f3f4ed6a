/**
 * Worker threads: large trees split across threads sharing the memory (exact), small trees not;
 * a worker that fails to start leaves the stepper single-threaded and exact; a main thread that may
 * not block (a browser page) spins and uses the workers once they have started; and a Node process
 * with an undisposed threaded stepper still exits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { compile } from '../../src/engine/compile.js';
import { type ThreadPlatform, registerThreadPlatform, threadPlatform } from '../../src/engine/thread-platform.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import type { Tree } from '../../src/tree/tree.js';
import { adamax } from '../../src/alias/adamax.js';
import { applyIfFinite } from '../../src/transforms/apply-if-finite.js';
import { chain } from '../../src/transforms/chain.js';
import { clipByGlobalNorm } from '../../src/transforms/clip-by-global-norm.js';
import { withFlushedSubnormals } from '../../src/kernel/interpret.js';
import { ReferenceRun, assertBitEqual, cloneTree } from './support.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
// Node's worker_threads platform, which the engine finds by itself (process.getBuiltinModule).
const nodeThreadPlatform = threadPlatform()!;
assert.equal(nodeThreadPlatform?.name, 'worker_threads');

function bigTree(k: number): Tree {
  const a = new Float32Array(70_001), b = new Float64Array(40_000), c = new Float32Array(999);
  for (let i = 0; i < a.length; i++) a[i] = k === 0 ? Math.sin(i) : k * Math.sin(i) ** 2 - 0.25;
  for (let i = 0; i < b.length; i++) b[i] = k > 0 && i % 997 === 0 ? NaN : Math.cos(i) * (k || 1);
  c.fill(k);
  return { a, layers: [{ b: new ShapedArray(b, [200, 200]) }, { c }] };
}
const bigParams = () => bigTree(0);
const bigGrads = (k: number) => bigTree(k);

test('a large tree runs on 2 threads (wasm and js) and stays bit-identical', () => {
  for (const backend of ['wasm', 'js', 'interpreter'] as const) {
    const tx = adamax((c: number) => 0.01 / (1 + c));
    const ref = new ReferenceRun(tx, bigParams());
    const s = compile(tx, bigParams(), { backend, threads: 2 });
    assert.equal(s.threads, backend === 'interpreter' ? 1 : 2, backend);
    for (let k = 1; k <= 3; k++) {
      ref.step(bigGrads(k));
      s.step(bigGrads(k));
    }
    assertBitEqual(s.params, ref.params, `${backend} params`);
    assertBitEqual(s.state, ref.state, `${backend} state`);
    s.dispose();
  }
});

test('applyIfFinite(chain(clipByGlobalNorm(1), adamax)) on 2 threads: the workers share the norm, bit-identical', () => {
  // Gradients that clip (norm far above 1), one with a NaN (skipped), one whose squares overflow
  // float32 (an infinite norm over finite gradients: applied), then clipping again.
  const grads = (k: number): Tree => {
    const t = bigTree(k === 2 ? 1 : 0) as { a: Float32Array; layers: [{ b: ShapedArray }, { c: Float32Array }] };
    if (k === 3) t.a[12345] = 3e19;
    if (k !== 2) t.layers[0].b.data.forEach((x, i, b) => { b[i] = Math.cos(i * 0.3) * k; });
    return t;
  };
  for (const backend of ['wasm', 'js'] as const) {
    for (const subnormals of ['ieee', 'flush'] as const) {
      const tx = applyIfFinite(chain(clipByGlobalNorm(1), adamax(0.01)), { maxConsecutiveErrors: 3 });
      const ref = new ReferenceRun(tx, bigParams());
      const s = compile(tx, bigParams(), { backend, threads: 2, subnormals });
      assert.equal(s.threads, 2, backend);
      for (let k = 1; k <= 4; k++) {
        const g = grads(k);
        if (subnormals === 'flush') withFlushedSubnormals(() => ref.step(g));
        else ref.step(g);
        s.step(grads(k));
        assertBitEqual(s.params, ref.params, `${backend} ${subnormals} params, step ${k}`);
      }
      assertBitEqual(s.state, ref.state, `${backend} ${subnormals} state`);
      s.dispose();
    }
  }
});

test('threads default to what the machine offers, but only for trees worth it', () => {
  const small = compile(adamax(0.1), { w: new Float32Array(1000) }, { threads: 4 });
  assert.equal(small.threads, 1);
  const one = compile(adamax(0.1), bigParams(), { threads: 1 });
  assert.equal(one.threads, 1);
  const auto = compile(adamax(0.1), bigParams());
  assert.ok(auto.threads >= 1 && auto.threads <= 8);
  for (const s of [small, one, auto]) s.dispose();
});

test('a worker that fails to start leaves the stepper on one thread, exact', () => {
  const failing: ThreadPlatform = {
    ...nodeThreadPlatform,
    spawn: (body, init, onReport) => nodeThreadPlatform.spawn(body, { ...(init as object), kernels: { kind: 'js', sources: ['(function () { throw new Error("no kernel") })'] } }, onReport),
  };
  registerThreadPlatform(failing);
  try {
    const tx = adamax(0.01);
    const s = compile(tx, bigParams(), { backend: 'js', threads: 2 });
    assert.equal(s.threads, 1);
    const ref = new ReferenceRun(tx, bigParams());
    s.step(bigGrads(1));
    ref.step(bigGrads(1));
    assertBitEqual(s.params, ref.params);
    s.dispose();
  } finally {
    registerThreadPlatform(undefined);
  }
});

test('a platform that cannot start workers (spawn throws) leaves the stepper on one thread', () => {
  registerThreadPlatform({ name: 'none', parallelism: () => 4, mainCanBlock: true, spawn: () => { throw new Error('blocked by CSP'); } });
  try {
    const s = compile(adamax(0.01), bigParams(), { backend: 'wasm', threads: 4 });
    assert.equal(s.threads, 1);
    s.step(bigGrads(1));
    s.dispose();
  } finally {
    registerThreadPlatform(undefined);
  }
});

test('a main thread that may not block (a browser page) steps alone until the workers start, then spins on them', async () => {
  registerThreadPlatform({ ...nodeThreadPlatform, mainCanBlock: false });
  try {
    const tx = adamax(0.01);
    const s = compile(tx, bigParams(), { backend: 'wasm', threads: 2 });
    const ref = new ReferenceRun(tx, bigParams());
    for (let k = 1; k <= 4; k++) {
      s.step(bigGrads(k));
      ref.step(bigGrads(k));
      assertBitEqual(s.params, ref.params, `step ${k}`);
      await sleep(k === 1 ? 1000 : 10); // let the workers start (they need this thread to yield)
    }
    assertBitEqual(s.state, ref.state);
    assert.equal(s.threads, 2);
    s.dispose();
  } finally {
    registerThreadPlatform(undefined);
  }
});

test('a Node process with an undisposed threaded stepper still exits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'optax-ts-engine-'));
  try {
    const file = join(dir, 'exit.mts');
    const src = (p: string) => JSON.stringify(pathToFileURL(join(root, p)).href);
    writeFileSync(file, [
      `import { compile, adamax } from ${src('src/node/index.ts')};`,
      'const s = compile(adamax(0.1), { w: new Float32Array(1 << 17).fill(1) }, { threads: 2 });',
      's.grads.w.fill(0.5);',
      's.step();',
      'console.log(s.threads, s.params.w[0]);',
    ].join('\n'));
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '2 0.9000000357627869');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cloneTree helper sanity (the tests above compare against independent copies)', () => {
  const p = bigParams();
  const c = cloneTree(p);
  assert.notEqual((c as { a: unknown }).a, (p as { a: unknown }).a);
  assertBitEqual(c, p);
});

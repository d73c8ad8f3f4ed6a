/**
 * A fused step allocates nothing (issue 10), checked without timing: V8's sampling heap profiler
 * records the stack of sampled allocations; after a warm-up, a window of steps must leave no sample
 * whose stack runs through optax-ts's sources. A step that allocates even 16 bytes is sampled many
 * times over a window (the sampling interval is 32 bytes on average). No allocation, no sample: the
 * passing case cannot be flaky; only V8's optimizing compiler finishing late (it runs concurrently,
 * and code not optimized yet boxes doubles) can make one window fail, so a chain gets a few windows
 * and fails only when each of them allocates (a real regression allocates in every one).
 *
 * The bench's heap section measures the same with the young generation's byte count, per combinator
 * and backend (bench/heap.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from 'node:inspector/promises';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { compile } from '../../src/engine/compile.js';
import { adamax } from '../../src/alias/adamax.js';
import { adamaxw } from '../../src/alias/adamaxw.js';
import { chain } from '../../src/transforms/chain.js';
import { ema } from '../../src/transforms/ema.js';
import type { GradientTransformation } from '../../src/core/transformation.js';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** The stacks (innermost first) of sampled allocations that run through optax-ts's sources. */
function librarySamples(head: ProfileNode): string[] {
  const out: string[] = [];
  const walk = (node: ProfileNode, stack: ProfileNode['callFrame'][]): void => {
    const frames = [node.callFrame, ...stack];
    if (node.selfSize > 0 && frames.some((f) => f.url.includes(SRC))) {
      out.push(`${node.selfSize} bytes: ${frames.slice(0, 4).map((f) => `${f.functionName || '(anonymous)'} ${path.basename(f.url)}`).join(' <- ')}`);
    }
    for (const c of node.children) walk(c, frames);
  };
  walk(head, []);
  return out;
}

/** One leaf (the trees the bench's heap section steps), so the kernels stay monomorphic. */
const params = (): Record<string, Float32Array> => ({ w: Float32Array.from({ length: 5000 }, (_, i) => Math.cos(i)) });

const CHAINS: Record<string, () => GradientTransformation<unknown>> = {
  'adamax': () => adamax(1e-3) as GradientTransformation<unknown>,
  'adamaxw': () => adamaxw(1e-3, { weightDecay: 1e-4 }) as GradientTransformation<unknown>,
  'chain(ema, adamax)': () => chain(ema(0.9), adamax(1e-3)) as GradientTransformation<unknown>,
};

/**
 * Child mode (`allocation.test.ts <chain> <backend>`): steps one optimizer alone in this process, as
 * a training loop does (in a process that has stepped other optimizers, V8's code for the shared
 * step is polymorphic and may box doubles: see the report of issue 10), and prints the library's
 * samples of the last window as JSON.
 */
async function child(name: string, backend: 'js' | 'wasm'): Promise<void> {
  const stepper = compile(CHAINS[name](), params(), { backend, threads: 1 });
  if (stepper.backend !== backend) throw new Error(stepper.referenceReason ?? 'not fused');
  for (const g of Object.values(stepper.grads as Record<string, Float32Array>)) g.set(params().w.map((x) => 0.5 * x + 0.01));
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  for (let i = 0; i < 3000; i++) stepper.step();
  let samples: string[] = [];
  for (let window = 0; window < 3; window++) {
    await session.post('HeapProfiler.startSampling', { samplingInterval: 32, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
    for (let i = 0; i < 1000; i++) stepper.step();
    const { profile } = await session.post('HeapProfiler.stopSampling') as unknown as { profile: { head: ProfileNode } };
    samples = librarySamples(profile.head);
    if (samples.length === 0) break;
  }
  session.disconnect();
  stepper.dispose();
  process.stdout.write(`${JSON.stringify(samples)}\n`);
}

const self = fileURLToPath(import.meta.url);
if (process.argv[2] !== undefined && path.resolve(process.argv[1] ?? '') === self) {
  await child(process.argv[2], process.argv[3] as 'js' | 'wasm');
} else {
  for (const backend of ['js', 'wasm'] as const) {
    for (const name of Object.keys(CHAINS)) {
      test(`a fused step of ${name} (${backend}) allocates nothing`, () => {
        const r = spawnSync(process.execPath, ['--import', 'tsx', self, name, backend], { cwd: path.resolve(SRC, '..'), encoding: 'utf8', timeout: 120_000 });
        assert.equal(r.status, 0, r.stderr);
        const samples = JSON.parse(r.stdout.trim().split('\n').pop()!) as string[];
        assert.deepEqual(samples, [], `every window of 1000 steps allocated in optax-ts's code, e.g.\n${samples.slice(0, 8).join('\n')}`);
      });
    }
  }
}

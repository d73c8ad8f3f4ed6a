import { execFile } from 'node:child_process';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Layout } from './config.js';
import { compileStepper, fillGrads } from './impls/fused.js';
import { makeProblem } from './problem.js';
import { combinatorById } from './combinators.js';

/**
 * A forced full GC without `node --expose-gc`: the flag can be turned on at run time, and a fresh
 * context then sees `gc`. So `tsx bench/run.ts` needs no extra flag.
 */
export function forcedGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Forced GCs age bytecode, and V8 then drops the bytecode of functions not run lately: the heap
 * shrinks by whatever unrelated code the earlier bench rows left, which would read as negative growth.
 */
function keepBytecode(): void {
  setFlagsFromString('--no-flush-bytecode');
}

/** Heap growth of the fused stepper over `steps` steps. */
export interface HeapResult {
  readonly label: string;
  readonly backend: string;
  readonly steps: number;
  /** heapUsed growth per step across a window of `steps` steps, between forced full GCs: the median of 3 windows. */
  readonly retainedPerStep: number;
  /** The same over all the windows together (a one-off release of older garbage moves this one). */
  readonly totalRetainedPerStep: number;
  /** heapUsed growth before the GC that ends each window, per step: what the steps allocate (valid when gcsDuring is 0). */
  readonly allocatedPerStep: number;
  /** Garbage collections that ran on their own during the steps (the forced ones excluded). */
  readonly gcsDuring: number;
}

/** Measures the heap growth per step of the fused stepper on a layout: 2 × `steps` warm-up steps, then 3 windows of `steps`. */
export async function measureHeap(layout: Layout, backend: 'js' | 'wasm', threads: number, steps: number, combinator?: string): Promise<HeapResult> {
  const gc = forcedGc();
  keepBytecode();
  const problem = makeProblem(layout);
  const stepper = await compileStepper(problem, { backend, threads }, combinator ? combinatorById(combinator).make() : undefined);
  if (stepper.backend === 'reference') throw new Error(`${combinator} runs on the reference path`);
  try {
    fillGrads(stepper, problem);
    // Warm up: lazily created objects (inline caches, optimized code and its metadata, the observer's
    // own machinery) must exist before the first heap reading, or they count as growth. V8 keeps
    // tiering up for the first ~2000 steps (tens of KB in all); after that the heap is flat.
    const gcTimes: number[] = [];
    const observer = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcTimes.push(e.startTime); });
    observer.observe({ entryTypes: ['gc'] });
    for (let i = 0; i < 2 * steps; i++) stepper.step();
    // The measured steps run in 3 windows of `steps` steps, each between two forced GCs: a leak shows
    // in every window, while a one-off release of older garbage (V8 dropping caches of code it
    // compiled earlier) shows in one window only. The median window is the verdict; the total is
    // reported too. (The harness itself keeps ~1 KB per window: GC entries of the observer.)
    const windows = 3;
    const perWindow = steps;
    const settle = (): number => { gc(); gc(); return process.memoryUsage().heapUsed; };
    const deltas: number[] = [];
    const stepping: [number, number][] = [];
    let allocated = 0;
    const first = settle();
    let before = first;
    for (let w = 0; w < windows; w++) {
      const t0 = performance.now();
      for (let i = 0; i < perWindow; i++) stepper.step();
      stepping.push([t0, performance.now()]);
      allocated += process.memoryUsage().heapUsed - before;
      const after = settle();
      deltas.push((after - before) / perWindow);
      before = after;
    }
    // Entries are delivered asynchronously: let them arrive before counting.
    await new Promise((resolve) => setImmediate(resolve));
    observer.disconnect();
    // Only collections that started while stepping count (the forced ones run between windows).
    const gcs = gcTimes.filter((t) => stepping.some(([a, b]) => t >= a && t <= b)).length;
    deltas.sort((a, b) => a - b);
    return {
      label: combinator ? `${layout.label} ${combinatorById(combinator).label}` : layout.label,
      backend: `${backend} ${stepper.threads ?? threads}t`,
      steps: perWindow,
      retainedPerStep: deltas[Math.floor(windows / 2)],
      totalRetainedPerStep: (before - first) / (windows * perWindow),
      allocatedPerStep: allocated / (windows * perWindow),
      gcsDuring: gcs,
    };
  } finally {
    stepper.dispose();
  }
}

/** {@link measureHeap} in a fresh Node process (bench/heap-child.ts, run with --expose-gc). */
export function measureHeapInChild(layout: Layout, backend: 'js' | 'wasm', threads: number, steps: number, timeoutMs: number, combinator?: string): Promise<HeapResult> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const args = ['--expose-gc', '--import', 'tsx', path.join(here, 'heap-child.ts'), JSON.stringify(layout), backend, String(threads), String(steps), ...(combinator ? [combinator] : [])];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: path.resolve(here, '..'), encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) return reject(new Error(error.killed ? `no result within ${timeoutMs / 1000} s (hung?)` : stderr.trim().split('\n').pop() || error.message));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as HeapResult);
      } catch {
        reject(new Error(`unexpected output: ${stdout.trim()}`));
      }
    });
  });
}

import { execFile } from 'node:child_process';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Layout } from './config.js';
import { compileStepper, fillGrads } from './impls/fused.js';
import { makeProblem } from './problem.js';
import { heapCombinatorById } from './combinators.js';

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
  /** The same over the last 3 windows together (a one-off release of older garbage moves this one). */
  readonly totalRetainedPerStep: number;
  /**
   * Young-generation growth across each window, less the measuring code's own ({@link measuringPerStep}),
   * per step: what the steps allocate (valid when gcsDuring is 0).
   */
  readonly allocatedPerStep: number;
  /**
   * The same measured over an empty loop of as many iterations, in the same process right before:
   * what the measuring code itself allocates (its heap readings), per step; the largest of its windows.
   */
  readonly measuringPerStep: number;
  /** Garbage collections that ran on their own during the steps (the forced ones excluded). */
  readonly gcsDuring: number;
  /**
   * Windows stepped in all: the figures above are the last 3's. Windows go on (up to
   * {@link MAX_WINDOWS}) while any of the last 3 allocated: V8 keeps optimizing a loop for thousands
   * of steps, and code it has not optimized yet boxes numbers (one-off warm-up, not per-step garbage).
   */
  readonly windows: number;
}

/** The most windows of `steps` steps a row runs before its last 3 are reported whatever they read. */
const MAX_WINDOWS = 15;

/** Measures the heap growth per step of the fused stepper on a layout: 2 × `steps` warm-up steps, then 3 windows of `steps`. */
export async function measureHeap(layout: Layout, backend: 'js' | 'wasm', threads: number, steps: number, combinator?: string): Promise<HeapResult> {
  const gc = forcedGc();
  keepBytecode();
  const c = combinator ? heapCombinatorById(combinator) : undefined;
  const problem = makeProblem(c?.dtype ? { ...layout, dtype: c.dtype } : layout);
  const stepper = await compileStepper(problem, { backend, threads, ...(c?.masks ? { masks: c.masks } : {}) }, c?.make());
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
    const step = (): void => { stepper.step(); };
    const empty = (): void => {};
    // The measuring code alone: the same windows around an empty loop (warmed up the same way).
    windowsOf(empty, steps, gc); // once to warm the measuring code itself up
    const idle = windowsOf(empty, steps, gc);
    const idleBytes = Math.max(...idle.allocated);
    c?.betweenWindows?.(stepper, -1);
    for (let i = 0; i < steps; i++) stepper.step();
    const measured = windowsOf(step, steps, gc, c?.betweenWindows && ((w) => { c.betweenWindows!(stepper, w); for (let i = 0; i < 2 * steps; i++) stepper.step(); }), (bytes) => bytes <= idleBytes);
    // Entries are delivered asynchronously: let them arrive before counting.
    await new Promise((resolve) => setImmediate(resolve));
    observer.disconnect();
    // Only collections that started while stepping count (the forced ones run between windows).
    const gcs = gcTimes.filter((t) => measured.stepping.some(([a, b]) => t >= a && t <= b)).length;
    const deltas = [...measured.retained].sort((a, b) => a - b);
    return {
      label: c ? `${layout.label} ${c.label}` : layout.label,
      backend: `${backend} ${stepper.threads ?? threads}t`,
      steps,
      retainedPerStep: deltas[Math.floor(deltas.length / 2)],
      totalRetainedPerStep: measured.totalRetained / (deltas.length * steps),
      // The measuring code's own bytes (the same in every window: its heap readings) are subtracted.
      allocatedPerStep: (measured.allocated.reduce((a, b) => a + b, 0) / measured.allocated.length - idleBytes) / steps,
      measuringPerStep: idleBytes / steps,
      gcsDuring: gcs,
      windows: measured.windows,
    };
  } finally {
    stepper.dispose();
  }
}

/**
 * Bytes in the young generation (new space, and new large objects). Short-lived objects are
 * allocated there, and after a forced full GC it is empty, so its growth across a window is what the
 * window allocated, byte for byte; heapUsed also moves with the old generation's concurrent sweeping
 * after that GC (measured: tens of KB over an empty loop), so it cannot count small allocations.
 */
function youngBytes(): number {
  let n = 0;
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space' || space.space_name === 'new_large_object_space') n += space.space_used_size;
  return n;
}

/**
 * Runs `body` in windows of `steps` calls, each between two forced GCs: a leak shows in every
 * window, while a one-off release of older garbage (V8 dropping caches of code it compiled earlier)
 * shows in one window only. Per window: heapUsed growth across it (retained, per step) and before the
 * GC that ends it (allocated, bytes), for the last 3 windows. `between` runs before each window (not
 * measured). Without `settled`, 3 windows; with it, windows go on until `settled` holds for the bytes
 * allocated in each of the last 3, or {@link MAX_WINDOWS} have run.
 */
function windowsOf(body: () => void, steps: number, gc: () => void, between?: (window: number) => void, settled?: (allocated: number) => boolean): { retained: number[]; totalRetained: number; allocated: number[]; stepping: [number, number][]; windows: number } {
  const last3 = <T>(xs: T[]): T[] => xs.slice(-3);
  const done = (allocated: number[]): boolean => allocated.length >= 3 && (!settled || allocated.length >= MAX_WINDOWS || last3(allocated).every(settled));
  const settle = (): number => { gc(); gc(); return process.memoryUsage().heapUsed; };
  const retained: number[] = [];
  const allocated: number[] = [];
  const stepping: [number, number][] = [];
  const totals: number[] = [];
  for (let w = 0; !done(allocated); w++) {
    between?.(w);
    const before = settle();
    const young = youngBytes();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) body();
    const t1 = performance.now();
    allocated.push(youngBytes() - young);
    stepping.push([t0, t1]);
    const after = settle();
    retained.push((after - before) / steps);
    totals.push(after - before);
  }
  return { retained: last3(retained), totalRetained: last3(totals).reduce((a, b) => a + b, 0), allocated: last3(allocated), stepping: last3(stepping), windows: allocated.length };
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

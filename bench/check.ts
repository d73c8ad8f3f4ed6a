import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FloatArray } from '../src/core/dtype.js';
import { applyUpdates } from '../src/transforms/apply-updates.js';
import { type ArrayLeaf, isArrayLeaf, leafData } from '../src/tree/leaf.js';
import { treeLeaves } from '../src/tree/map.js';
import type { Params } from '../src/tree/tree.js';
import type { Layout } from './config.js';
import { compileStepper, fillGrads } from './impls/fused.js';
import { benchOptimizer } from './impls/reference.js';
import { makeProblem } from './problem.js';

/** Outcome of comparing the fused engine with the reference path. */
export interface CheckResult {
  readonly what: string;
  readonly ok: boolean;
  readonly detail: string;
}

const CHECK_STEPS = 5;

/** The values of a tree (params or a state) as flat arrays, in tree order; a number (a count) is one value. */
function flatValues(tree: unknown): FloatArray[] {
  const isValue = (x: unknown): boolean => isArrayLeaf(x) || typeof x === 'number';
  return treeLeaves<ArrayLeaf | number>(tree, isValue).leaves.map((v) => (typeof v === 'number' ? Float64Array.of(v) : leafData(v)));
}

/** Params then state after the check's steps on the reference path. */
function referenceRun(layout: Layout): { params: FloatArray[]; state: FloatArray[] } {
  const problem = makeProblem(layout);
  const tx = benchOptimizer();
  let params: Params = problem.params;
  let state = tx.init(params);
  for (let i = 0; i < CHECK_STEPS; i++) {
    const [updates, next] = tx.update(problem.grads, state, params);
    params = applyUpdates(params, updates);
    state = next;
  }
  return { params: flatValues(params), state: flatValues(state) };
}

function firstMismatch(what: string, a: readonly FloatArray[], b: readonly FloatArray[]): string | null {
  if (a.length !== b.length) return `${what}: ${b.length} leaves instead of ${a.length}`;
  for (let l = 0; l < a.length; l++) {
    if (a[l].length !== b[l].length) return `${what} leaf ${l}: ${b[l].length} values instead of ${a[l].length}`;
    for (let i = 0; i < a[l].length; i++) {
      if (!Object.is(a[l][i], b[l][i])) return `${what} leaf ${l}[${i}]: ${b[l][i]} instead of ${a[l][i]}`;
    }
  }
  return null;
}

/**
 * Checks that the fused engine (one backend and thread count) gives the reference path's params and
 * state (count, mu, nu) bit for bit after a few steps, on a one-leaf and a many-leaf tree, float32 and float64: the speed
 * numbers are only worth something if the engine computes the same thing.
 */
export async function checkBitExact(backend: 'js' | 'wasm', threads: number): Promise<CheckResult[]> {
  const layouts: Layout[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    layouts.push({ label: `1×4099 ${dtype}`, leaves: 1, leafSize: 4099, dtype });
    layouts.push({ label: `37×129 ${dtype}`, leaves: 37, leafSize: 129, dtype });
  }
  const results: CheckResult[] = [];
  for (const layout of layouts) {
    const expected = referenceRun(layout);
    const what = `fused ${backend} ${threads}t == reference (params and state) after ${CHECK_STEPS} steps, ${layout.label}`;
    try {
      const problem = makeProblem(layout);
      const stepper = await compileStepper(problem, { backend, threads });
      try {
        fillGrads(stepper, problem);
        for (let i = 0; i < CHECK_STEPS; i++) await stepper.step();
        const mismatch = firstMismatch('params', expected.params, flatValues(stepper.params)) ?? firstMismatch('state', expected.state, flatValues(stepper.state));
        results.push({ what, ok: mismatch === null, detail: mismatch ?? 'bit-exact' });
      } finally {
        stepper.dispose();
      }
    } catch (e) {
      results.push({ what, ok: false, detail: (e as Error).message.split('\n')[0] });
    }
  }
  return results;
}

/**
 * {@link checkBitExact} in a child process (bench/check-child.ts) with a time limit: an engine whose
 * step never returns must cost the bench one column, not the whole run. `hung` tells why the backend
 * must be skipped when the child did not finish.
 */
export function checkBitExactInChild(backend: 'js' | 'wasm', threads: number, timeoutMs: number): Promise<{ results: CheckResult[]; hung?: string }> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const args = ['--import', 'tsx', path.join(here, 'check-child.ts'), backend, String(threads)];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: path.resolve(here, '..'), encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const what = `fused ${backend} ${threads}t == reference`;
      if (error) {
        const hung = error.killed ? `the engine did not finish ${CHECK_STEPS} steps on small trees within ${timeoutMs / 1000} s (hung?)` : `the check crashed: ${stderr.trim().split('\n').pop() ?? error.message}`;
        resolve({ results: [{ what, ok: false, detail: hung }], hung });
        return;
      }
      try {
        resolve({ results: JSON.parse(stdout.trim().split('\n').pop()!) as CheckResult[] });
      } catch {
        resolve({ results: [{ what, ok: false, detail: `unexpected output: ${stdout.trim()}` }], hung: 'the check printed no result' });
      }
    });
  });
}

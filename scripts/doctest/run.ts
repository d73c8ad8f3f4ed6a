/**
 * Runs example modules in child processes (`node --import tsx`), a few at a time.
 *
 * Blocks are grouped (the doc test makes one group per documented file) and the groups are spread over
 * a few child processes; a child runs its blocks one after the other, each as its own module, so a
 * throwing block does not hide the next one, while the cost of starting node + tsx and loading the
 * sources is paid a few times per run rather than once per block.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** A block ready to run: `code` is an ES module (already instrumented, imports resolved). */
export interface RunnableBlock {
  readonly id: number;
  /** Blocks with the same group run in the same child process, in the given order. */
  readonly group: string;
  readonly code: string;
}

/** One value printed by an instrumented `console.log` call. */
export interface PrintedValue {
  readonly site: number;
  readonly text: string;
}

/** What running a block did. */
export interface BlockOutcome {
  readonly printed: readonly PrintedValue[];
  /** Errors thrown by the block (or by its asynchronous work), with their stacks. */
  readonly errors: readonly string[];
  /** True when the module finished evaluating (its top-level code, including awaits, completed). */
  readonly finished: boolean;
  /** The temporary file the block ran as (to map stack traces back). */
  readonly file: string;
}

export interface RunOptions {
  /** Directory to run in (its node_modules provides tsx). */
  readonly cwd: string;
  /** Children at once; default: the number of cores (at least 2). */
  readonly concurrency?: number;
  /** A child still running after this long is killed; default 60 s. */
  readonly timeoutMs?: number;
  /**
   * Child processes to spread the groups over; default: twice the concurrency. Starting node + tsx and
   * loading the sources costs ~0.6 s of CPU per child, against a few ms per block, so a child per
   * group would dominate the run time. Groups sharing a child still run as separate modules, one after
   * the other; what they share is the sources' module instances (e.g. a registry they add to).
   */
  readonly children?: number;
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

/**
 * Starts running every block and returns, for each block id, a promise of its outcome (settled when
 * its group's child has exited). The temporary directory is removed when every child has exited.
 */
export function runBlocks(blocks: readonly RunnableBlock[], options: RunOptions): Map<number, Promise<BlockOutcome>> {
  const dir = mkdtempSync(join(tmpdir(), 'optax-ts-doctest-'));
  const fileOf = (id: number): string => join(dir, `block-${id}.mts`);
  for (const b of blocks) writeFileSync(fileOf(b.id), b.code);

  const groups = new Map<string, RunnableBlock[]>();
  for (const b of blocks) groups.set(b.group, [...(groups.get(b.group) ?? []), b]);
  const concurrency = Math.max(1, options.concurrency ?? Math.max(2, availableParallelism()));
  const timeoutMs = options.timeoutMs ?? 60_000;
  const children = Math.max(1, options.children ?? 2 * concurrency);

  const outcomes = new Map<number, Promise<BlockOutcome>>();
  const resolvers = new Map<number, (outcome: BlockOutcome) => void>();
  for (const b of blocks) outcomes.set(b.id, new Promise((resolve) => resolvers.set(b.id, resolve)));

  const queue = packGroups([...groups.values()], children).map((members, k) => ({ members, k }));

  const runChildGroup = async ({ members, k }: (typeof queue)[number]): Promise<void> => {
    const out = join(dir, `group-${k}.jsonl`);
    const manifest = join(dir, `group-${k}.json`);
    writeFileSync(out, '');
    writeFileSync(manifest, JSON.stringify({ out, blocks: members.map((b) => ({ id: b.id, url: pathToFileURL(fileOf(b.id)).href })) }));
    const { exitNote } = await runChild(manifest, options.cwd, timeoutMs);
    const events = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event);
    for (const b of members) {
      const mine = events.filter((e) => e.block === b.id);
      const finished = mine.some((e) => e.t === 'done');
      const errors = mine.filter((e) => e.t === 'error').map((e) => e.message ?? '');
      if (!finished && errors.length === 0) {
        const started = mine.some((e) => e.t === 'start');
        errors.push(started ? `the block did not finish: ${exitNote}` : `the block never ran: ${exitNote}`);
      }
      const printed = mine.filter((e) => e.t === 'log').map((e) => ({ site: e.site ?? -1, text: e.text ?? '' }));
      resolvers.get(b.id)!({ printed, errors, finished, file: fileOf(b.id) });
    }
  };

  const workers = Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await runChildGroup(next);
  });
  void Promise.all(workers).finally(() => rmSync(dir, { recursive: true, force: true }));
  return outcomes;
}

// Distributes groups over at most `bins` bins, largest group first into the least-filled bin (by
// block count), keeping the groups' original order inside each bin. Empty bins are dropped.
function packGroups<T>(groups: readonly (readonly T[])[], bins: number): T[][] {
  const load = new Array<number>(bins).fill(0);
  const binOf = new Map<number, number>();
  const bySize = groups.map((g, k) => k).sort((a, b) => groups[b].length - groups[a].length);
  for (const k of bySize) {
    const bin = load.indexOf(Math.min(...load));
    binOf.set(k, bin);
    load[bin] += groups[k].length;
  }
  const out: T[][] = Array.from({ length: bins }, () => []);
  groups.forEach((g, k) => out[binOf.get(k)!].push(...g));
  return out.filter((b) => b.length > 0);
}

interface Event {
  readonly t: 'start' | 'log' | 'done' | 'error' | 'lingering';
  readonly block?: number;
  readonly site?: number;
  readonly text?: string;
  readonly message?: string;
}

// Runs one child; resolves when it exits, with a note on how it exited (used when a block never
// finished: crash, process.exit from an example, or timeout).
function runChild(manifest: string, cwd: string, timeoutMs: number): Promise<{ exitNote: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, manifest], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-4000); });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', (error) => { clearTimeout(timer); resolve({ exitNote: `could not start node: ${error.message}` }); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const how = timedOut ? `killed after ${timeoutMs} ms` : `child process exited with ${signal ?? `code ${code}`}`;
      resolve({ exitNote: stderr.trim() ? `${how}; stderr:\n${stderr.trim()}` : how });
    });
  });
}

import { execFile, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dtype } from '../../src/core/dtype.js';
import type { Layout } from '../config.js';
import type { TimingBudget } from '../config.js';
import type { Problem } from '../problem.js';
import type { CellResult, Implementation } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.resolve(here, '../c/adamax.c');
const buildDir = path.resolve(here, '../.build');

interface Build { binaries: Record<Dtype, string>; threading: string; compiler: string }
let build: Promise<Build | string> | undefined;

function gcc(args: string[]): { ok: boolean; message: string } {
  const r = spawnSync('gcc', args, { encoding: 'utf8' });
  if (r.error) return { ok: false, message: r.error.message };
  return { ok: r.status === 0, message: (r.stderr || r.stdout || '').trim().split('\n')[0] ?? '' };
}

/**
 * Compiles the C kernel (float32 and float64) into bench/.build/: with OpenMP when gcc has it, else
 * with a pthread pool. Resolves to the reason when there is no usable gcc.
 */
function compile(): Promise<Build | string> {
  build ??= (async () => {
    const version = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
    if (version.error || version.status !== 0) return 'no C compiler (gcc) on this machine';
    mkdirSync(buildDir, { recursive: true });
    const base = ['-O3', '-march=native', '-ffp-contract=off', '-std=c11', source, '-lm'];
    const variants: [string, string[]][] = [['OpenMP', ['-fopenmp']], ['pthreads', ['-pthread', '-DADAMAX_PTHREADS']]];
    for (const [threading, flags] of variants) {
      const binaries = { float32: path.join(buildDir, 'adamax-f32'), float64: path.join(buildDir, 'adamax-f64') };
      const f32 = gcc([...flags, ...base, '-o', binaries.float32]);
      const f64 = f32.ok ? gcc([...flags, '-DADAMAX_FLOAT64', ...base, '-o', binaries.float64]) : f32;
      if (f32.ok && f64.ok) return { binaries, threading, compiler: version.stdout.split('\n')[0] };
    }
    return 'gcc failed to build bench/c/adamax.c';
  })();
  return build;
}

function runBinary(binary: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { encoding: 'utf8', timeout: 120_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
}

/** The C kernel at a fixed thread count; it times itself in a subprocess and prints ns/param. */
export function cKernel(threads: number): Implementation {
  let info: Build | undefined;
  return {
    id: `c-${threads}`,
    label: `C ${threads}t`,
    dtypes: ['float32', 'float64'],
    async prepare() {
      const b = await compile();
      if (typeof b === 'string') return b;
      info = b;
      return null;
    },
    async measure(problem: Problem, budget: TimingBudget): Promise<CellResult> {
      const { leaves, leafSize, dtype } = problem.layout;
      const out = await runBinary(info!.binaries[dtype], [String(leaves), String(leafSize), String(threads), String(budget.cellSeconds), String(budget.repeats)]);
      const match = /ns_per_param (\S+) steps (\d+)/.exec(out);
      if (!match) return { na: `unexpected output: ${out.trim()}` };
      return { ns: Number(match[1]), steps: Number(match[2]) };
    },
    notes() {
      return info ? [`C: ${info.compiler}, -O3 -march=native -ffp-contract=off, threads via ${info.threading}; one pass in optax's op order, each of p, mu, nu, g in one 64-byte-aligned arena (bench/c/adamax.c).`] : [];
    },
  };
}

/** The C kernel as a server (bench/c/adamax.c `serve` mode): a layout set up once, timed on request. */
export interface CServer {
  /** Runs `steps` steps; their wall and process CPU seconds (all threads). */
  run(steps: number): Promise<{ wall: number; cpu: number }>;
  close(): void;
}

/**
 * Starts the C kernel on `layout` at `threads` threads in serve mode, warmed up; undefined (with the
 * reason) when there is no usable gcc. The bench times it in alternation with the fused engine
 * (interleaved-c.ts).
 */
export async function startCServer(layout: Layout, threads: number): Promise<CServer | string> {
  const b = await compile();
  if (typeof b === 'string') return b;
  const child = spawn(b.binaries[layout.dtype], [String(layout.leaves), String(layout.leafSize), String(threads), 'serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the C kernel exited (${String(code)})`))));
  exited.catch(() => {});
  const next = async (): Promise<string> => {
    const line = await Promise.race([lines.next(), exited]);
    if (line.done) throw new Error('the C kernel closed its output');
    return line.value;
  };
  const ready = await next();
  if (ready !== 'ready') {
    child.kill();
    return `unexpected output of the C kernel: ${ready}`;
  }
  return {
    async run(steps) {
      child.stdin.write(`${steps}\n`);
      const [wall, cpu] = (await next()).split(' ').map(Number);
      if (!(wall >= 0 && cpu >= 0)) throw new Error('unexpected output of the C kernel');
      return { wall, cpu };
    },
    close() {
      child.stdin.end();
      child.kill();
    },
  };
}

import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dtype } from '../../src/core/dtype.js';
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

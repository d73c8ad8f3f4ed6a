import { OptaxError } from '../core/errors.js';
import { readOptions } from '../core/options.js';
import { describe } from '../tree/structure.js';
import type { CompileOptions } from './compile.js';
import type { KernelBackend } from './executor.js';
import type { SubnormalMode } from './subnormals.js';

/**
 * Validation of {@link compile}'s options, before anything is allocated or any worker starts: the
 * object itself as every options object is checked (`readOptions`: plain, own known keys, no
 * getters), then every option's type and range.
 */

/**
 * The most threads a stepper may be compiled for (the calling thread included): memory bandwidth is
 * saturated long before, and each worker costs its own engine instance (megabytes). A fixed bound,
 * not the machine's core count, so that options valid on one machine are valid on every other.
 */
export const MAX_THREADS = 64;

/** The options as compile() uses them: validated, own values only. */
export interface ValidatedOptions {
  readonly threads: number | undefined;
  readonly backend: 'auto' | KernelBackend;
  readonly minElementsPerThread: number | undefined;
  readonly fallback: 'reference' | 'error';
  readonly workerTimeout: number | undefined;
  readonly workerJournal: boolean;
  readonly subnormals: SubnormalMode;
  readonly masks: 'every-step' | 'once';
}

const BACKENDS: readonly string[] = ['auto', 'wasm', 'js', 'interpreter'];

/** Reads and validates compile()'s options; an OptaxError names the first one that is wrong. */
export function validateCompileOptions(options: CompileOptions | undefined): ValidatedOptions {
  // A plain object of known own keys holding plain values (core/options.ts), then each one's range.
  const own = readOptions<CompileOptions>('compile', options, { threads: true, backend: true, minElementsPerThread: true, fallback: true, workerTimeout: true, workerJournal: true, subnormals: true, masks: true });
  const read = (key: keyof CompileOptions): unknown => (Object.hasOwn(own, key) ? own[key] : undefined);
  const threads = read('threads');
  if (threads !== undefined && (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS)) {
    throw new OptaxError(`compile: threads must be an integer from 1 to ${MAX_THREADS}, got ${shown(threads)}`);
  }
  const backend = read('backend');
  if (backend !== undefined && (typeof backend !== 'string' || !BACKENDS.includes(backend))) {
    throw new OptaxError(`compile: backend must be 'auto', 'wasm', 'js' or 'interpreter', got ${shown(backend)}`);
  }
  const minElementsPerThread = read('minElementsPerThread');
  if (minElementsPerThread !== undefined && (typeof minElementsPerThread !== 'number' || !Number.isSafeInteger(minElementsPerThread) || minElementsPerThread < 1)) {
    throw new OptaxError(`compile: minElementsPerThread must be an integer >= 1, got ${shown(minElementsPerThread)}`);
  }
  const fallback = read('fallback');
  if (fallback !== undefined && fallback !== 'reference' && fallback !== 'error') {
    throw new OptaxError(`compile: fallback must be 'reference' or 'error', got ${shown(fallback)}`);
  }
  const workerTimeout = read('workerTimeout');
  if (workerTimeout !== undefined && (typeof workerTimeout !== 'number' || !Number.isInteger(workerTimeout) || workerTimeout < 1 || workerTimeout > 2 ** 31 - 1)) {
    throw new OptaxError(`compile: workerTimeout must be an integer number of milliseconds from 1 to 2^31 - 1, got ${shown(workerTimeout)}`);
  }
  const workerJournal = read('workerJournal');
  if (workerJournal !== undefined && typeof workerJournal !== 'boolean') {
    throw new OptaxError(`compile: workerJournal must be true or false, got ${shown(workerJournal)}`);
  }
  const subnormals = read('subnormals');
  if (subnormals !== undefined && subnormals !== 'ieee' && subnormals !== 'flush') {
    throw new OptaxError(`compile: subnormals must be 'ieee' or 'flush', got ${shown(subnormals)}`);
  }
  const masks = read('masks');
  if (masks !== undefined && masks !== 'every-step' && masks !== 'once') {
    throw new OptaxError(`compile: masks must be 'every-step' or 'once', got ${shown(masks)}`);
  }
  return { threads, backend: (backend ?? 'auto') as 'auto' | KernelBackend, minElementsPerThread, fallback: fallback ?? 'reference', workerTimeout, workerJournal: workerJournal ?? false, subnormals: subnormals ?? 'ieee', masks: masks ?? 'every-step' };
}

/** A rejected option value as the message shows it. */
function shown(x: unknown): string {
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint') return `${String(x)}${typeof x === 'bigint' ? 'n' : ''}`;
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x);
  return describe(x);
}

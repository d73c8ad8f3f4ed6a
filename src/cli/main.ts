#!/usr/bin/env node
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OptaxError } from '../core/errors.js';
import { setWarningHandler } from '../core/warnings.js';
import { ENGINE_CONFIGS, engineConfigUnavailable } from '../conformance/engine-driver.js';
import type { VectorsFile } from '../conformance/format.js';
import type { CaseResult } from '../conformance/result.js';
import { newAgreement } from '../conformance/compare.js';
import { checkVectorsFile, formatResult, runVectorsFile, summaryLine } from '../conformance/runner.js';
import { type ConformanceOptions, UsageError, parseArgs } from './args.js';
import { fileRoundTrip } from './checkpoint-roundtrip.js';
import { InputError, readJsonFile } from './read-input.js';
import { escapeControl } from './terminal-text.js';

/** Exit status: every case passed. */
const OK = 0;
/** Exit status: a case failed. */
const FAILED = 1;
/** Exit status: usage or input error. */
const BAD_INPUT = 2;
/** Exit status: optax-ts itself failed (a bug: please report it). */
const INTERNAL = 3;

/** The package root: dist/cli/main.js or src/cli/main.ts, two levels up. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every line printed goes through here: one line, control characters escaped. */
const out = (line: string): void => { process.stdout.write(`${escapeControl(line)}\n`); };
const err = (line: string): void => { process.stderr.write(`optax-ts: ${escapeControl(line)}\n`); };

function version(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The vectors shipped in the package's conformance/ folder. */
function bundledVectors(): string[] {
  const dir = join(ROOT, 'conformance');
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => join(dir, f));
}

/**
 * Reads and validates every file before running any. A file that cannot be read or is not in the
 * vectors' format is one failed result (its reason the error, also printed on stderr): the other files
 * still run, and the summary still closes the output.
 */
function loadAll(paths: readonly string[], maxBytes: number): { loaded: { path: string; file: VectorsFile }[]; broken: CaseResult[] } {
  const loaded: { path: string; file: VectorsFile }[] = [];
  const broken: CaseResult[] = [];
  for (const path of paths) {
    try {
      loaded.push({ path, file: checkVectorsFile(readJsonFile(path, maxBytes), path) });
    } catch (e) {
      if (!(e instanceof InputError) && !(e instanceof OptaxError)) throw e;
      // checkVectorsFile's messages start with the file name already.
      const reason = e instanceof InputError ? `${path}: ${e.message}` : e.message;
      err(reason);
      broken.push({ name: path, kind: 'file', passed: false, agreement: newAgreement(), reason });
    }
  }
  return { loaded, broken };
}

function conformance(options: ConformanceOptions): number {
  const { loaded, broken } = loadAll(options.files.length ? options.files : bundledVectors(), options.maxBytes);
  if (options.engine) {
    for (const config of ENGINE_CONFIGS) {
      const why = engineConfigUnavailable(config);
      if (why) err(`--engine: ${config.label} is not run here: ${why}`);
    }
  }
  // The vectors exercise optax's log-and-carry-on cases (a zero-step schedule) on purpose: their
  // warnings would only be noise next to the verdicts.
  setWarningHandler(() => {});
  const checkpoint = options.checkpointRoundtrip && loaded.length ? fileRoundTrip() : undefined;
  const results: CaseResult[] = [];
  for (const r of broken) { out(formatResult(r)); results.push(r); }
  try {
    for (const { path, file } of loaded) {
      for (const r of runVectorsFile(file, path, { engine: options.engine, checkpoint: checkpoint?.roundTrip })) {
        out(formatResult(r));
        results.push(r);
      }
    }
  } finally {
    checkpoint?.dispose();
  }
  out(summaryLine(results));
  return broken.length ? BAD_INPUT : results.every((r) => r.passed) ? OK : FAILED;
}

function main(argv: string[]): number {
  try {
    const command = parseArgs(argv);
    if (command.kind === 'help') { process.stdout.write(`${command.text}\n`); return OK; }
    if (command.kind === 'version') { out(`optax-ts ${version()}`); return OK; }
    return conformance(command.options);
  } catch (e) {
    // Usage and input errors: one line on stderr, nothing on stdout.
    if (e instanceof UsageError || e instanceof InputError || e instanceof OptaxError) {
      err(e.message);
      return BAD_INPUT;
    }
    err(`internal error (please report it): ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    return INTERNAL;
  }
}

process.exitCode = main(process.argv.slice(2));

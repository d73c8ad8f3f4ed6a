#!/usr/bin/env node
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OptaxError } from '../core/errors.js';
import { setWarningHandler } from '../core/warnings.js';
import { ENGINE_CONFIGS, engineConfigUnavailable } from '../conformance/engine-driver.js';
import type { VectorsFile } from '../conformance/format.js';
import type { CaseResult } from '../conformance/result.js';
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
 * Reads and validates every file before running any, so that an input error (exit 2) never comes
 * after PASS lines.
 */
function loadAll(paths: readonly string[], maxBytes: number): { path: string; file: VectorsFile }[] {
  return paths.map((path) => {
    try {
      return { path, file: checkVectorsFile(readJsonFile(path, maxBytes), path) };
    } catch (e) {
      if (e instanceof InputError) throw new InputError(`${path}: ${e.message}`);
      throw e;
    }
  });
}

function conformance(options: ConformanceOptions): number {
  const files = loadAll(options.files.length ? options.files : bundledVectors(), options.maxBytes);
  if (options.engine) {
    for (const config of ENGINE_CONFIGS) {
      const why = engineConfigUnavailable(config);
      if (why) err(`--engine: ${config.label} is not run here: ${why}`);
    }
  }
  // The vectors exercise optax's log-and-carry-on cases (a zero-step schedule) on purpose: their
  // warnings would only be noise next to the verdicts.
  setWarningHandler(() => {});
  const checkpoint = options.checkpointRoundtrip ? fileRoundTrip() : undefined;
  const results: CaseResult[] = [];
  try {
    for (const { path, file } of files) {
      for (const r of runVectorsFile(file, path, { engine: options.engine, checkpoint: checkpoint?.roundTrip })) {
        out(formatResult(r));
        results.push(r);
      }
    }
  } finally {
    checkpoint?.dispose();
  }
  out(summaryLine(results));
  return results.every((r) => r.passed) ? OK : FAILED;
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

#!/usr/bin/env node
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkVectorsFile, formatResult, runVectorsFile, summaryLine } from '../conformance/runner.js';
import type { CaseResult } from '../conformance/result.js';
import type { CheckpointRoundTrip } from '../conformance/run-trajectory.js';
import { fileRoundTrip } from './checkpoint-roundtrip.js';

const USAGE = `usage: optax-ts conformance [--checkpoint-roundtrip] [FILE...]

Runs conformance vectors (format adamax-goldens/1) through optax-ts and prints one line per case
(name, PASS/FAIL, fraction of elements bit-identical, worst error in ulps), then "N passed, M failed".
Without FILE, runs the vectors shipped with the package. Exits 1 when any case fails.

  --checkpoint-roundtrip  save each trajectory's params and state to a safetensors file midway and
                          load them back before the remaining steps (the results must not change)`;

/** The vectors shipped in the package's conformance/ folder. */
function bundledVectors(): string[] {
  // dist/cli/main.js or src/cli/main.ts: the package root is two levels up.
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const dir = join(root, 'conformance');
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => join(dir, f));
}

function conformance(args: string[]): number {
  const checkpoint = args.includes('--checkpoint-roundtrip') ? fileRoundTrip() : undefined;
  try {
    return runFiles(args.filter((a) => a !== '--checkpoint-roundtrip'), checkpoint?.roundTrip);
  } finally {
    checkpoint?.dispose();
  }
}

function runFiles(files: string[], checkpoint: CheckpointRoundTrip | undefined): number {
  const paths = files.length ? files : bundledVectors();
  const results: CaseResult[] = [];
  let broken = 0;
  for (const path of paths) {
    let fileResults: CaseResult[];
    try {
      const file = checkVectorsFile(JSON.parse(readFileSync(path, 'utf8')), path);
      fileResults = runVectorsFile(file, path, { checkpoint });
    } catch (e) {
      // An unreadable file counts as one failed case, so the summary never hides it.
      console.log(`FAIL  ${path}  -- ${(e as Error).message}`);
      broken++;
      continue;
    }
    for (const r of fileResults) console.log(formatResult(r));
    results.push(...fileResults);
  }
  const passed = results.filter((r) => r.passed).length;
  const failed = results.length - passed + broken;
  console.log(broken ? `${passed} passed, ${failed} failed` : summaryLine(results));
  return failed === 0 ? 0 : 1;
}

function main(argv: string[]): number {
  const [command, ...rest] = argv;
  if (command === 'conformance') return conformance(rest);
  if (command === '--help' || command === '-h' || command === 'help') { console.log(USAGE); return 0; }
  console.error(command ? `optax-ts: unknown command '${command}'\n\n${USAGE}` : USAGE);
  return 2;
}

process.exitCode = main(process.argv.slice(2));

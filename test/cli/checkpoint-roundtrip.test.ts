/**
 * `optax-ts conformance --checkpoint-roundtrip`: every trajectory is saved to a real file midway and
 * loaded back, and still passes; the round trip is really part of the run (a lossy one fails cases).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkVectorsFile, runVectorsFile } from '../../src/conformance/runner.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const vectors = fileURLToPath(new URL('../../conformance/public_f64.json', import.meta.url));

test('--checkpoint-roundtrip runs every trajectory through a checkpoint file and they still pass', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'conformance', '--checkpoint-roundtrip', vectors], { cwd: root, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const lines = run.stdout.trim().split('\n');
  const cases = JSON.parse(readFileSync(vectors, 'utf8')).cases.length;
  assert.equal(lines[lines.length - 1], `${cases} passed, 0 failed`);
});

test('the round trip is part of the run: restoring a fresh state instead makes trajectories fail', () => {
  const file = checkVectorsFile(JSON.parse(readFileSync(vectors, 'utf8')), vectors);
  let calls = 0;
  const results = runVectorsFile(file, 'public_f64', { checkpoint: (_c, template) => { calls++; return template; } });
  const trajectories = file.cases.filter((c) => c.kind === 'trajectory').length;
  assert.equal(calls, trajectories);
  assert.ok(results.filter((r) => !r.passed).length > trajectories / 2);
});

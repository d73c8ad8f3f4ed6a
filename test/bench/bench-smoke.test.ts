import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function runQuickBench(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick'], { cwd: root, encoding: 'utf8', timeout: 300_000, maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

// Keeps the benchmark from rotting: it must run end to end and print its table. No timing is asserted.
test('bench/run.ts --quick runs and prints the table, the ratios and the targets', async () => {
  const { code, stdout, stderr } = await runQuickBench();
  assert.equal(code, 0, `exit code ${code}\n${stderr.slice(-2000)}`);
  assert.match(stdout, /ns per parameter for one adamax step/);
  const header = stdout.split('\n').find((l) => l.startsWith('params ') && l.includes('reference'));
  assert.ok(header, 'table header');
  for (const column of ['reference', 'optax-style unfused JS', 'tfjs cpu', 'tfjs wasm', 'jax-js jit', 'fused js 1t', 'fused wasm 1t', 'C 1t']) {
    assert.ok(header.includes(column), `column ${column}`);
  }
  for (const row of ['1e4', '1e5', '200×500', '1e5 f64']) {
    const line = stdout.split('\n').find((l) => l.startsWith(`${row} `));
    assert.ok(line, `row ${row}`);
    // The reference path is always there: its cell is a number.
    assert.match(line.slice(row.length), /^\s+\d+(\.\d+)?\s/, `reference cell of ${row}`);
  }
  assert.match(stdout, /Ratios/);
  assert.match(stdout, /^(PASS|FAIL|SKIP) /m, 'target lines');
  assert.match(stdout, /^(PASS|FAIL) jax-js wasm, .*: optax-ts\/jax-js vs hand-written jitted adamax \(stand-in for @jax-js\/optax\)/m, 'the jax-js adapter target');
  assert.doesNotMatch(stderr, /wrote /, 'a quick run writes no BENCHMARKS.md');
});

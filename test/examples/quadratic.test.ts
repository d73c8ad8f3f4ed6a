import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;

test('npm start prints exactly the lines optax\'s docstring example printed', () => {
  const vectors = JSON.parse(readFileSync(join(root, 'conformance/public_f32.json'), 'utf8'));
  const printed: string[] = vectors.cases.find((c: { name: string }) => c.name === 'doc_example_quadratic').printed;
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'examples/quadratic.ts')], { encoding: 'utf8', cwd: root });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(run.stdout.trimEnd().split('\n'), printed);
});

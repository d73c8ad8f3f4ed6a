/**
 * The `optax-ts/node` subpath export resolves from the built package (npm test builds first) and
 * provides the checkpoint files API next to everything the main entry has.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test("import('optax-ts/node') gives saveCheckpoint, loadCheckpoint and the core", (t) => {
  if (!existsSync(`${root}dist/node/index.js`)) { t.skip('not built (npm run build)'); return; }
  const script = "const m = await import('optax-ts/node'); console.log(['saveCheckpoint', 'loadCheckpoint', 'saveCheckpointSync', 'loadCheckpointSync', 'toSafetensors', 'adamax'].map((k) => typeof m[k]).join(' '));";
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'function function function function function function');
});

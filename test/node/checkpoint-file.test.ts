/**
 * Checkpoint files: atomic saves (a writer killed with SIGKILL at random moments always leaves the old
 * or the new complete checkpoint), bounded and validated loads, errors that change nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OptaxError, adamax } from '../../src/index.js';
import { loadCheckpoint, loadCheckpointSync, saveCheckpoint, saveCheckpointSync } from '../../src/node/index.js';

const isOptaxError = (pattern: RegExp) => (e: unknown) => e instanceof OptaxError && pattern.test(e.message);
const template = () => {
  const params = { w: new Float32Array(1 << 18), b: new Float64Array(1000) };
  return { params, state: adamax(0.01).init(params) };
};

/** The version a checkpoint file holds, checking that it is one complete, consistent version. */
function versionOf(file: string): number {
  const { params, state } = loadCheckpointSync(file, template());
  const v = state[0].count;
  assert.ok(params.w.every((x) => x === v) && params.b.every((x) => x === v), `a torn checkpoint: count ${v} with other params`);
  return v;
}

test('a writer killed (SIGKILL) at random moments leaves the old or the new complete checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optax-atomic-'));
  const file = join(dir, 'run.safetensors');
  const writer = fileURLToPath(new URL('./checkpoint-writer.ts', import.meta.url));
  try {
    const t = template();
    saveCheckpointSync(file, { params: t.params, state: t.state });
    let version = 0;
    const kills = 5;
    for (let round = 0; round < kills; round++) {
      const first = version + 1;
      const child = spawn(process.execPath, ['--import', 'tsx', writer, file, String(first)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let saved = version;
      const firstSave = new Promise<void>((resolve) => {
        child.stdout.on('data', (chunk: Buffer) => {
          for (const line of chunk.toString().split('\n')) if (line) saved = Number(line);
          resolve();
        });
      });
      await firstSave;
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const got = versionOf(file);
      // Killed after printing `saved` and possibly after renaming the next one.
      assert.ok(got === saved || got === saved + 1, `file holds version ${got}, the writer had saved ${saved}`);
      version = got;
    }
    assert.ok(version >= kills);
    // A killed writer may leave its temporary file; it never replaces the checkpoint.
    for (const name of readdirSync(dir)) assert.ok(name === 'run.safetensors' || /^\.run\.safetensors\.\d+\.[0-9a-f]{12}\.tmp$/.test(name), name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('saving something that is not a checkpoint throws before the file system is touched', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optax-save-'));
  const file = join(dir, 'run.safetensors');
  try {
    const t = template();
    saveCheckpointSync(file, t);
    const bad = { params: t.params, state: [{ ...t.state[0], count: 2 ** 31 + 5 }, t.state[1]] };
    assert.throws(() => saveCheckpointSync(file, bad), isOptaxError(/^checkpoint\.state\[0\]\.count: a step count must be a non-negative int32/));
    await assert.rejects(saveCheckpoint(file, bad), isOptaxError(/a step count must be a non-negative int32/));
    await assert.rejects(saveCheckpoint(file, { params: t.params } as never), isOptaxError(/must be \{ params, state \}/));
    assert.deepEqual(readdirSync(dir), ['run.safetensors']);
    assert.equal(versionOf(file), 0);
    assert.throws(() => saveCheckpointSync(join(dir, 'missing', 'x.safetensors'), t), /ENOENT/);
    assert.deepEqual(readdirSync(dir), ['run.safetensors']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loading is bounded and validated: size cap, directories, missing and torn files are OptaxErrors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optax-load-'));
  const file = join(dir, 'run.safetensors');
  try {
    const t = template();
    await saveCheckpoint(file, t);
    const back = await loadCheckpoint(file, template());
    assert.equal(back.state[0].count, 0);
    await assert.rejects(loadCheckpoint(file, template(), { maxBytes: 1000 }), isOptaxError(/more than maxBytes \(1000\)/));
    assert.throws(() => loadCheckpointSync(dir, template()), isOptaxError(/is not a regular file/));
    await assert.rejects(loadCheckpoint(join(dir, 'nope'), template()), isOptaxError(/cannot open/));
    writeFileSync(file, new Uint8Array(100));
    assert.throws(() => loadCheckpointSync(file, template()), isOptaxError(/^.*run\.safetensors: safetensors: the header is empty/));
    assert.throws(() => loadCheckpointSync(file, template(), { maxBytes: -1 }), isOptaxError(/maxBytes must be a non-negative integer/));
    if (existsSync('/dev/zero')) assert.throws(() => loadCheckpointSync('/dev/zero', template()), isOptaxError(/not a regular file/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

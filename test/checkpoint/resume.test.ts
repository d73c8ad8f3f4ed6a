/**
 * Resume is exact: for every trajectory case of the shipped vectors (every optimizer they name), N
 * steps straight equal K steps, a checkpoint file, then N-K steps in a fresh process, bit for bit, on
 * the pure path and through compile() (stepper.state in and out), with safetensors files, and on the
 * pure path with flax msgpack.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toFlaxBytes, toSafetensors } from '../../src/index.js';
import { saveCheckpointSync } from '../../src/node/index.js';
import { compiledAt, initialParams, initialState, runCompiled, runPure, stepCount, trajectoryCases, transformOf } from './resume-support.js';

test('N steps straight == K steps, save, load in a fresh process, N-K steps (every vectors optimizer; pure, compiled, flax)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'optax-resume-'));
  try {
    const cases = trajectoryCases();
    assert.ok(cases.length >= 60);
    const straight = new Map<string, Uint8Array>();
    const flax = new Map<string, Uint8Array>();
    const compiledCases: string[] = [];
    for (const r of cases) {
      const n = stepCount(r), k = Math.floor(n / 2);
      const tx = transformOf(r);
      const params = initialParams(r);
      const start = { params, state: initialState(r, tx, params) };
      const end = runPure(r, tx, start, 0, n), middle = runPure(r, tx, start, 0, k);
      straight.set(`${r.id}.pure`, toSafetensors(end));
      saveCheckpointSync(join(dir, `${r.id}.pure.safetensors`), middle);
      flax.set(r.id, toFlaxBytes(end));
      writeFileSync(join(dir, `${r.id}.flax.msgpack`), toFlaxBytes(middle));

      const full = compiledAt(tx, start);
      runCompiled(r, full, 0, n);
      straight.set(`${r.id}.compiled`, toSafetensors({ params: full.params, state: full.state }));
      full.dispose();
      const half = compiledAt(tx, start);
      runCompiled(r, half, 0, k);
      saveCheckpointSync(join(dir, `${r.id}.compiled.safetensors`), { params: half.params, state: half.state });
      half.dispose();
      compiledCases.push(r.id);
    }
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./resume-child.ts', import.meta.url)), dir], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    for (const [key, bytes] of straight) {
      const resumed = readFileSync(join(dir, `${key}.resumed.safetensors`));
      assert.ok(Buffer.from(bytes).equals(resumed), `${key}: the resumed run differs from the straight run`);
    }
    for (const [id, bytes] of flax) {
      assert.ok(Buffer.from(bytes).equals(readFileSync(join(dir, `${id}.flax.resumed.msgpack`))), `${id}: the run resumed from flax msgpack differs`);
    }
    assert.equal(straight.size, 2 * cases.length);
    assert.equal(flax.size, cases.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

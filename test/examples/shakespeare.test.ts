import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { runDemo } from '../../examples/shakespeare/demo.js';

test('the demo, short: it learns, saves a checkpoint midway, resumes from it exactly, and draws its curves', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optax-ts-demo-test-'));
  try {
    const options = { steps: 24, batchSize: 32, hidden: 32, evalEvery: 12, sampleLength: 10, backend: 'cpu' as const, checkpointDir: join(dir, 'ckpt') };
    const resumed = await runDemo({ ...options, checkpointAt: 12, svgPath: join(dir, 'curves.svg') });
    const straight = await runDemo(options);
    // Resuming from the files (model, optimizer rebuilt from its spec, state) changes nothing, bit for bit.
    assert.deepEqual(resumed.weights.map((w) => Array.from(new Uint32Array(w.buffer))), straight.weights.map((w) => Array.from(new Uint32Array(w.buffer))));
    const train = resumed.points.filter((p) => p.series === 'train');
    assert.equal(train.length, 24);
    assert.ok(train[23].loss < train[0].loss, `loss ${train[0].loss} -> ${train[23].loss}`);
    assert.equal(train[0].learningRate, 0);
    assert.ok(train[5].learningRate > train[23].learningRate);
    assert.ok(Number.isFinite(resumed.heldOut.loss) && resumed.heldOut.accuracy > 0 && resumed.train.accuracy > 0);
    assert.equal(resumed.sample.length, 12 + 10);
    const svg = readFileSync(join(dir, 'curves.svg'), 'utf8');
    assert.match(svg, /^<svg/);
    assert.match(svg, /learning rate/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The fresh process of the resume test: for each case saved midway by the parent (pure path and
 * compiled as safetensors files, pure path as flax msgpack), loads the checkpoint into a template built from scratch, runs the remaining steps, and
 * saves the final params and state for the parent to compare with its straight run.
 * Usage: resume-child.ts DIR
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fromFlaxBytes, toFlaxBytes } from '../../src/index.js';
import { join } from 'node:path';
import { loadCheckpointSync, saveCheckpointSync } from '../../src/node/index.js';
import { compiledAt, initialParams, initialState, runCompiled, runPure, stepCount, trajectoryCases, transformOf } from './resume-support.js';

const dir = process.argv[2];
for (const r of trajectoryCases()) {
  const n = stepCount(r), k = Math.floor(n / 2);
  {
    // flax msgpack: {params, state} as one state dict, read with fs.readFileSync.
    const tx = transformOf(r);
    const params = initialParams(r);
    const loaded = fromFlaxBytes({ params, state: initialState(r, tx, params) }, readFileSync(join(dir, `${r.id}.flax.msgpack`)));
    writeFileSync(join(dir, `${r.id}.flax.resumed.msgpack`), toFlaxBytes(runPure(r, tx, loaded, k, n)));
  }
  for (const engine of ['pure', 'compiled'] as const) {
    const file = join(dir, `${r.id}.${engine}.safetensors`);
    if (!existsSync(file)) continue;
    const tx = transformOf(r);
    const params = initialParams(r);
    const loaded = loadCheckpointSync(file, { params, state: initialState(r, tx, params) });
    let final;
    if (engine === 'pure') final = runPure(r, tx, loaded, k, n);
    else {
      const stepper = compiledAt(tx, loaded);
      runCompiled(r, stepper, k, n);
      final = { params: stepper.params, state: stepper.state };
      stepper.dispose();
    }
    saveCheckpointSync(join(dir, `${r.id}.${engine}.resumed.safetensors`), final);
  }
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckpointRoundTrip } from '../conformance/run-trajectory.js';
import { loadCheckpointSync, saveCheckpointSync } from '../node/checkpoint-file.js';

/**
 * The conformance CLI's `--checkpoint-roundtrip`: each trajectory's params and state are saved to a
 * real safetensors file in a temporary directory midway, and loaded back into a fresh template, before
 * the remaining steps run. `dispose` removes the directory.
 */
export function fileRoundTrip(): { roundTrip: CheckpointRoundTrip; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'optax-ts-checkpoints-'));
  let n = 0;
  return {
    roundTrip: (checkpoint, template) => {
      const file = join(dir, `case-${n++}.safetensors`);
      saveCheckpointSync(file, checkpoint);
      const restored = loadCheckpointSync(file, template);
      rmSync(file);
      return restored;
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

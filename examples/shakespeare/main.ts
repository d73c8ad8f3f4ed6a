/**
 * `npm run demo`: a character-level model of Shakespeare trained with TensorFlow.js and optax-ts
 * (`toTfjs(chain(clipByGlobalNorm(1), adamaxw(warmupCosineDecaySchedule(...))))`), a checkpoint saved
 * midway and training resumed from it, the curves written to docs/shakespeare-curves.svg.
 *
 *   npm run demo [-- --steps=N --backend=cpu|wasm]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SingleBar, Presets } from 'cli-progress';
import { runDemo } from './demo.js';

tf.env().set('PROD', true); // no "install tfjs-node" banner, no debug checks
const arg = (name: string, fallback: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const steps = Number(arg('steps', '1200'));
const backend = arg('backend', 'wasm') as 'cpu' | 'wasm';
const svgPath = join(import.meta.dirname, '../../docs/shakespeare-curves.svg');
const checkpointDir = mkdtempSync(join(tmpdir(), 'optax-ts-demo-'));
const checkpointAt = Math.floor(steps / 2);

const bar = new SingleBar({ format: 'training |{bar}| {value}/{total} steps | loss {loss} | lr {lr} | {eta_formatted} left', hideCursor: true }, Presets.shades_classic);
const started = performance.now();
bar.start(steps, 0, { loss: '-', lr: '-' });
try {
  const r = await runDemo({
    steps, checkpointAt, checkpointDir, svgPath, backend,
    onStep: (step, loss, lr) => bar.update(step + 1, { loss: loss.toFixed(3), lr: lr.toExponential(2) }),
  });
  bar.stop();
  const bits = (nats: number) => (nats / Math.LN2).toFixed(3);
  console.log(`backend: tfjs ${r.backend}; ${steps} steps in ${((performance.now() - started) / 1000).toFixed(1)} s; checkpoint saved at step ${checkpointAt} (model + optimizer, ${checkpointDir}) and training resumed from it`);
  console.log(`train:    loss ${r.train.loss.toFixed(4)} nats/char (${bits(r.train.loss)} bits), accuracy ${(100 * r.train.accuracy).toFixed(1)}%`);
  console.log(`held-out: loss ${r.heldOut.loss.toFixed(4)} nats/char (${bits(r.heldOut.loss)} bits), accuracy ${(100 * r.heldOut.accuracy).toFixed(1)}%`);
  console.log(`curves:   ${svgPath}`);
  console.log(`sample:\n${r.sample}`);
} finally {
  bar.stop();
  rmSync(checkpointDir, { recursive: true, force: true });
}

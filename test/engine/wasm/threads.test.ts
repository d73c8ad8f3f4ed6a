import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import type { FusedProgram } from '../../../src/engine/program.js';
import { emitFusedModule } from '../../../src/engine/wasm/fused-module.js';
import { ex } from '../../../src/kernel/expr.js';
import { assertSameBits, runReference, typedArray } from './harness.js';

// A worker receives the compiled module and the shared memory, instantiates, runs one range, replies.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, args } = workerData;
const run = new WebAssembly.Instance(module, { env: { memory } }).exports.run;
run(...args);
parentPort.postMessage('done');
`;

function runInWorker(module: WebAssembly.Module, memory: WebAssembly.Memory, args: number[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { module, memory, args } });
    worker.once('message', () => { void worker.terminate(); resolve(); });
    worker.once('error', reject);
  });
}

test('two worker threads run one module on disjoint ranges of a shared memory', async () => {
  const program: FusedProgram = { dtype: 'float32', streams: ['updates', 'params', 'm'], scalars: ['b', 'lr'], outputs: [
    { stream: 'm', expr: ex.max(ex.abs(ex.updates), ex.mul(ex.scalar('b'), ex.state('m'))) },
    { stream: 'params', expr: ex.sub(ex.params, ex.div(ex.mul(ex.scalar('lr'), ex.updates), ex.max(ex.abs(ex.updates), ex.mul(ex.scalar('b'), ex.state('m'))))) },
  ] };
  const n = 1003, split = 500; // split * 4 bytes is a multiple of 16
  const module = new WebAssembly.Module(emitFusedModule(program, { shared: true, maximumPages: 4 }));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
  const inputs = {
    updates: typedArray('float32', Array.from({ length: n }, (_, i) => Math.sin(i) * 3)),
    params: typedArray('float32', Array.from({ length: n }, (_, i) => i / 7)),
    m: typedArray('float32', Array.from({ length: n }, (_, i) => Math.cos(i) ** 2)),
  };
  const offsets = [0, 4096, 8192];
  program.streams.forEach((s, k) => new Float32Array(memory.buffer, offsets[k], n).set(inputs[s as keyof typeof inputs]));
  const scalars = [Math.fround(0.999), Math.fround(0.01)];
  await Promise.all([
    runInWorker(module, memory, [split, ...offsets, ...scalars]),
    runInWorker(module, memory, [n - split, ...offsets.map((o) => o + split * 4), ...scalars]),
  ]);
  const actual = Object.fromEntries(program.streams.map((s, k) => [s, new Float32Array(memory.buffer, offsets[k], n).slice()]));
  assertSameBits(actual, runReference(program, inputs, scalars, n), () => 'threads');
  assert.ok(actual.params.some((v, i) => v !== inputs.params[i]));
});

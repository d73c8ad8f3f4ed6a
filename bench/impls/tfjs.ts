import { createRequire } from 'node:module';
import path from 'node:path';
import { HYPER } from '../config.js';
import type { Problem } from '../problem.js';
import type { Implementation, Runner } from './types.js';

type Tf = typeof import('@tensorflow/tfjs-core');

let tf: Tf | undefined;
let wasmThreads: number | undefined;
let wasmLoaded = false;
let uniqueId = 0;

/** Loads tfjs-core with the cpu backend, and registers the wasm backend with its bundled binaries. */
async function loadTf(): Promise<Tf> {
  if (tf) return tf;
  const core = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  // PROD silences the "install tfjs-node" banner and skips debug checks (the fastest tfjs can be).
  core.env().set('PROD', true);
  tf = core;
  return core;
}

async function useBackend(name: 'cpu' | 'wasm'): Promise<string | null> {
  const core = await loadTf();
  if (name === 'wasm' && !wasmLoaded) {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // The .wasm binaries ship inside the package: load them from node_modules, never from a CDN.
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(dir + path.sep);
    wasmLoaded = true;
    if (!(await core.setBackend('wasm'))) return 'the wasm backend failed to start';
    await core.ready();
    wasmThreads = wasm.getThreadsCount();
  }
  if (!(await core.setBackend(name))) return `the ${name} backend failed to start`;
  await core.ready();
  return null;
}

/** `tf.train.adamax(lr, b1, b2, eps).applyGradients` on one backend; variables created once. */
function tfjsAdamax(backend: 'cpu' | 'wasm'): Implementation {
  return {
    id: `tfjs-${backend}`,
    label: `tfjs ${backend}`,
    dtypes: ['float32'],
    async prepare() {
      try {
        return await useBackend(backend);
      } catch (e) {
        return `tfjs unavailable: ${(e as Error).message.split('\n')[0]}`;
      }
    },
    async setup(problem: Problem): Promise<Runner> {
      await useBackend(backend);
      const core = tf!;
      const id = uniqueId++;
      const names = problem.keys.map((k) => `bench${id}_${k}`);
      const variables = problem.paramLeaves.map((p, i) => core.variable(core.tensor1d(p as Float32Array), true, names[i]));
      const grads = problem.gradLeaves.map((g, i) => ({ name: names[i], tensor: core.tensor1d(g as Float32Array) }));
      const optimizer = core.train.adamax(HYPER.learningRate, HYPER.b1, HYPER.b2, HYPER.eps);
      return {
        run(steps) {
          for (let i = 0; i < steps; i++) core.tidy(() => optimizer.applyGradients(grads));
        },
        dispose() {
          optimizer.dispose();
          variables.forEach((v) => v.dispose());
          grads.forEach((g) => g.tensor.dispose());
        },
      };
    },
    notes() {
      if (backend === 'cpu') return ['tfjs cpu: the pure-JS backend (tfjs-node, the native one, is not a dependency).'];
      return [`tfjs wasm: ${wasmThreads ?? '?'} thread(s); in Node it runs its SIMD build single-threaded (its threaded build needs Web Workers). Note tfjs's Adamax differs slightly from optax's (eps added after the max, learning-rate decay option); the work per element is the same.`];
    },
  };
}

export const tfjsCpu = tfjsAdamax('cpu');
export const tfjsWasm = tfjsAdamax('wasm');

import type { ThreadPlatform } from '../engine/thread-platform.js';

/**
 * The fused engine's worker threads in Node: `worker_threads` workers evaluating the engine's worker
 * script. They are unref'd, so a process whose stepper was never disposed still exits, and run no
 * loader (`execArgv: []`): the script is plain JavaScript.
 *
 * This module imports nothing from Node itself: it is given Node's builtin-module loader
 * (`process.getBuiltinModule`, or the modules imported by `src/node/index.ts`), so that the
 * browser-safe engine can pick it up in Node without any static Node import.
 *
 * @internal
 */

/** The parts of `node:worker_threads` and `node:os` used here. */
interface NodeWorker {
  on(event: 'message' | 'error', listener: (value: unknown) => void): unknown;
  unref(): void;
  terminate(): Promise<number>;
}
interface WorkerThreadsModule {
  Worker: new (source: string, options: { eval: true; workerData: unknown; execArgv: string[] }) => NodeWorker;
}
interface OsModule {
  availableParallelism?: () => number;
  cpus(): readonly unknown[];
}

/** Node's thread platform, from a loader of builtin modules (`node:worker_threads`, `node:os`). */
export function createNodeThreadPlatform(builtin: (id: string) => unknown): ThreadPlatform {
  const { Worker } = builtin('node:worker_threads') as WorkerThreadsModule;
  const os = builtin('node:os') as OsModule;
  return {
    name: 'worker_threads',
    parallelism: () => os.availableParallelism?.() ?? os.cpus().length,
    mainCanBlock: true,
    spawn(body, init, onReport) {
      // The exit hook runs when the worker's thread ends (process.exit in it, an uncaught error), so
      // that a step waiting for it fails at once instead of at its stall timeout.
      const source = `${body}\nconst wt = require('node:worker_threads');\nmain(wt.workerData, function (m) { wt.parentPort.postMessage(m); }, function (f) { process.on('exit', f); });`;
      const worker = new Worker(source, { eval: true, workerData: init, execArgv: [] });
      worker.on('message', (m) => onReport(String(m)));
      worker.on('error', (e) => onReport(String(e)));
      // After the listeners: adding a 'message' listener refs the worker's port again.
      worker.unref();
      return { terminate: () => { void worker.terminate(); } };
    },
  };
}

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ThreadPlatform } from '../engine/thread-platform.js';

/**
 * The fused engine's worker threads in Node: `worker_threads` workers evaluating the engine's worker
 * script. They are unref'd, so a process whose stepper was never disposed still exits; they run no
 * loader (`execArgv: []`), since the script is plain JavaScript. The engine imports this module
 * dynamically, only in Node.
 *
 * @internal
 */
export const nodeThreadPlatform: ThreadPlatform = {
  name: 'worker_threads',
  parallelism: () => availableParallelism(),
  mainCanBlock: true,
  spawn(body, init, onReport) {
    const source = `${body}\nconst wt = require('node:worker_threads');\nmain(wt.workerData, function (m) { wt.parentPort.postMessage(m); });`;
    const worker = new Worker(source, { eval: true, workerData: init, execArgv: [] });
    worker.unref();
    worker.on('message', (m) => onReport(String(m)));
    worker.on('error', (e) => onReport(String(e)));
    return { terminate: () => { void worker.terminate(); } };
  },
};

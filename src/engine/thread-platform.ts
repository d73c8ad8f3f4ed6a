/**
 * Where worker threads come from. The engine itself uses no platform API: a {@link ThreadPlatform}
 * starts workers. In browsers it is Web Workers (only when the page is cross-origin isolated, since
 * the workers must share memory); in Node it is `worker_threads` (implemented in `src/node/`), found
 * through `process.getBuiltinModule` or registered by the Node entry point (`src/node/index.ts`).
 * Browser builds never execute a Node API.
 */
import { createNodeThreadPlatform } from '../node/thread-platform.js';

/** A started worker. */
export interface ThreadHandle {
  terminate(): void;
}

/** Starts workers and tells how many cores there are. */
export interface ThreadPlatform {
  readonly name: string;
  /** Logical processors available to this process. */
  parallelism(): number;
  /** True when the calling (main) thread may block in `Atomics.wait` (Node); browsers must spin. */
  readonly mainCanBlock: boolean;
  /**
   * Starts a worker running `body`, the source of a function `main(init, report, atExit)`; the worker
   * calls it with `init` (structured-cloned: memories and modules are shared, not copied), `report`,
   * which forwards a message (an error description) to `onReport` on this thread, and optionally
   * `atExit(f)`, which runs `f` when the worker's thread ends (it lets a step notice at once that a
   * worker died; without it, the step's stall timeout does).
   */
  spawn(body: string, init: unknown, onReport: (message: string) => void): ThreadHandle;
}

let registered: ThreadPlatform | undefined;

/**
 * Installs the platform the engine starts its worker threads with, e.g. a bundled application's own
 * Worker factory; `undefined` restores the default (Node's `worker_threads`, or Web Workers in a
 * cross-origin isolated page). Steppers compiled afterwards use it.
 *
 * @example
 * ```ts
 * import { compile, registerThreadPlatform, scale } from 'optax-ts';
 * // A platform that starts no worker: every stepper runs on the calling thread.
 * registerThreadPlatform({ name: 'none', parallelism: () => 1, mainCanBlock: true, spawn: () => { throw new Error('no workers'); } });
 * const stepper = compile(scale(-1), { w: new Float32Array(1 << 18) }, { threads: 4 });
 * console.log(stepper.threads); // 1
 * registerThreadPlatform(undefined);
 * ```
 */
export function registerThreadPlatform(platform: ThreadPlatform | undefined): void {
  registered = platform;
}

/** The platform to start workers with, or undefined when threads are unavailable. */
export function threadPlatform(): ThreadPlatform | undefined {
  return registered ?? nodePlatform() ?? browserPlatform();
}

let node: ThreadPlatform | null | undefined;

/**
 * Node's `worker_threads` (src/node/thread-platform.ts), built from `process.getBuiltinModule`
 * (Node >= 20.16) the first time it is needed: synchronous, and nothing runs in a browser, where that
 * function does not exist.
 */
function nodePlatform(): ThreadPlatform | undefined {
  if (node === undefined) {
    const getBuiltinModule = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
    try {
      node = typeof getBuiltinModule === 'function' ? createNodeThreadPlatform((id) => getBuiltinModule(id)) : null;
    } catch {
      node = null;
    }
  }
  return node ?? undefined;
}

interface BrowserGlobals {
  Worker?: new (url: string) => { postMessage(m: unknown): void; terminate(): void; onmessage: ((e: { data: unknown }) => void) | null };
  Blob?: new (parts: string[], options: { type: string }) => unknown;
  URL?: { createObjectURL(b: unknown): string; revokeObjectURL(u: string): void };
  navigator?: { hardwareConcurrency?: number };
  crossOriginIsolated?: boolean;
  document?: unknown;
}

/** Web Workers, when the page may share memory with them. */
function browserPlatform(): ThreadPlatform | undefined {
  const g = globalThis as unknown as BrowserGlobals;
  if (typeof g.Worker !== 'function' || typeof g.Blob !== 'function' || !g.URL || g.crossOriginIsolated !== true) return undefined;
  const WorkerCtor = g.Worker, BlobCtor = g.Blob, Url = g.URL;
  return {
    name: 'web-workers',
    parallelism: () => g.navigator?.hardwareConcurrency ?? 1,
    // Only the page's main thread is forbidden to block; a worker that compiles a stepper may.
    mainCanBlock: typeof g.document === 'undefined',
    spawn(body, init, onReport) {
      const source = `${body}\nself.onmessage = function (e) { self.onmessage = null; main(e.data, function (m) { self.postMessage(m); }); };`;
      const url = Url.createObjectURL(new BlobCtor([source], { type: 'text/javascript' }));
      const worker = new WorkerCtor(url);
      worker.onmessage = (e) => onReport(String(e.data));
      worker.postMessage(init);
      return { terminate: () => { worker.terminate(); Url.revokeObjectURL(url); } };
    },
  };
}

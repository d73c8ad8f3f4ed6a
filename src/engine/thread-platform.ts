/**
 * Where worker threads come from. The engine itself uses no platform API: a {@link ThreadPlatform}
 * starts workers. In browsers it is Web Workers (only when the page is cross-origin isolated, since
 * the workers must share memory); in Node it is `worker_threads`, implemented in `src/node/`, which
 * registers it when the Node entry point (`src/node/index.ts`) is imported, so that browser builds
 * never see a Node API.
 */

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
   * Starts a worker running `body`, the source of a function `main(init, report)`; the worker calls it
   * with `init` (structured-cloned: memories and modules are shared, not copied) and `report`, which
   * forwards a message (an error description) to `onReport` on this thread.
   */
  spawn(body: string, init: unknown, onReport: (message: string) => void): ThreadHandle;
}

let registered: ThreadPlatform | undefined;

/** Installs the platform the engine starts its worker threads with (`undefined` disables threads). */
export function registerThreadPlatform(platform: ThreadPlatform | undefined): void {
  registered = platform;
}

/** The platform to start workers with, or undefined when threads are unavailable. */
export function threadPlatform(): ThreadPlatform | undefined {
  return registered ?? browserPlatform();
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

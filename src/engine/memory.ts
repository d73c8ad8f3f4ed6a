import type { Dtype, FloatArray } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { PAGE } from './layout.js';

/**
 * The engine's one block of memory. On the WebAssembly path it is a `WebAssembly.Memory` (shared when
 * worker threads use it); the JS paths use the same kind of buffer through typed-array views, so the
 * views handed out to the user stay the same whatever runs the kernels. The memory never grows: its
 * size is fixed at compile time, so views never detach.
 */
export interface EngineMemory {
  /** The buffer every view is on. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** The WebAssembly memory owning the buffer, when WebAssembly is available. */
  readonly wasm: WebAssembly.Memory | undefined;
  readonly shared: boolean;
  /** Size in 64 KiB pages. */
  readonly pages: number;
}

/**
 * True when a SharedArrayBuffer can back the engine's memory (cross-origin isolation in browsers), for any
 * backend; `sharedMemorySupported` (wasm/support.ts) also requires a shared WebAssembly.Memory.
 */
export function sharedBuffersAvailable(): boolean {
  const g = globalThis as { SharedArrayBuffer?: unknown; crossOriginIsolated?: boolean; Atomics?: unknown };
  if (typeof g.SharedArrayBuffer !== 'function' || typeof g.Atomics !== 'object') return false;
  // Browsers expose SharedArrayBuffer only to cross-origin isolated pages; elsewhere it is undefined.
  return g.crossOriginIsolated !== false;
}

/**
 * Allocates `bytes` (rounded up to whole pages), zero-filled: a WebAssembly memory, else a plain
 * buffer. An OptaxError when neither can be had (the runtime is out of memory or address space).
 */
export function createMemory(bytes: number, shared: boolean): EngineMemory {
  const pages = Math.max(1, Math.ceil(bytes / PAGE));
  if (typeof WebAssembly === 'object' && typeof WebAssembly.Memory === 'function') {
    try {
      const wasm = new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
      return { buffer: wasm.buffer, wasm, shared, pages };
    } catch {
      // Fall through to a plain buffer (e.g. WebAssembly disabled, or no shared WebAssembly memory).
    }
  }
  let buffer: ArrayBuffer | SharedArrayBuffer;
  try {
    buffer = shared ? new SharedArrayBuffer(pages * PAGE) : new ArrayBuffer(pages * PAGE);
  } catch (e) {
    // The runtime's own RangeError names no size; nothing has been written yet.
    throw new OptaxError(`compile: cannot allocate the engine's memory: the parameters, gradients and state need ${pages * PAGE} bytes (${(e as Error)?.message ?? String(e)})`);
  }
  return { buffer, wasm: undefined, shared, pages };
}

/** A typed-array view of `length` elements of `dtype` at byte offset `pointer`. */
export function viewAt(memory: EngineMemory, dtype: Dtype, pointer: number, length: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(memory.buffer, pointer, length) : new Float64Array(memory.buffer, pointer, length);
}

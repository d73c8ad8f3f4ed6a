import * as tf from '@tensorflow/tfjs-core';

/**
 * Direct access to a float32 tensor's memory on tfjs's cpu and wasm backends, where tensors live in
 * this thread's memory: the optimizer reads gradients there (saving `dataSync()`'s copy on wasm) and,
 * on cpu, writes parameters in place (saving a new tensor per variable per step). These are the backends' internals, so each is detected, never assumed: any
 * other backend, or a shape of internals this code does not recognise, gets `undefined`, and the
 * optimizer takes tfjs's public path instead (same results).
 */
export interface DirectMemory {
  /** The tensor's elements, as a view (valid until the next tfjs call), or undefined. */
  view(t: tf.Tensor): Float32Array | undefined;
  /**
   * The memory of a variable to write its new value into, in place: only where that is safe (the
   * cpu backend, no other tensor sharing it), else undefined.
   */
  writable(t: tf.Tensor): Float32Array | undefined;
  /** True when a new tensor copies the values it is made from (no defensive copy needed). */
  readonly tensorsCopyValues: boolean;
}

interface CpuData { values?: unknown; refCount?: number }
interface WasmData { memoryOffset?: number }

/** The direct access of the engine's current backend, or undefined. */
export function directMemory(): DirectMemory | undefined {
  const engine = tf.engine() as unknown as { backend: unknown; backendName: string; state?: { tensorInfo?: WeakMap<object, { backend: unknown }> } };
  const backend = engine.backend as Record<string, any>;
  // The tensor's data must live in this backend (after a setBackend, tfjs moves data lazily).
  const here = (t: tf.Tensor): boolean => t.dtype === 'float32' && engine.state?.tensorInfo?.get(t.dataId)?.backend === backend;
  if (engine.backendName === 'cpu' && typeof backend?.data?.get === 'function') {
    const info = (t: tf.Tensor): CpuData | undefined => (here(t) ? backend.data.get(t.dataId) : undefined);
    return {
      view: (t) => {
        const v = info(t)?.values;
        return v instanceof Float32Array && v.length === t.size ? v : undefined;
      },
      writable(t) {
        const engineInfo = engine.state?.tensorInfo?.get(t.dataId) as { refCount?: number } | undefined;
        return info(t)?.refCount === 1 && engineInfo?.refCount === 1 ? this.view(t) : undefined;
      },
      // The cpu backend keeps the very array a tensor is made from.
      tensorsCopyValues: false,
    };
  }
  const heap: unknown = backend?.wasm?.HEAPU8;
  if (engine.backendName === 'wasm' && heap instanceof Uint8Array && typeof backend?.dataIdMap?.get === 'function') {
    const info = (t: tf.Tensor): WasmData | undefined => (here(t) ? backend.dataIdMap.get(t.dataId) : undefined);
    return {
      view: (t) => {
        const offset = info(t)?.memoryOffset;
        // The heap may have grown (a new buffer) since the last call: take it now.
        const buffer = (backend.wasm.HEAPU8 as Uint8Array).buffer;
        return typeof offset === 'number' && offset > 0 && offset % 4 === 0 && offset + 4 * t.size <= buffer.byteLength ? new Float32Array(buffer, offset, t.size) : undefined;
      },
      // Never in place: the wasm backend's matrix products (XNNPACK) cache their packed weights by the
      // weights' data id, and would keep computing with the old values.
      writable: () => undefined,
      // A new tensor's values are copied into the wasm heap.
      tensorsCopyValues: true,
    };
  }
  return undefined;
}

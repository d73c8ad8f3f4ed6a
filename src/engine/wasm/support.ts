import { FunctionBuilder } from './function-builder.js';
import { assembleModule } from './module.js';
import { F32, SimdOp, ValType } from './opcodes.js';

/**
 * Feature detection for the WebAssembly engine path. Both checks are cheap, side-effect free and
 * cached: the engine calls them to choose between the SIMD kernels (with or without worker threads)
 * and the plain-JS kernels.
 */

let simd: boolean | undefined;
let shared: boolean | undefined;

/**
 * True when this runtime runs WebAssembly fixed-width SIMD (v128): a tiny module using `f32x4.add`
 * validates. False where WebAssembly is missing or disabled (e.g. some locked-down or JIT-less
 * environments); the fused engine then uses its plain-JS kernels, with the same results.
 *
 * @example
 * ```ts
 * import { wasmSimdSupported } from 'optax-ts';
 * console.log(wasmSimdSupported()); // true
 * ```
 */
export function wasmSimdSupported(): boolean {
  if (simd === undefined) simd = detectSimd();
  return simd;
}

function detectSimd(): boolean {
  try {
    if (typeof WebAssembly !== 'object' || typeof WebAssembly.validate !== 'function') return false;
    const f = new FunctionBuilder('probe', [ValType.f32], [ValType.f32]);
    f.localGet(0).simd(SimdOp.f32x4Splat).localGet(0).simd(SimdOp.f32x4Splat).simd(F32.vector.add);
    f.simdLane(SimdOp.f32x4ExtractLane, 0);
    return WebAssembly.validate(assembleModule({ shared: false, maximumPages: 1 }, [f]));
  } catch {
    return false;
  }
}

/**
 * True when a shared `WebAssembly.Memory` can be created, so that worker threads can run kernels on
 * the same memory: needs `SharedArrayBuffer` (in browsers, a cross-origin isolated page: COOP/COEP
 * headers) and WebAssembly threads. When false, the fused engine runs on one thread.
 *
 * @example
 * ```ts
 * import { sharedMemorySupported } from 'optax-ts';
 * console.log(sharedMemorySupported()); // true
 * ```
 */
export function sharedMemorySupported(): boolean {
  if (shared === undefined) shared = detectSharedMemory();
  return shared;
}

function detectSharedMemory(): boolean {
  try {
    if (typeof WebAssembly !== 'object' || typeof SharedArrayBuffer !== 'function') return false;
    if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) return false;
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return memory.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

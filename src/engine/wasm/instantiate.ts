import { fma64 } from '../../core/fused-multiply-add.js';
import type { KernelFunction } from '../program.js';
import { FMA64_IMPORT } from './fma.js';
import { FUSED_EXPORT } from './fused-module.js';
import { REDUCTION_EXPORTS } from './reduction-module.js';

/**
 * Instantiation of the emitted modules on the engine's memory. Compiling is left to the caller:
 * `new WebAssembly.Module(bytes)` (synchronous; Chrome refuses it on a page's main thread above 8 MB,
 * far above these kernels' few KB, and older versions above 4 KiB) or `await
 * WebAssembly.compile(bytes)`. A compiled `WebAssembly.Module` can be posted to worker threads, which
 * instantiate it on the same shared memory.
 */

/** The reduction functions of a module from `emitFusedReduction`. */
export interface WasmReductions {
  /** 1 when elements `[0, n)` of every stream are finite, else 0. */
  readonly allFinite: (n: number, ...pointers: number[]) => number;
  /** Sum of squares of elements `[0, n)` of one stream, in the dtype (order documented at emitFusedReduction). */
  readonly sumOfSquares: (n: number, pointer: number) => number;
}

/**
 * What the kernel modules import: the memory, and (float64 fmas, wasm/fma.ts) the reference fma for
 * rare inputs. A module that does not import `fma64` ignores it.
 * @internal
 */
export function kernelImports(memory: WebAssembly.Memory): WebAssembly.Imports {
  return { [FMA64_IMPORT.module]: { memory, [FMA64_IMPORT.name]: fma64 } };
}

function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): WebAssembly.Exports {
  return new WebAssembly.Instance(module, kernelImports(memory)).exports;
}

/** The `run` function of a fused-kernel module, bound to `memory`. @internal */
export function instantiateFusedKernel(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelFunction {
  return instantiate(module, memory)[FUSED_EXPORT] as KernelFunction;
}

/** The functions of a reduction module, bound to `memory`. @internal */
export function instantiateReductions(module: WebAssembly.Module, memory: WebAssembly.Memory): WasmReductions {
  const exports = instantiate(module, memory);
  return {
    allFinite: exports[REDUCTION_EXPORTS.allFinite] as WasmReductions['allFinite'],
    sumOfSquares: exports[REDUCTION_EXPORTS.sumOfSquares] as WasmReductions['sumOfSquares'],
  };
}

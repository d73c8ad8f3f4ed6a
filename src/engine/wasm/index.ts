/**
 * The WebAssembly SIMD backend of the fused engine: code generators for fused elementwise kernels and
 * reductions, their instantiation, and feature detection. Internal to the engine.
 */
export { DEFAULT_UNROLL, FUSED_EXPORT, type FusedModuleOptions, STREAM_ALIGNMENT, emitFusedModule } from './fused-module.js';
export { REDUCTION_EXPORTS, type ReductionModuleOptions, emitFusedReduction } from './reduction-module.js';
export { MAX_FUNCTION_PARAMS, MAX_PAGES, type MemoryImportOptions } from './module.js';
export { type WasmReductions, instantiateFusedKernel, instantiateReductions } from './instantiate.js';
export { sharedMemorySupported, wasmSimdSupported } from './support.js';
export { relaxedMaddFused } from './relaxed-madd.js';
export { requestTierUp, tierUpCalls } from './tier-up.js';

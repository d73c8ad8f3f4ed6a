import type { Dtype } from '../core/dtype.js';

/**
 * The engine's subnormal modes, and which ops of a kernel can make a subnormal.
 *
 * - `'ieee'`: IEEE 754 arithmetic, subnormals kept (what JS and WebAssembly compute, and the reference
 *   path by default).
 * - `'flush'`: XLA on CPU's mode (FTZ/DAZ), as the reference path computes it inside
 *   `withFlushedSubnormals` (kernel/interpret.ts): every value read (a stream element, a per-call
 *   scalar) is read as a zero of its sign when it is subnormal, and every op's result is flushed the
 *   same way after rounding to the dtype.
 *
 * The interpreter flushes every op's result. Where the operands are already flushed (normal, zero,
 * infinite or NaN), `neg`, `abs`, `max`, `min` return one of them or its negation, and `sqrt` of a
 * normal is normal (`sqrt(2^-126) = 2^-63`), so flushing their results changes nothing: the kernels
 * flush the loaded values, the scalars, and the results of `+ - * /` and the fused multiply-add (whose
 * exact product is not flushed, only its one rounded result, as in the interpreter) and skip the
 * no-op flushes. Comparisons and selects do not appear in kernels (`max`/`min` are ops).
 *
 * Chosen with `compile(tx, params, { subnormals })`; the conformance runner's `--engine` mode uses
 * `'flush'`, since optax's recorded results come from XLA on CPU.
 *
 * @example
 * ```ts
 * import { compile, scale, type SubnormalMode } from 'optax-ts';
 *
 * const params = { w: new Float32Array([1, 2 ** -127]) }; // 2^-127 is subnormal in float32
 * const run = (subnormals: SubnormalMode) => {
 *   const stepper = compile(scale(0.5), params, { subnormals, backend: 'js' });
 *   // Zero gradients: p + 0.5 * 0, with p read as XLA reads it under 'flush'.
 *   stepper.step();
 *   const w1 = stepper.params.w[1];
 *   stepper.dispose();
 *   return w1;
 * };
 * console.log(run('ieee')); // 5.877471754111438e-39
 * console.log(run('flush')); // 0
 * ```
 */
export type SubnormalMode = 'ieee' | 'flush';

/** The smallest normal value of each dtype: below it in magnitude (and not zero) is subnormal. */
export const MIN_NORMAL: Readonly<Record<Dtype, number>> = { float32: 2 ** -126, float64: 2 ** -1022 };

/**
 * True when a node (an `Expr`, or a lowered WebAssembly node) can round to a subnormal from operands
 * that are not subnormal (see above): its result needs a flush.
 */
export function canMakeSubnormal(node: { readonly kind: string; readonly op?: string }): boolean {
  if (node.kind === 'fma') return true;
  return node.kind === 'binary' && (node.op === 'add' || node.op === 'sub' || node.op === 'mul' || node.op === 'div');
}

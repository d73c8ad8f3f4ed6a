import { defaultDevice, numpy as np } from '@jax-js/jax';
import type { JaxArray } from './leaf.js';
import { TestSwitch } from './test-switch.js';

const nanSafe = new TestSwitch();

/**
 * Whether the active device's `max`/`min` may drop a NaN operand, so that the lowering must propagate
 * it itself. XLA's `maximum`/`minimum` (and the pure path's `Math.max`/`Math.min`) return NaN when
 * either operand is NaN. jax-js lowers them to the device's own instruction: wasm's `f32.max`/`f64.max`
 * propagate NaN (WebAssembly spec, `fmax`: "if either operand is a NaN, the result is a NaN"), but on
 * WebGL GLSL's `max(x, y)` is defined as `x < y ? y : x` (GLSL ES 3.00 §8.3, NaN left undefined: with
 * NaN in `y` the comparison is false and it returns `x`), and WGSL lets an implementation assume no
 * NaN at all (jax-js itself tests for NaN on WebGPU with `min(x, inf) != x`, relying on `min` dropping
 * it). So a NaN gradient that meets adamax's `nu = max(|g| + eps, b2 * nu)` vanished there where the
 * pure path carries it.
 */
export function minMaxMayDropNaN(): boolean {
  if (nanSafe.on()) return true;
  const device = defaultDevice();
  return device === 'webgl' || device === 'webgpu';
}

/**
 * `maximum(x, y)` (`which = 'max'`) or `minimum(x, y)` propagating NaN as XLA does, on every device.
 * Where the device's own instruction propagates NaN (wasm, cpu) it is that one operation, nothing
 * more; elsewhere NaN operands are selected explicitly: `where(isnan(x), x, where(isnan(y), y, f(x,
 * y)))`, NaN tested on the bits (see isNaN). Selecting the operand moves its bits without arithmetic,
 * which GLSL ES does not promise to keep NaN through (§4.5.1); with no NaN the result is the device's
 * own `f(x, y)`, signed zeros included. Consumes x and y.
 */
export function minMaxJax(which: 'max' | 'min', x: JaxArray | number, y: JaxArray | number): JaxArray {
  const f = which === 'max' ? np.maximum : np.minimum;
  if (!minMaxMayDropNaN()) return f(x, y);
  // A number operand is never NaN here (kernel.ts anchors a non-finite one).
  const ref = (v: JaxArray | number): JaxArray | number => (typeof v === 'number' ? v : v.ref);
  const inner = typeof y === 'number' ? f(x, y) : np.where(isNaN(y.ref), y.ref, f(ref(x), y));
  return typeof x === 'number' ? inner : np.where(isNaN(x.ref), x, inner);
}

/**
 * Whether each element is NaN, from its bits: `(bits & 0x7fffffff) > 0x7f800000` (exponent all ones,
 * significand nonzero) for float32. Not `x != x`: a GPU shader compiler that assumes finite math
 * (WGSL allows it; SwiftShader's does) folds that to false for a computed `x` (measured: jax-js's
 * `isnan` of `|g| + eps` on SwiftShader WebGPU never fired, where it does for a loaded value); integer
 * operations on the bits are not subject to it. float64 (wasm and cpu only, IEEE there) uses `x != x`.
 * Consumes x.
 */
function isNaN(x: JaxArray): JaxArray {
  if (x.dtype !== 'float32') return np.isnan(x);
  return np.greater(np.bitwiseAnd(x.view(np.int32), 0x7fffffff), 0x7f800000);
}

/**
 * Runs `fn` with every lowered `max`/`min` in the NaN-propagating form {@link minMaxJax} uses on WebGL
 * and WebGPU, even on the wasm device: for tests (on wasm, in CI) of what the GPU devices run.
 * Internal (not exported from the package). Traces made inside `fn` (a `jit`'s first call) keep the
 * form they were built with.
 */
export function withNanSafeMinMax<T>(fn: () => Promise<T>): Promise<T> {
  return nanSafe.during(fn);
}

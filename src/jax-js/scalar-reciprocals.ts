import { numpy as np } from '@jax-js/jax';
import { ShapedArray } from '../tree/leaf.js';
import { deviceHasFloat64, type JaxValue } from './kernel.js';
import type { JaxArray } from './leaf.js';

/**
 * The float64 reciprocals `1 / float64(s)` of one step's 0-d float32 scalars (`KernelInputs.reciprocal`),
 * made when a leaf's kernel first divides by one and shared by every leaf of the step.
 *
 * Why: a float32 leaf divided by a per-step scalar is computed as `float32(float64(x) * (1 / float64(s)))`
 * (kernel.ts's `divide`; jax-js divides by multiplying with the reciprocal), and inside `jit` each
 * leaf's kernel would compute that reciprocal, a float64 division, once per element. Made once, it is
 * one value the kernels read: the same bits, a division fewer per element. `fromTable` gives a
 * tabulated scalar's reciprocal read from its table (`CountScalars.reciprocalAt`: computed in the
 * gather's own kernel, where a reciprocal of the gathered value would be a kernel of its own);
 * otherwise it is computed from the scalar, in the kernel that computes the scalar when nothing else
 * reads it. Only on devices with float64 (wasm, cpu).
 */
export class ScalarReciprocals {
  private readonly made = new Map<string, JaxArray>();

  constructor(private readonly scalars: Readonly<Record<string, JaxValue>>, private readonly fromTable?: (name: string) => JaxArray | undefined) {}

  /** The reciprocal of the scalar `name` (owned here until {@link dispose}), or undefined. */
  get(name: string): JaxArray | undefined {
    const made = this.made.get(name);
    if (made) return made;
    const s = this.scalars[name];
    if (s === undefined || typeof s === 'number' || s instanceof ShapedArray || s.shape.length !== 0 || s.dtype !== 'float32' || !deviceHasFloat64()) return undefined;
    const r = this.fromTable?.(name) ?? np.reciprocal(s.ref.astype(np.float64));
    this.made.set(name, r);
    return r;
  }

  dispose(): void {
    for (const r of this.made.values()) r.dispose();
    this.made.clear();
  }
}

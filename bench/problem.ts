import { allocate, type FloatArray } from '../src/core/dtype.js';
import type { Params } from '../src/tree/tree.js';
import type { Layout } from './config.js';

/**
 * The inputs of one benchmark row: initial params and the fixed gradients, as trees (a one-leaf row is
 * `{ w }`, a many-leaf row a dict of `l0000`, `l0001`, ... whose sorted order is its insertion order)
 * and as flat leaf lists (`leaves[i]` is the i-th leaf in tree order).
 *
 * The gradients are generated once and never change: no implementation pays for producing them. The
 * values match the C kernel's: p = cos(k/1000), g = sin(0.37 k)/2 + 0.01 (never zero, so Adamax's
 * division is always by a normal number).
 */
export interface Problem {
  readonly layout: Layout;
  readonly params: Params;
  readonly grads: Params;
  readonly paramLeaves: readonly FloatArray[];
  readonly gradLeaves: readonly FloatArray[];
  readonly keys: readonly string[];
}

/** Leaf names of a layout, in tree (sorted) order. */
export function leafKeys(leaves: number): string[] {
  if (leaves === 1) return ['w'];
  const width = String(leaves - 1).length;
  return Array.from({ length: leaves }, (_, i) => `l${String(i).padStart(width, '0')}`);
}

/** Builds the inputs of a row; every call returns fresh arrays. */
export function makeProblem(layout: Layout): Problem {
  const keys = leafKeys(layout.leaves);
  const paramLeaves: FloatArray[] = [];
  const gradLeaves: FloatArray[] = [];
  const params: Record<string, FloatArray> = {};
  const grads: Record<string, FloatArray> = {};
  keys.forEach((key, l) => {
    const p = allocate(layout.dtype, layout.leafSize);
    const g = allocate(layout.dtype, layout.leafSize);
    for (let i = 0; i < layout.leafSize; i++) {
      const k = l * layout.leafSize + i;
      p[i] = Math.cos(k * 0.001);
      g[i] = 0.5 * Math.sin(k * 0.37) + 0.01;
    }
    paramLeaves.push(p);
    gradLeaves.push(g);
    params[key] = p;
    grads[key] = g;
  });
  return { layout, params, grads, paramLeaves, gradLeaves, keys };
}

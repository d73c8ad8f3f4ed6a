import type { numpy } from '@jax-js/jax';

/** A jax-js array (or, inside `jit`, the tracer standing for one). */
export type JaxArray = numpy.Array;

/** A pytree of jax-js arrays: nested plain objects and lists with arrays at the leaves (`null` is empty). */
export type JaxTree = JaxArray | null | readonly JaxTree[] | { readonly [key: string]: JaxTree };

/**
 * True for a jax-js array or tracer. Checked by shape rather than `instanceof`: under `jit` the leaves
 * are tracers of another class, and two copies of jax-js in one program have two `Array` classes.
 */
export function isJaxLeaf(x: unknown): x is JaxArray {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const a = x as { shape?: unknown; dtype?: unknown; dispose?: unknown };
  return Array.isArray(a.shape) && typeof a.dtype === 'string' && typeof a.dispose === 'function';
}

/**
 * Whether a jax-js leaf is a tracer (inside `jit`, `grad`, `vmap`) rather than a concrete array: a
 * concrete array shows its reference count (`refCount`), a tracer keeps it private.
 */
export function isTracer(a: JaxArray): boolean {
  return typeof (a as { refCount?: unknown }).refCount !== 'number';
}

import { lax, numpy as np } from '@jax-js/jax';
import { OptaxError } from '../core/errors.js';
import { type JaxArray, isTracer } from './leaf.js';

/**
 * Where a traced update stands with its cut sites: not cutting (the default: every device but WebGL,
 * and WebGL outside `jit`), marking each site for {@link planCuts} (`probe`), or cutting the sites a
 * plan chose (`cut`).
 */
type Mode =
  | { readonly kind: 'probe'; readonly marks: JaxArray[]; readonly avals: string[] }
  | { readonly kind: 'cut'; readonly cuts: ReadonlySet<number>; readonly avals: readonly string[]; next: number };

let mode: Mode | null = null;

const aval = (x: JaxArray): string => `${x.dtype}[${x.shape.join(',')}]`;

/**
 * A value the lowering may materialize, a kernel of its own, on jax-js's WebGL device inside `jit`
 * (webgl-kernels.ts): every jax-js operation of the float32 fused multiply-add (fma-ops.ts) and every
 * node of a lowered kernel's expression graph (kernel.ts) passes through here. Consumes `x`.
 *
 * Anywhere else it is `x` itself: the graph is unchanged, not an operation added. While a plan is made
 * it is `x` marked with a `stop_gradient` (an identity jax-js writes as its operand, and that its
 * simplifier keeps: the plan finds the sites in the traced graph by it); when a plan cuts it, an exact
 * copy of `x` by a gather: jax-js's `jit` makes each gather a kernel of its own (`splitGraphDataflow`'s
 * `heterogeneousViewPrimitives`) that computes its operand's expression and stores it, and its
 * consumers load it. The gather reads `x` seen as `[1, ...shape]` at the literal index 0: the same
 * element, no index buffer, every bit kept (-0, infinities, NaN; a sum over a size-1 axis would give
 * +0 for -0).
 */
export function cutSite(x: JaxArray): JaxArray {
  if (mode === null || !isTracer(x)) return x;
  if (mode.kind === 'probe') {
    mode.avals.push(aval(x));
    const marked = lax.stopGradient(x) as JaxArray;
    mode.marks.push(marked.ref);
    return marked;
  }
  const k = mode.next++;
  if (mode.avals[k] !== aval(x)) throw new OptaxError(`internal: toJaxJs: the update traced for its WebGL cuts and the one traced by jit differ at cut site ${k}: ${mode.avals[k]} then ${aval(x)}`);
  return mode.cuts.has(k) ? copy(x) : x;
}

/** `x` again, computed in a kernel of its own under jax-js's `jit` (see {@link cutSite}). Consumes `x`. */
export function copy(x: JaxArray): JaxArray {
  return np.take(x.reshape([1, ...x.shape]), np.array(0, { dtype: np.int32 }), 0) as JaxArray;
}

/**
 * Runs `fn` marking every cut site it passes (see {@link cutSite}): the marks (owned by the caller, to
 * return from a traced function so that none is dropped) and the sites' shapes and dtypes in order.
 */
export function probeCutSites<T>(fn: () => T): { result: T; marks: JaxArray[]; avals: string[] } {
  const probe = { kind: 'probe' as const, marks: [] as JaxArray[], avals: [] as string[] };
  const saved = mode;
  mode = probe;
  try {
    return { result: fn(), marks: probe.marks, avals: probe.avals };
  } finally {
    mode = saved;
  }
}

/** Runs `fn` cutting the sites `cuts` names (their positions among the sites of the probe that found `avals`). */
export function withCuts<T>(cuts: ReadonlySet<number>, avals: readonly string[], fn: () => T): T {
  const saved = mode;
  mode = { kind: 'cut', cuts, avals, next: 0 };
  try {
    return fn();
  } finally {
    mode = saved;
  }
}

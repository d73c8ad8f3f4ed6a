/** Shared helpers of the jax-js adapter's tests: random trees, both paths run side by side. */
import * as jax from '@jax-js/jax';
import { ShapedArray, applyUpdates as pureApply, type GradientTransformation } from '../../src/index.js';
import { applyUpdates, toJaxJs, type JaxArray, type ToJaxJsOptions } from '../../src/jax-js/index.js';
import { float64Array } from '../../src/jax-js/constants.js';

const np = jax.numpy;

/** A small seeded generator (mulberry32), so failures reproduce. */
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type PureTree = Record<string, ShapedArray<Float32Array | Float64Array>>;

/** A random tree with leaves of several shapes: rank 0, one element, and larger ones (float64 leaves: `dtypes[key]`). */
export function randomTree(next: () => number, shapes: Record<string, number[]>, scale = 2, dtypes: Record<string, 'float32' | 'float64'> = {}): PureTree {
  const out: PureTree = {};
  for (const [k, shape] of Object.entries(shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, () => (next() - 0.5) * scale);
    out[k] = new ShapedArray(dtypes[k] === 'float64' ? Float64Array.from(values) : Float32Array.from(values), shape);
  }
  return out;
}

export function toJax(tree: PureTree): Record<string, JaxArray> {
  return Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, v.data instanceof Float64Array ? float64Array(v.data, v.shape) : np.array(Float32Array.from(v.data)).reshape([...v.shape])]));
}

export async function fromJax(tree: unknown): Promise<unknown> {
  if (Array.isArray(tree)) return Promise.all(tree.map(fromJax));
  if (tree && typeof tree === 'object' && !('shape' in tree)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(tree).sort()) out[k] = await fromJax((tree as Record<string, unknown>)[k]);
    return out;
  }
  const a = tree as JaxArray;
  const data = await a.ref.data();
  if (a.dtype === 'bool') return Boolean(data[0]);
  return a.dtype === 'int32' ? data[0] : Array.from(data as Float32Array);
}

/** The pure path's values as plain numbers; `null` (optax's MaskedNode) as `{}`, the adapter's MaskedNode. */
export function pureValues(tree: unknown): unknown {
  if (tree === null) return {};
  if (Array.isArray(tree)) return tree.map(pureValues);
  if (tree instanceof ShapedArray) return Array.from(tree.data);
  if (typeof tree === 'number') return tree;
  if (tree && typeof tree === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(tree).sort()) out[k] = pureValues((tree as Record<string, unknown>)[k]);
    return out;
  }
  return tree;
}

/** Largest |a - b| / max(|b|, tiny) over matching leaves, NaN-aware (same NaN counts as equal). */
export function maxRelDiff(a: unknown, b: unknown): number {
  if (Array.isArray(a) && typeof a[0] !== 'number') return Math.max(0, ...a.map((x, i) => maxRelDiff(x, (b as unknown[])[i])));
  if (Array.isArray(a)) return Math.max(0, ...a.map((x: number, i) => { const y = (b as number[])[i]; return Object.is(x, y) ? 0 : Math.abs(x - y) / Math.max(Math.abs(y), 1e-30); }));
  if (typeof a === 'number') return Object.is(a, b) ? 0 : Infinity;
  if (a && typeof a === 'object') return Math.max(0, ...Object.keys(a).map((k) => maxRelDiff((a as any)[k], (b as any)[k])));
  return 0;
}

export const SHAPES = { a: [3, 5], b: [], c: [1], d: [17], e: [2, 2, 3] };

/**
 * Runs `steps` steps of `tx` on the pure path and through toJaxJs (jitted, or eager), from the same
 * random params and gradients; returns both final params and states as plain numbers.
 */
export async function runBoth(tx: GradientTransformation<any>, steps: number, seed: number, options: { jit?: boolean; shapes?: Record<string, number[]>; adapter?: ToJaxJsOptions; dtypes?: Record<string, 'float32' | 'float64'>; poison?: (step: number) => number | undefined; recordUpdates?: boolean } = {}) {
  const shapes = options.shapes ?? SHAPES;
  const next = rng(seed);
  let pureParams = randomTree(next, shapes, 2, options.dtypes);
  const grads = Array.from({ length: steps }, () => randomTree(next, shapes, 4, options.dtypes));
  // `poison(i)`: a value (NaN, an infinity) written into one random element of step i's gradients.
  grads.forEach((g, i) => {
    const bad = options.poison?.(i);
    if (bad === undefined) return;
    const leaves = Object.values(g).filter((l) => l.data.length > 0);
    const leaf = leaves[Math.floor(next() * leaves.length)];
    leaf.data[Math.floor(next() * leaf.data.length)] = bad;
  });
  let pureState = tx.init(pureParams);
  const opt = toJaxJs(tx, options.adapter);
  // With `recordUpdates`, each step's updates too (signs of zeros included), from both paths.
  const stepFn = (p: Record<string, JaxArray>, s: unknown, g: Record<string, JaxArray>): [Record<string, JaxArray>, unknown, unknown?] => {
    const [u, ns] = opt.update(g, s, jax.tree.ref(p));
    return options.recordUpdates ? [applyUpdates(p, jax.tree.ref(u)), ns, u] : [applyUpdates(p, u), ns];
  };
  const jaxUpdates: unknown[] = [];
  const pureUpdates: unknown[] = [];
  const step = options.jit === false ? stepFn : (jax.jit(stepFn as any) as unknown as typeof stepFn);
  let params = toJax(pureParams);
  let state = opt.init(jax.tree.ref(params));
  for (let i = 0; i < steps; i++) {
    const [u, s] = tx.update(grads[i], pureState, pureParams);
    pureParams = pureApply(pureParams, u);
    pureState = s;
    let ju: unknown;
    [params, state, ju] = step(params, state, toJax(grads[i]));
    if (options.recordUpdates) {
      jaxUpdates.push(await fromJax(ju));
      jax.tree.dispose(ju as any);
      pureUpdates.push(pureValues(u));
    }
  }
  const result = {
    jax: { params: await fromJax(params), state: await fromJax(state), ...(options.recordUpdates ? { updates: jaxUpdates } : {}) },
    pure: { params: pureValues(pureParams), state: pureValues(pureState), ...(options.recordUpdates ? { updates: pureUpdates } : {}) },
  };
  jax.tree.dispose(params as any);
  jax.tree.dispose(state as any);
  opt.dispose();
  return result;
}


/**
 * A pure-path state as the adapter's, leaf by leaf, with each leaf's dtype and shape taken from `like`
 * (an adapter state): numbers and booleans become scalars, arrays jax-js arrays, `null` (a masked
 * node) `{}`. Consumes `like`.
 */
export function pureStateToJax(pure: unknown, like: unknown): unknown {
  if (like && typeof like === 'object' && 'shape' in like) {
    const l = like as JaxArray;
    const dtype = l.dtype === 'int32' ? np.int32 : l.dtype === 'bool' ? np.bool : np.float32;
    l.dispose();
    if (pure instanceof ShapedArray) return np.array(Float32Array.from(pure.data)).reshape([...pure.shape]);
    return np.array(pure as number, { dtype });
  }
  if (Array.isArray(like)) return like.map((x, i) => pureStateToJax((pure as unknown[])[i], x));
  if (like && typeof like === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(like)) out[k] = pure === null ? {} : pureStateToJax((pure as Record<string, unknown>)[k], (like as Record<string, unknown>)[k]);
    return out;
  }
  return like;
}

/**
 * Runs `steps` steps on the pure path, moves its state into the adapter ({@link pureStateToJax}) and
 * runs `more` jitted steps on both from there: the final params and states, as {@link runBoth}.
 */
export async function runMoved(tx: GradientTransformation<any>, steps: number, more: number, seed: number, poison?: (step: number) => number | undefined) {
  const next = rng(seed);
  let pureParams = randomTree(next, SHAPES);
  const grads = Array.from({ length: steps + more }, (_, i) => {
    const g = randomTree(next, SHAPES, 4);
    const bad = poison?.(i);
    if (bad !== undefined) g.a.data[i % g.a.data.length] = bad;
    return g;
  });
  let pureState = tx.init(pureParams);
  for (let i = 0; i < steps; i++) {
    const [u, s] = tx.update(grads[i], pureState, pureParams);
    pureParams = pureApply(pureParams, u);
    pureState = s;
  }
  const opt = toJaxJs(tx);
  let params = toJax(pureParams);
  let state = pureStateToJax(pureState, opt.init(jax.tree.ref(params)));
  const stepFn = (p: Record<string, JaxArray>, s: unknown, g: Record<string, JaxArray>): [Record<string, JaxArray>, unknown] => {
    const [u, ns] = opt.update(g, s, jax.tree.ref(p));
    return [applyUpdates(p, u), ns];
  };
  const step = jax.jit(stepFn as any) as unknown as typeof stepFn;
  for (let i = steps; i < steps + more; i++) {
    const [u, s] = tx.update(grads[i], pureState, pureParams);
    pureParams = pureApply(pureParams, u);
    pureState = s;
    [params, state] = step(params, state, toJax(grads[i]));
  }
  const result = { jax: { params: await fromJax(params), state: await fromJax(state) }, pure: { params: pureValues(pureParams), state: pureValues(pureState) } };
  jax.tree.dispose(params as any);
  jax.tree.dispose(state as any);
  opt.dispose();
  return result;
}

import { allocate, type Dtype, type FloatArray } from '../../src/core/dtype.js';
import { treeMap } from '../../src/tree/map.js';
import type { Params, Tree } from '../../src/tree/tree.js';
import { treeZerosLike } from '../../src/tree/zeros.js';
import { HYPER } from '../config.js';
import type { Problem } from '../problem.js';
import type { Implementation, Runner } from './types.js';

// A straightforward port of how optax composes adamax when run op by op (eager JAX): every tree helper
// is its own `jax.tree.map` (here `treeMap`) producing a fresh array per leaf, so one step makes six
// passes over memory and allocates five new trees:
//
//   scale_by_adamax:  mu = tree_update_moment(g, mu, b1, 1)          (1 - b1) * g + b1 * mu
//                     nu = tree_update_infinity_moment(g, nu, b2, eps) max(|g| + eps, b2 * nu)
//                     mu_hat = tree_bias_correction(mu, b1, count)      mu / (1 - b1^count)
//                     u = tree.map(m / v, mu_hat, nu)
//   scale(-lr):       u = tree.map(g * step_size, u)
//   apply_updates:    p = tree.map(p + u, params, u)
//
// Each elementary op rounds to float32 (Math.fround) as XLA does; float64 leaves skip the rounding.

const f = Math.fround;

function fresh(like: FloatArray): FloatArray {
  return allocate(like instanceof Float32Array ? 'float32' : 'float64', like.length);
}

function updateMoment(g: FloatArray, t: FloatArray, decay: number): FloatArray {
  const out = fresh(g);
  if (out instanceof Float32Array) {
    const a = f(1 - decay), d = f(decay);
    for (let i = 0; i < g.length; i++) out[i] = f(f(a * g[i]) + f(d * t[i]));
  } else {
    const a = 1 - decay;
    for (let i = 0; i < g.length; i++) out[i] = a * g[i] + decay * t[i];
  }
  return out;
}

function updateInfinityMoment(g: FloatArray, t: FloatArray, decay: number, eps: number): FloatArray {
  const out = fresh(g);
  if (out instanceof Float32Array) {
    const d = f(decay), e = f(eps);
    for (let i = 0; i < g.length; i++) out[i] = Math.max(f(Math.abs(g[i]) + e), f(d * t[i]));
  } else {
    for (let i = 0; i < g.length; i++) out[i] = Math.max(Math.abs(g[i]) + eps, decay * t[i]);
  }
  return out;
}

function divideByScalar(t: FloatArray, s: number): FloatArray {
  const out = fresh(t);
  if (out instanceof Float32Array) for (let i = 0; i < t.length; i++) out[i] = f(t[i] / s);
  else for (let i = 0; i < t.length; i++) out[i] = t[i] / s;
  return out;
}

function divide(a: FloatArray, b: FloatArray): FloatArray {
  const out = fresh(a);
  for (let i = 0; i < a.length; i++) out[i] = a[i] / b[i]; // the store rounds a float32 result
  return out;
}

function multiplyByScalar(t: FloatArray, s: number): FloatArray {
  const out = fresh(t);
  const k = out instanceof Float32Array ? f(s) : s;
  for (let i = 0; i < t.length; i++) out[i] = t[i] * k;
  return out;
}

function add(a: FloatArray, b: FloatArray): FloatArray {
  const out = fresh(a);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/** `1 - b1^count` in the leaf dtype (optax computes it in float32 for a float32 moment). */
function biasCorrection(dtype: Dtype, decay: number, count: number): number {
  if (dtype === 'float64') return 1 - decay ** count;
  return f(1 - f(f(decay) ** count));
}

interface UnfusedState { count: number; mu: Tree; nu: Tree }

/** One eager optax adamax step + apply_updates, tree op by tree op. */
function unfusedStep(dtype: Dtype, grads: Params, state: UnfusedState, params: Params): [Params, UnfusedState] {
  const { learningRate, b1, b2, eps } = HYPER;
  const count = state.count + 1;
  const mu = treeMap(([g, t]: FloatArray[]) => updateMoment(g, t, b1), [grads, state.mu]);
  const nu = treeMap(([g, t]: FloatArray[]) => updateInfinityMoment(g, t, b2, eps), [grads, state.nu]);
  const bias = biasCorrection(dtype, b1, count);
  const muHat = treeMap(([t]: FloatArray[]) => divideByScalar(t, bias), [mu]);
  let updates = treeMap(([m, v]: FloatArray[]) => divide(m, v), [muHat, nu]);
  updates = treeMap(([u]: FloatArray[]) => multiplyByScalar(u, -learningRate), [updates]);
  const next = treeMap(([p, u]: FloatArray[]) => add(p, u), [params, updates]);
  return [next, { count, mu, nu }];
}

/** The "optax-style unfused JS" column. */
export const optaxUnfused: Implementation = {
  id: 'unfused',
  label: 'optax-style unfused JS',
  dtypes: ['float32', 'float64'],
  prepare: async () => null,
  async setup(problem: Problem): Promise<Runner> {
    const dtype = problem.layout.dtype;
    let params: Params = problem.params;
    let state: UnfusedState = { count: 0, mu: treeZerosLike(params), nu: treeZerosLike(params) };
    return {
      run(steps) {
        for (let i = 0; i < steps; i++) [params, state] = unfusedStep(dtype, problem.grads, state, params);
      },
      dispose() {},
    };
  },
};

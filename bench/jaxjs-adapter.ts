/**
 * The jax-js adapter against hand-written jitted jax-js Adamax steps, on the same parameter trees:
 * `toJaxJs(adamax(...))` inside `jax.jit` (count and bias correction in the graph), and two steps
 * written by hand with the same update rule, `jit` over the whole tree:
 *
 * - **as `@jax-js/optax` writes adam** (ekzhang/jax-js `packages/optax`: `scaleByAdam`,
 *   `treeUpdateMoment`, `treeBiasCorrection`, `scaleByLearningRate`, `applyUpdates`): the count in the
 *   state, incremented in the graph, the bias correction `1 / (1 - b1^count)` computed in the graph
 *   and multiplied into each leaf, then `* -lr`, then `p + u`. `@jax-js/optax` (whose adam the issue
 *   names as the comparison) is not published on npm (`npm view @jax-js/optax`: 404), so this step,
 *   adamax's rule written in its adam's structure, stands in for it.
 * - **with the bias correction computed in JavaScript** and passed in each step (no count in the
 *   graph: one kernel and one output fewer than any optimizer that keeps its count on the device).
 *
 * wasm device, float32; alternating batches, best batch kept.
 */
import * as jax from '@jax-js/jax';
import { adamax } from '../src/alias/adamax.js';
import { applyUpdates, toJaxJs } from '../src/jax-js/index.js';
import { HYPER } from './config.js';

type A = jax.numpy.Array;
type Tree = Record<string, A>;

/** One tree: ms per step of the adapter and of the hand-written steps. */
export interface JaxJsAdapterRow {
  readonly model: string;
  readonly params: number;
  readonly adapterMs: number;
  /** The step written as `@jax-js/optax` writes adam (count and bias correction in the graph). */
  readonly handMs: number;
  /** The step with the bias correction computed in JavaScript. */
  readonly handHostBiasMs: number;
}

const MODELS: readonly { name: string; shapes: Record<string, number[]> }[] = [
  { name: 'char MLP 12×62→12→128→62', shapes: { e: [62, 12], w1: [144, 128], b1: [128], w2: [128, 62], b2: [62] } },
  { name: 'MLP 784→512→512→10', shapes: { w1: [784, 512], b1: [512], w2: [512, 512], b2: [512], w3: [512, 10], b3: [10] } },
];

function randomTree(np: typeof jax.numpy, shapes: Record<string, number[]>, seed: number): Tree {
  let s = seed;
  const next = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; };
  return Object.fromEntries(Object.entries(shapes).map(([k, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return [k, np.array(Float32Array.from({ length: n }, next)).reshape(shape)];
  }));
}

/** Measures each tree on jax-js's wasm device. */
export async function measureJaxJsAdapter(quick: boolean): Promise<JaxJsAdapterRow[]> {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
  const np = jax.numpy;
  const { b1, b2, eps, learningRate } = HYPER;
  const rows: JaxJsAdapterRow[] = [];
  for (const model of quick ? MODELS.slice(0, 1) : MODELS) {
    const grads = randomTree(np, model.shapes, 2);
    const params = Object.values(model.shapes).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);

    const opt = toJaxJs(adamax(learningRate, { b1, b2, eps }));
    const adapterFn = (p: Tree, s: unknown, g: Tree): [Tree, unknown] => {
      const [u, next] = opt.update(g, s, jax.tree.ref(p));
      return [applyUpdates(p, u), next];
    };
    const adapterStep = jax.jit(adapterFn as any) as unknown as typeof adapterFn;
    let ap = randomTree(np, model.shapes, 1);
    let as: unknown = opt.init(jax.tree.ref(ap));

    // As @jax-js/optax's scaleByAdam + scaleByLearningRate + applyUpdates, with adamax's moments.
    const optaxFn = (p: Tree, state: { count: A; mu: Tree; nu: Tree }, g: Tree): [Tree, { count: A; mu: Tree; nu: Tree }] => {
      const mu: Tree = {}, nu: Tree = {}, out: Tree = {};
      for (const k of Object.keys(p)) {
        mu[k] = g[k].ref.mul(1 - b1).add(state.mu[k].mul(b1));
        nu[k] = np.maximum(np.abs(g[k]).add(eps), state.nu[k].mul(b2));
      }
      const count = state.count.add(1);
      const correction = np.reciprocal(np.subtract(1, np.power(b1, count.ref.astype(np.float32))));
      for (const k of Object.keys(p)) out[k] = p[k].add(mu[k].ref.mul(correction.ref).div(nu[k].ref).mul(-learningRate));
      correction.dispose();
      return [out, { count, mu, nu }];
    };
    const optaxStep = jax.jit(optaxFn as any) as unknown as typeof optaxFn;
    let op = randomTree(np, model.shapes, 1);
    let os = {
      count: np.array(0, { dtype: np.uint32 }),
      mu: Object.fromEntries(Object.entries(model.shapes).map(([k, s]) => [k, np.zeros(s)])) as Tree,
      nu: Object.fromEntries(Object.entries(model.shapes).map(([k, s]) => [k, np.zeros(s)])) as Tree,
    };

    const handFn = (p: Tree, mu: Tree, nu: Tree, g: Tree, bias: A): [Tree, Tree, Tree] => {
      const out: [Tree, Tree, Tree] = [{}, {}, {}];
      for (const k of Object.keys(p)) {
        const m = g[k].ref.mul(1 - b1).add(mu[k].mul(b1));
        const v = np.maximum(np.abs(g[k]).add(eps), nu[k].mul(b2));
        out[0][k] = p[k].add(m.ref.div(bias.ref).div(v.ref).mul(-learningRate));
        out[1][k] = m;
        out[2][k] = v;
      }
      bias.dispose();
      return out;
    };
    const handStep = jax.jit(handFn as any) as unknown as typeof handFn;
    let hp = randomTree(np, model.shapes, 1);
    let hmu: Tree = Object.fromEntries(Object.entries(model.shapes).map(([k, s]) => [k, np.zeros(s)]));
    let hnu: Tree = Object.fromEntries(Object.entries(model.shapes).map(([k, s]) => [k, np.zeros(s)]));
    let count = 0;

    const runAdapter = async (calls: number): Promise<void> => {
      for (let i = 0; i < calls; i++) [ap, as] = adapterStep(ap, as, jax.tree.ref(grads));
      await jax.blockUntilReady(ap);
    };
    const runOptax = async (calls: number): Promise<void> => {
      for (let i = 0; i < calls; i++) [op, os] = optaxStep(op, os, jax.tree.ref(grads));
      await jax.blockUntilReady(op);
    };
    const runHand = async (calls: number): Promise<void> => {
      for (let i = 0; i < calls; i++) {
        count++;
        [hp, hmu, hnu] = handStep(hp, hmu, hnu, jax.tree.ref(grads), np.array(Math.fround(1 - b1 ** count)));
      }
      await jax.blockUntilReady(hp);
    };
    await runAdapter(2); // traces and compiles
    await runOptax(2);
    await runHand(2);
    const calls = quick ? 3 : params > 1e5 ? 10 : 30;
    const best = [Infinity, Infinity, Infinity];
    for (let r = 0; r < (quick ? 2 : 5); r++) {
      for (const [i, run] of [runAdapter, runOptax, runHand].entries()) {
        const t = performance.now();
        await run(calls);
        best[i] = Math.min(best[i], (performance.now() - t) / calls);
      }
    }
    rows.push({ model: model.name, params, adapterMs: best[0], handMs: best[1], handHostBiasMs: best[2] });
    jax.tree.dispose([ap, as, op, os, hp, hmu, hnu, grads] as any);
    opt.dispose();
  }
  return rows;
}

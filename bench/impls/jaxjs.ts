import { HYPER } from '../config.js';
import type { Problem } from '../problem.js';
import type { Implementation, Runner } from './types.js';

type Jax = typeof import('@jax-js/jax');
type JaxArray = import('@jax-js/jax').numpy.Array;
type LeafStep = (p: JaxArray, mu: JaxArray, nu: JaxArray, g: JaxArray, bias: JaxArray) => [JaxArray, JaxArray, JaxArray];

let jax: Jax | undefined;
let leafStep: LeafStep | undefined;

/**
 * The adamax step of one leaf in jax-js, under `jit` (one fused kernel per call). jax-js arrays are
 * reference-counted and every call consumes its arguments: `.ref` keeps what is used again.
 */
function makeLeafStep(j: Jax): LeafStep {
  const np = j.numpy;
  const { b1, b2, eps, learningRate } = HYPER;
  return j.jit((p: JaxArray, mu: JaxArray, nu: JaxArray, g: JaxArray, bias: JaxArray): [JaxArray, JaxArray, JaxArray] => {
    const m = g.ref.mul(1 - b1).add(mu.mul(b1));
    const v = np.maximum(np.abs(g).add(eps), nu.mul(b2));
    const u = m.ref.div(bias).div(v.ref).mul(-learningRate);
    return [p.add(u), m, v];
  }) as unknown as LeafStep;
}

/**
 * jax-js (`@jax-js/jax`) on its wasm device, the step under `jit`. The jitted function is per leaf and
 * called once per leaf: jitting one function over the whole 2000-leaf tree traces and runs far slower
 * in jax-js 0.1.x (superlinear in the leaf count), so per-leaf is its best showing.
 */
export const jaxJs: Implementation = {
  id: 'jaxjs',
  label: 'jax-js jit',
  dtypes: ['float32'],
  async prepare() {
    try {
      jax = await import('@jax-js/jax');
      // Node 20 has no `navigator`: start the wasm device alone (WebGPU probing would throw).
      await jax.init('wasm');
      jax.defaultDevice('wasm');
      leafStep = makeLeafStep(jax);
      return null;
    } catch (e) {
      return `jax-js unavailable: ${(e as Error).message.split('\n')[0]}`;
    }
  },
  async setup(problem: Problem): Promise<Runner> {
    const j = jax!, step = leafStep!, np = j.numpy;
    const n = problem.layout.leafSize;
    const p = problem.paramLeaves.map((leaf) => np.array(leaf as Float32Array<ArrayBuffer>));
    const mu = problem.paramLeaves.map(() => np.zeros([n]));
    const nu = problem.paramLeaves.map(() => np.zeros([n]));
    const g = problem.gradLeaves.map((leaf) => np.array(leaf as Float32Array<ArrayBuffer>));
    let count = 0;
    return {
      async run(steps) {
        for (let s = 0; s < steps; s++) {
          count++;
          const bias = np.array(1 - HYPER.b1 ** count);
          for (let i = 0; i < p.length; i++) [p[i], mu[i], nu[i]] = step(p[i], mu[i], nu[i], g[i].ref, bias.ref);
          bias.dispose();
        }
        await j.blockUntilReady([p, mu, nu]);
      },
      dispose() {
        for (const a of [...p, ...mu, ...nu, ...g]) a.dispose();
      },
    };
  },
  notes() {
    return ['jax-js jit: wasm device, one thread in Node (its worker pool needs Web Workers); one jitted function per leaf, called per leaf.'];
  },
};

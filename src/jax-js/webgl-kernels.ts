import { defaultDevice, makeJaxpr } from '@jax-js/jax';
import { OptaxError } from '../core/errors.js';
import { mapTrees } from '../tree/map.js';
import type { TreePath } from '../tree/path.js';
import { walkTrees } from '../tree/structure.js';
import { fmaFromOpsBuilt } from './fma-ops.js';
import { type CutPlan, planCuts } from './fused-kernel-size.js';
import { probeCutSites, withCuts } from './cut-sites.js';
import { TestSwitch } from './test-switch.js';
import { type JaxArray, type JaxTree, isJaxLeaf, isTracer } from './leaf.js';

/**
 * The largest fused kernel, in GLSL expression nodes ({@link fusedKernelSizes}), that the jax-js
 * adapter lets a traced update make on jax-js's `webgl` device, its cuts made ({@link runUpdate}): 2^16.
 *
 * Why this size (measured in headless Chromium, ANGLE on SwiftShader, the compiler CI has): jax-js's
 * own shaders of 14,528 and 43,570 expression nodes (176 KB and 524 KB of GLSL, from a jitted
 * `multiSteps(scale)`) compiled and linked in 0.15 s and 1.6 s, growing faster than linearly;
 * `applyIfFinite(adamax)`'s 240 MB shader took 496 s and was rejected. 2^16 nodes, about 800 KB, is a
 * few seconds there, at most. The adapter's kernels lie far on either side of it: without an exact
 * fused multiply-add at most 52 nodes (adamax, adamaxw with a global-norm clip, `applyIfFinite(scale)`),
 * with one built from float32 operations about 1.4e11 uncut, at most {@link WEBGL_CUT_BUDGET} cut.
 */
export const WEBGL_MAX_KERNEL_NODES = 2 ** 16;

/**
 * The size, in GLSL expression nodes, the adapter cuts a traced update's fused kernels down to on
 * jax-js's `webgl` device ({@link runUpdate}): 2^11, about 6.5 KB of GLSL.
 *
 * Why this size (measured on `applyIfFinite(adamax)` and `multiSteps(adamax)`, jitted, leaves of 6 and
 * 7 elements): the kernel count hardly depends on it (92 to 113 kernels a step from 2^10 to 2^13 for
 * the one, about 190 for the other, where eagerly they run 485 and 909): a cut also materializes what
 * the cut value shares with its consumers, as jax-js splits a graph, so the kernels end far below any
 * of these budgets (a largest of 520 nodes here); SwiftShader's time to the first step varied more
 * from run to run (4.5 to 22.6 s) than between budgets of 2^7 to 2^13, and so did the time of a step
 * (31 to 128 ms). A budget of 2^14 made jax-js's own code generation in Node run for minutes (not
 * investigated): well below it.
 */
export const WEBGL_CUT_BUDGET = 2 ** 11;

/**
 * `update(updates, state, params)`, on jax-js's `webgl` device inside `jit` with its fused kernels cut
 * down to {@link WEBGL_CUT_BUDGET} GLSL expression nodes; anywhere else, `update` as it is (the graph
 * unchanged).
 *
 * Why: jax-js 0.1.25's GLSL writes a fused kernel as one expression and repeats a shared
 * subexpression at every use, so an update whose values are reused many times over (the exact float32
 * fused multiply-adds of optax's traced inner steps, `applyIfFinite` and `multiSteps`: about 110
 * operations each that reuse their operands) would make a shader of about 1e11 nodes. The update is
 * traced once more on its own first (`makeJaxpr`, with abstract copies of the arguments: nothing of the
 * caller's is read but shapes and dtypes, nothing consumed), every cut site of the lowering marked
 * (cut-sites.ts); {@link planCuts} chooses the sites to materialize, and the update then runs with
 * those cut (each an exact copy, a kernel of its own). Eagerly every jax-js operation is a kernel of
 * its own already (measured: `multiSteps(scale)`'s eager step, 40 shaders of at most 1.6 KB), and other
 * devices are not concerned (jax-js's WGSL binds a shared value once). A tracer of `grad` or `vmap`
 * outside `jit` is handled too (such a trace may be one `jit` compiles).
 *
 * What still exceeds {@link WEBGL_MAX_KERNEL_NODES} with the cuts made (a kernel with no cut site in
 * it) throws an OptaxError before anything is consumed, naming the transformation, the device, the
 * output whose kernel is too large (its path in `updates` or `state`), its size, and the float32 fused
 * multiply-adds the update builds.
 */
export function runUpdate(name: string, update: (updates: JaxTree, state: unknown, params: JaxTree | null) => [JaxTree, unknown], updates: JaxTree, state: unknown, params: JaxTree | null): [JaxTree, unknown] {
  if (defaultDevice() !== 'webgl' && !cutsForced.on()) return update(updates, state, params);
  const trees = [updates, state, params] as const;
  const leaves: JaxArray[][] = trees.map((t) => collect(t));
  if (!leaves[0].some(isTracer)) return update(updates, state, params);
  const outputs: { root: string; path: TreePath }[] = [];
  const fmaBefore = fmaFromOpsBuilt().float32;
  let avals: string[] = [];
  const probe = (flat: JaxArray[][]): JaxArray[] => {
    const [u, s, p] = trees.map((t, i) => (t === null ? null : rebuild(t, flat[i])));
    const { result: [nu, ns], marks, avals: found } = probeCutSites(() => update(u, s, p));
    avals = found;
    const out: JaxArray[] = [];
    for (const [root, tree] of [['updates', nu], ['state', ns]] as const) {
      walkTrees([tree], ([a], path) => { out.push(a as JaxArray); outputs.push({ root, path }); }, { isLeaf: isJaxLeaf, names: [root] });
    }
    // The marks too, so that the simplifier drops none: the plan finds the k-th site as the k-th mark.
    return [...out, ...marks];
  };
  const { jaxpr } = makeJaxpr(probe as (flat: any) => JaxArray[])(leaves);
  let plan: CutPlan;
  try {
    plan = planCuts(jaxpr.jaxpr, outputs.length, WEBGL_CUT_BUDGET);
  } finally {
    jaxpr.dispose();
  }
  if (plan.cuts.size > avals.length) throw new OptaxError(`internal: toJaxJs: ${plan.cuts.size} cuts planned among ${avals.length} sites`);
  const sizes = plan.sizes;
  const worst = sizes.reduce((w, s, i) => (s > sizes[w] ? i : w), 0);
  if (sizes[worst] > WEBGL_MAX_KERNEL_NODES) {
    const fmas = fmaFromOpsBuilt().float32 - fmaBefore;
    const { root, path } = outputs[worst];
    const why = fmas > 0
      ? `it builds ${fmas} exact float32 fused multiply-add${fmas > 1 ? 's' : ''} from float32 operations (XLA's contraction in optax's traced inner step of apply_if_finite and MultiSteps; WebGL has no float64 to build ${fmas > 1 ? 'them' : 'it'} from), about 110 operations each that reuse their operands many times`
      : 'its operations reuse their intermediate values many times';
    throw new OptaxError(`${name} on jax-js's 'webgl' device, inside jit: this output's fused kernel would be about ${sizes[worst].toPrecision(3)} GLSL expression nodes, beyond the ${WEBGL_MAX_KERNEL_NODES} a WebGL shader compiler takes in reasonable time (jax-js's GLSL writes a shared subexpression again at every use; measured: a 240 MB shader, 496 s in ANGLE/SwiftShader, then rejected): ${why}. Use jax-js's 'webgpu' device (its WGSL binds shared values once), 'wasm' or 'cpu', or the tfjs adapter (toTfjs) on its webgl backend; or call update outside jit, where every jax-js operation is a small kernel of its own`, path, root);
  }
  return withCuts(plan.cuts, avals, () => update(updates, state, params));
}

const cutsForced = new TestSwitch();

/**
 * Runs `fn` with {@link runUpdate} cutting as on WebGL whatever the active device: for tests on the
 * wasm device, whose results Node can read, of the graph WebGL runs. Internal (not exported from the
 * package). Traces made inside `fn` (a `jit`'s first call) keep the cuts they were made with.
 */
export function withWebGLCuts<T>(fn: () => Promise<T>): Promise<T> {
  return cutsForced.during(fn);
}

function collect(tree: unknown): JaxArray[] {
  const out: JaxArray[] = [];
  if (tree !== null && tree !== undefined) mapTrees(([a]: JaxArray[]) => { out.push(a); return a; }, [tree], { isLeaf: isJaxLeaf });
  return out;
}

function rebuild(tree: unknown, leaves: readonly JaxArray[]): any {
  let i = 0;
  return mapTrees(() => leaves[i++], [tree], { isLeaf: isJaxLeaf });
}

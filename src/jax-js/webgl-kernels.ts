import { defaultDevice, makeJaxpr } from '@jax-js/jax';
import { OptaxError } from '../core/errors.js';
import { mapTrees } from '../tree/map.js';
import type { TreePath } from '../tree/path.js';
import { walkTrees } from '../tree/structure.js';
import { fmaFromOpsBuilt } from './fma-ops.js';
import { fusedKernelSizes } from './fused-kernel-size.js';
import { type JaxArray, type JaxTree, isJaxLeaf } from './leaf.js';

/**
 * The largest fused kernel, in GLSL expression nodes ({@link fusedKernelSizes}), that the jax-js
 * adapter lets a traced update make on jax-js's `webgl` device: 2^16.
 *
 * Why this size (measured in headless Chromium, ANGLE on SwiftShader, the compiler CI has): jax-js's
 * own shaders of 14,528 and 43,570 expression nodes (176 KB and 524 KB of GLSL, from a jitted
 * `multiSteps(scale)`) compiled and linked in 0.15 s and 1.6 s, growing faster than linearly;
 * `applyIfFinite(adamax)`'s 240 MB shader took 496 s and was rejected. 2^16 nodes, about 800 KB, is a
 * few seconds there, at most. The adapter's kernels lie far on either side of it: without an exact
 * fused multiply-add at most 52 nodes (adamax, adamaxw with a global-norm clip, `applyIfFinite(scale)`),
 * with one built from float32 operations about 6e8 (the bound computed here).
 */
export const WEBGL_MAX_KERNEL_NODES = 2 ** 16;

/** Whether a jax-js leaf is a tracer (inside `jit`, `grad`, `vmap`) rather than a concrete array (which shows its `refCount`). */
const isTracer = (a: JaxArray): boolean => typeof (a as { refCount?: unknown }).refCount !== 'number';

/**
 * Throws an OptaxError, before anything is consumed, when `update(updates, state, params)` traced on
 * jax-js's `webgl` device would make a fused kernel larger than {@link WEBGL_MAX_KERNEL_NODES}: a
 * shader WebGL compiles for minutes, then may reject (jax-js's GLSL repeats a shared subexpression at
 * every use). The update is traced once more on its own (`makeJaxpr`, with abstract copies of the
 * arguments: nothing of the caller's is read but shapes and dtypes, nothing consumed) and its kernels
 * sized as jax-js's `jit` would fuse them. Only a traced update is checked: eagerly every jax-js
 * operation is a kernel of its own (measured: `multiSteps(scale)`'s eager step, 40 shaders of at most
 * 1.6 KB), and other devices are not concerned (jax-js's WGSL binds a shared value once). A tracer of
 * `grad` or `vmap` outside `jit` is checked too (such a trace may be one `jit` compiles).
 *
 * The message names the transformation, the device, the output whose kernel is too large (its path in
 * `updates` or `state`), its size, and the float32 fused multiply-adds the update builds (the exact
 * emulation of XLA's contraction in optax's traced inner steps, `applyIfFinite` and `multiSteps`,
 * about 110 operations each that reuse their operands many times over: the computation known to do
 * this).
 */
export function checkWebGLKernels(name: string, update: (updates: JaxTree, state: unknown, params: JaxTree | null) => [JaxTree, unknown], updates: JaxTree, state: unknown, params: JaxTree | null): void {
  if (defaultDevice() !== 'webgl') return;
  const trees = [updates, state, params] as const;
  const leaves: JaxArray[][] = trees.map((t) => collect(t));
  if (!leaves[0].some(isTracer)) return;
  const outputs: { root: string; path: TreePath }[] = [];
  const fmaBefore = fmaFromOpsBuilt().float32;
  const probe = (flat: JaxArray[][]): JaxArray[] => {
    const [u, s, p] = trees.map((t, i) => (t === null ? null : rebuild(t, flat[i])));
    const [nu, ns] = update(u, s, p);
    const out: JaxArray[] = [];
    for (const [root, tree] of [['updates', nu], ['state', ns]] as const) {
      walkTrees([tree], ([a], path) => { out.push(a as JaxArray); outputs.push({ root, path }); }, { isLeaf: isJaxLeaf, names: [root] });
    }
    return out;
  };
  const { jaxpr } = makeJaxpr(probe as (flat: any) => JaxArray[])(leaves);
  let sizes: number[];
  try {
    sizes = fusedKernelSizes(jaxpr.jaxpr);
  } finally {
    jaxpr.dispose();
  }
  const worst = sizes.reduce((w, s, i) => (s > sizes[w] ? i : w), 0);
  if (!(sizes[worst] > WEBGL_MAX_KERNEL_NODES)) return;
  const fmas = fmaFromOpsBuilt().float32 - fmaBefore;
  const { root, path } = outputs[worst];
  const why = fmas > 0
    ? `it builds ${fmas} exact float32 fused multiply-add${fmas > 1 ? 's' : ''} from float32 operations (XLA's contraction in optax's traced inner step of apply_if_finite and MultiSteps; WebGL has no float64 to build ${fmas > 1 ? 'them' : 'it'} from), about 110 operations each that reuse their operands many times`
    : 'its operations reuse their intermediate values many times';
  throw new OptaxError(`${name} on jax-js's 'webgl' device, inside jit: this output's fused kernel would be about ${sizes[worst].toPrecision(3)} GLSL expression nodes, beyond the ${WEBGL_MAX_KERNEL_NODES} a WebGL shader compiler takes in reasonable time (jax-js's GLSL writes a shared subexpression again at every use; measured: a 240 MB shader, 496 s in ANGLE/SwiftShader, then rejected): ${why}. Use jax-js's 'webgpu' device (its WGSL binds shared values once), 'wasm' or 'cpu', or the tfjs adapter (toTfjs) on its webgl backend; or call update outside jit, where every jax-js operation is a small kernel of its own`, path, root);
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

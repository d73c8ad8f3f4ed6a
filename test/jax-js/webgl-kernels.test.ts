/**
 * The jax-js adapter on jax-js's `webgl` device, in Node: jax-js's own WebGL backend and GLSL code
 * generator over a context that compiles and draws nothing (fake-webgl.ts), so the shaders it writes
 * can be read, the adapter's cuts of kernels too large for them and its refusal of what stays too large tested without a browser
 * (test/browser/gpu.test.ts runs the same cases on a real WebGL).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import { OptaxError, adamax, adamaxw, applyIfFinite, chain, clipByGlobalNorm, multiSteps, scale, warmupCosineDecaySchedule, type GradientTransformation } from '../../src/index.js';
import { applyUpdates, toJaxJs, type JaxArray } from '../../src/jax-js/index.js';
import { isFreed } from '../../src/jax-js/check-tree.js';
import { fusedKernelSizes } from '../../src/jax-js/fused-kernel-size.js';
import { WEBGL_CUT_BUDGET, WEBGL_MAX_KERNEL_NODES, runUpdate } from '../../src/jax-js/webgl-kernels.js';
import { installFakeWebGL } from './fake-webgl.js';

const np = jax.numpy;
const gl = installFakeWebGL();

before(async () => {
  assert.ok((await jax.init('webgl')).includes('webgl'));
  jax.defaultDevice('webgl');
});

const schedule = () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 20, endValue: 0.001 });
/** No exact fused multiply-add: kernels small as they are (test/browser/gpu-page.ts's cases there). */
const RUNS: Record<string, () => GradientTransformation<any>> = {
  'adamax': () => adamax(0.01),
  'chain(clipByGlobalNorm, adamaxw(warmupCosine))': () => chain(clipByGlobalNorm(1), adamaxw(schedule(), { weightDecay: 0.01 })),
  'applyIfFinite(scale)': () => applyIfFinite(scale(-0.5), { maxConsecutiveErrors: 2 }),
};
/** Their traced inner steps build float32 fused multiply-adds from float32 operations: about 1e11 nodes a kernel, uncut. */
const CUT: Record<string, () => GradientTransformation<any>> = {
  'applyIfFinite(adamax)': () => applyIfFinite(adamax(0.01), { maxConsecutiveErrors: 2 }),
  'multiSteps(adamax)': () => multiSteps(adamax(0.01), { everyKSchedule: 2 }),
  'multiSteps(scale)': () => multiSteps(scale(-0.5), { everyKSchedule: 2 }),
};

const tree = (v: number) => ({ w: np.full([3, 2], v), b: np.full([7], v) });
type Tree = ReturnType<typeof tree>;

/** One jitted training step (`update` then `applyUpdates`). */
function jitStep(tx: GradientTransformation<any>) {
  const opt = toJaxJs(tx);
  const stepFn = (p: Tree, s: unknown, g: Tree): [Tree, unknown] => {
    const [u, ns] = opt.update(g, s, jax.tree.ref(p));
    return [applyUpdates(p, u), ns];
  };
  const step = jax.jit(stepFn as any) as unknown as typeof stepFn & { dispose(): void };
  return { opt, step };
}

/** The largest kernel of the graph jax-js's jit compiles for `tx`'s update on webgl (cut there), and its gathers. */
function traced(tx: GradientTransformation<any>): { largest: number; gathers: number } {
  const opt = toJaxJs(tx);
  const params = tree(0), state = opt.init(jax.tree.ref(params));
  const { jaxpr } = jax.makeJaxpr((p: any, s: any, g: any) => opt.update(g, s, p) as any)(params, state, tree(1));
  const out = { largest: Math.max(...fusedKernelSizes(jaxpr.jaxpr)), gathers: jaxpr.jaxpr.flatten().eqns.filter((e) => e.primitive === 'gather').length };
  jaxpr.dispose();
  jax.tree.dispose([params, state] as any);
  opt.dispose();
  return out;
}

test('on webgl, jitted: every update runs, kernels within the budget (those of the fused multiply-adds cut down to it), shaders small, nothing left alive', async () => {
  for (const [what, make] of Object.entries({ ...RUNS, ...CUT })) {
    const textures = gl.liveTextures();
    gl.shaders.length = 0;
    const { opt, step } = jitStep(make());
    let params = tree(1);
    let state = opt.init(jax.tree.ref(params));
    for (let k = 0; k < 2; k++) [params, state] = step(params, state, tree(0.5));
    await params.b.ref.data();
    assert.ok(gl.shaders.length > 0 || what in CUT, `${what}: no shader compiled`);
    if (what in CUT) {
      // Kernels a step: the cuts' and what jax-js then splits off, far fewer than eagerly (one an operation).
      const jitted = gl.draws();
      [params, state] = step(params, state, tree(0.5));
      await jax.blockUntilReady([params, state] as any);
      const eagerly = gl.draws();
      const [u, s] = opt.update(tree(0.5), jax.tree.ref(state as any), jax.tree.ref(params));
      await jax.blockUntilReady([u, s] as any);
      jax.tree.dispose([u, s] as any);
      const [j, e] = [eagerly - jitted, gl.draws() - eagerly];
      assert.ok(j > 0 && j < e / 3, `${what}: ${j} kernels a jitted step, ${e} eagerly`);
    }
    // (jax-js compiles a shader once per source: a case after the first may compile fewer.)
    const longest = Math.max(0, ...gl.shaders.map((s) => s.length));
    assert.ok(longest < 16 * WEBGL_CUT_BUDGET, `${what}: a shader of ${longest} characters`);
    jax.tree.dispose([params, state] as any);
    step.dispose();
    opt.dispose();
    assert.equal(gl.liveTextures(), textures, `${what}: device buffers left alive`);
  }
  for (const [what, make] of Object.entries(CUT)) {
    const { largest, gathers } = traced(make());
    assert.ok(largest <= WEBGL_CUT_BUDGET && gathers > 0, `${what}: a kernel of ${largest} nodes, ${gathers} gathers`);
  }
  for (const [what, make] of Object.entries(RUNS)) assert.ok(traced(make()).largest <= 64, what);
});

test('on webgl, jitted: a kernel that stays too large with every cut made is an OptaxError naming the transformation, the device, the output and the ways out, before any shader is written or any array consumed (nor anything left alive)', () => {
  // x added to itself 40 times over: 2^41 nodes as a tree, no cut site in it.
  const doubled = (x: JaxArray): JaxArray => { for (let i = 0; i < 40; i++) x = np.add(x.ref, x); return x; };
  const update = (u: any, s: any): [any, unknown] => [{ w: u.w, b: doubled(u.b) }, s];
  const textures = gl.liveTextures();
  let freed: boolean[] = [];
  const step = jax.jit(((g: Tree, s: unknown) => {
    try {
      return runUpdate('doubled', update, g, s, null);
    } catch (e) {
      freed = [g, s].flatMap((t) => jax.tree.leaves(t as any) as JaxArray[]).map(isFreed);
      throw e;
    }
  }) as any) as unknown as ((g: Tree, s: unknown) => unknown) & { dispose(): void };
  const grads = tree(0.5), state = { n: np.zeros([2]) };
  gl.shaders.length = 0;
  const t0 = performance.now();
  assert.throws(() => step(grads, state), (e: unknown) => {
    assert.ok(e instanceof OptaxError, String(e));
    assert.deepEqual(e.path, ['b']);
    assert.match(e.message, new RegExp(`^updates\\.b: doubled on jax-js's 'webgl' device, inside jit: .* 2\\.20e\\+12 GLSL expression nodes, beyond the ${WEBGL_MAX_KERNEL_NODES} `));
    assert.match(e.message, /reuse their intermediate values many times.*'webgpu'.*'wasm' or 'cpu'.*toTfjs.*outside jit/);
    return true;
  });
  assert.ok(performance.now() - t0 < 5000);
  assert.deepEqual(gl.shaders, []);
  assert.ok(freed.length > 0 && freed.every((f) => !f), `freed inside: ${freed}`);
  for (const a of [grads, state].flatMap((t) => jax.tree.leaves(t as any) as JaxArray[])) assert.equal(a.refCount, 1);
  jax.tree.dispose([grads, state] as any);
  step.dispose();
  assert.equal(gl.liveTextures(), textures);
});

test('on webgl, eagerly: the same updates run (every jax-js operation a kernel of its own), their shaders small', async () => {
  for (const [what, make] of Object.entries(CUT)) {
    const textures = gl.liveTextures();
    const opt = toJaxJs(make());
    const params = tree(1);
    const state = opt.init(jax.tree.ref(params));
    gl.shaders.length = 0;
    const [u, s] = opt.update(tree(0.5), state, jax.tree.ref(params));
    await jax.blockUntilReady([u, s] as any);
    // (jax-js compiles a shader once per source: a case after the first may compile none.)
    const longest = Math.max(0, ...gl.shaders.map((x) => x.length));
    assert.ok(longest < 4096, `${what}: eager shaders of ${longest} characters`);
    jax.tree.dispose([u, s, params] as any);
    opt.dispose();
    assert.equal(gl.liveTextures(), textures, `${what}: device buffers left alive`);
  }
});

test('the size counted is the GLSL jax-js writes: a value used twice is written twice, the text doubling with each level of reuse', async () => {
  const lengths: number[] = [], sizes: number[] = [];
  for (const k of [6, 7, 8, 9]) {
    const f = (x: JaxArray): JaxArray => { for (let i = 0; i < k; i++) x = np.add(x.ref, x); return x; };
    const { jaxpr } = jax.makeJaxpr(f)(np.zeros([5]));
    sizes.push(fusedKernelSizes(jaxpr.jaxpr)[0]);
    jaxpr.dispose();
    gl.shaders.length = 0;
    const y = jax.jit(f)(np.zeros([5]));
    await y.blockUntilReady();
    y.dispose();
    assert.equal(gl.shaders.length, 1);
    lengths.push(gl.shaders[0].length);
  }
  // Each level writes the previous expression twice: its text, less the shader's fixed part, doubles.
  for (let i = 2; i < lengths.length; i++) assert.equal(lengths[i] - lengths[i - 1], 2 * (lengths[i - 1] - lengths[i - 2]));
  for (let i = 1; i < sizes.length; i++) assert.equal(sizes[i], 2 * sizes[i - 1] + 1);
});

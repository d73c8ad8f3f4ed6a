/**
 * The jax-js adapter on jax-js's `webgl` device, in Node: jax-js's own WebGL backend and GLSL code
 * generator over a context that compiles and draws nothing (fake-webgl.ts), so the shaders it writes
 * can be read and the adapter's refusal of a kernel too large for them tested without a browser
 * (test/browser/gpu.test.ts runs the same cases on a real WebGL).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import { OptaxError, adamax, adamaxw, applyIfFinite, chain, clipByGlobalNorm, multiSteps, scale, warmupCosineDecaySchedule, type GradientTransformation } from '../../src/index.js';
import { applyUpdates, toJaxJs, type JaxArray } from '../../src/jax-js/index.js';
import { isFreed } from '../../src/jax-js/check-tree.js';
import { fusedKernelSizes } from '../../src/jax-js/fused-kernel-size.js';
import { WEBGL_MAX_KERNEL_NODES } from '../../src/jax-js/webgl-kernels.js';
import { installFakeWebGL } from './fake-webgl.js';

const np = jax.numpy;
const gl = installFakeWebGL();

before(async () => {
  assert.ok((await jax.init('webgl')).includes('webgl'));
  jax.defaultDevice('webgl');
});

const schedule = () => warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 20, endValue: 0.001 });
/** What runs on WebGL (test/browser/gpu-page.ts's cases there): no exact fused multiply-add. */
const RUNS: Record<string, () => GradientTransformation<any>> = {
  'adamax': () => adamax(0.01),
  'chain(clipByGlobalNorm, adamaxw(warmupCosine))': () => chain(clipByGlobalNorm(1), adamaxw(schedule(), { weightDecay: 0.01 })),
  'applyIfFinite(scale)': () => applyIfFinite(scale(-0.5), { maxConsecutiveErrors: 2 }),
};
/** Their traced inner steps build float32 fused multiply-adds from float32 operations. */
const REFUSED: Record<string, { make: () => GradientTransformation<any>; name: string }> = {
  'applyIfFinite(adamax)': { make: () => applyIfFinite(adamax(0.01), { maxConsecutiveErrors: 2 }), name: 'apply_if_finite' },
  'multiSteps(adamax)': { make: () => multiSteps(adamax(0.01), { everyKSchedule: 2 }), name: 'MultiSteps' },
  'multiSteps(scale)': { make: () => multiSteps(scale(-0.5), { everyKSchedule: 2 }), name: 'MultiSteps' },
};

const tree = (v: number) => ({ w: np.full([3, 2], v), b: np.full([7], v) });
type Tree = ReturnType<typeof tree>;

/** One jitted training step (`update` then `applyUpdates`); `seen` gets whether each input was freed when update threw. */
function jitStep(tx: GradientTransformation<any>, seen?: { freed: boolean[] }) {
  const opt = toJaxJs(tx);
  const stepFn = (p: Tree, s: unknown, g: Tree): [Tree, unknown] => {
    try {
      const [u, ns] = opt.update(g, s, jax.tree.ref(p));
      return [applyUpdates(p, u), ns];
    } catch (e) {
      if (seen) seen.freed = [g, s, p].flatMap((t) => jax.tree.leaves(t as any) as JaxArray[]).map(isFreed);
      throw e;
    }
  };
  const step = jax.jit(stepFn as any) as unknown as typeof stepFn & { dispose(): void };
  return { opt, step };
}

test('on webgl, jitted: what has no exact fused multiply-add runs, its kernels far below the limit', async () => {
  for (const [what, make] of Object.entries(RUNS)) {
    gl.shaders.length = 0;
    const { opt, step } = jitStep(make());
    let params = tree(1);
    let state = opt.init(jax.tree.ref(params));
    for (let k = 0; k < 2; k++) [params, state] = step(params, state, tree(0.5));
    await params.b.ref.data();
    assert.ok(gl.shaders.length > 0, `${what}: no shader compiled`);
    const longest = Math.max(...gl.shaders.map((s) => s.length));
    assert.ok(longest < 4096, `${what}: a shader of ${longest} characters`);
    jax.tree.dispose([params, state] as any);
    step.dispose();
    opt.dispose();
  }
});

test('on webgl, jitted: applyIfFinite(adamax) and multiSteps are an OptaxError naming the transformation, the device, the output and the ways out, before any shader is written or any array consumed (nor anything left alive)', () => {
  for (const [what, { make, name }] of Object.entries(REFUSED)) {
    const textures = gl.liveTextures();
    const seen = { freed: [] as boolean[] };
    const { opt, step } = jitStep(make(), seen);
    const params = tree(1), grads = tree(0.5);
    const state = opt.init(jax.tree.ref(params));
    gl.shaders.length = 0;
    const t0 = performance.now();
    assert.throws(() => step(params, state, grads), (e: unknown) => {
      assert.ok(e instanceof OptaxError, `${what}: ${e}`);
      // The output: an update leaf (the first one whose kernel is too large), named by its path.
      assert.deepEqual(e.path, ['b'], what);
      assert.match(e.message, new RegExp(`^updates\\.b: ${name} on jax-js's 'webgl' device, inside jit: .* GLSL expression nodes, beyond the ${WEBGL_MAX_KERNEL_NODES} `), what);
      assert.match(e.message, /exact float32 fused multiply-adds? from float32 operations/, what);
      assert.match(e.message, /'webgpu'.*'wasm' or 'cpu'.*toTfjs.*outside jit/, what);
      return true;
    });
    const ms = performance.now() - t0;
    assert.ok(ms < 5000, `${what}: refused after ${Math.round(ms)} ms`);
    assert.deepEqual(gl.shaders, [], `${what}: shaders were compiled`);
    // Nothing consumed inside the step when update threw (nor left alive by the check's own trace: below).
    assert.ok(seen.freed.length > 0 && seen.freed.every((f) => !f), `${what}: freed inside: ${seen.freed}`);
    for (const a of [params, grads, state].flatMap((t) => jax.tree.leaves(t as any) as JaxArray[])) assert.equal(a.refCount, 1, what);
    jax.tree.dispose([params, grads, state] as any);
    step.dispose();
    opt.dispose();
    assert.equal(gl.liveTextures(), textures, `${what}: device buffers left alive`);
  }
});

test('on webgl, eagerly: the same updates run (every jax-js operation a kernel of its own), their shaders small', async () => {
  for (const [what, { make }] of Object.entries(REFUSED)) {
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

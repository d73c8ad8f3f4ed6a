/**
 * The cuts the adapter makes in a traced update for jax-js's WebGL device (webgl-kernels.ts,
 * cut-sites.ts), checked on the wasm device, whose results Node can read: cut as on WebGL
 * (`withWebGLCuts`), with the float32-ops fused multiply-add WebGL runs (`withFloat32OpsFma`), the
 * updates must stay bit-identical to the pure path; uncut (any device but WebGL), the graph must not
 * change. test/jax-js/webgl-kernels.test.ts runs them on jax-js's own WebGL code generator.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import { type GradientTransformation, adamax, applyIfFinite, multiSteps } from '../../src/index.js';
import { toJaxJs, type JaxArray } from '../../src/jax-js/index.js';
import { copy } from '../../src/jax-js/cut-sites.js';
import { withFloat32OpsFma } from '../../src/jax-js/fma.js';
import { fusedKernelSizes } from '../../src/jax-js/fused-kernel-size.js';
import { WEBGL_MAX_KERNEL_NODES, withWebGLCuts } from '../../src/jax-js/webgl-kernels.js';
import { runBoth } from './helpers.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

test('a cut is an exact copy, inside jit: signed zeros, infinities, NaN, subnormals; booleans and integers', async () => {
  const values = [-0, 0, Infinity, -Infinity, NaN, 2 ** -149, -(2 ** -140), 3.4028234663852886e38, 1 / 3];
  // Computed first (x * 1 - 0 keeps every value, and makes the copy's operand an expression of its own).
  const f = jax.jit((x: JaxArray) => copy(np.multiply(x, np.array(1, { dtype: np.float32 }))));
  const got = new Float32Array(await f(np.array(Float32Array.from(values))).data() as Float32Array);
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer), (u, i) => (Number.isNaN(a[i]) ? 'NaN' : u));
  assert.deepEqual(bits(got), bits(Float32Array.from(values)));
  const flags = await jax.jit((x: JaxArray) => copy(np.less(x, 0.5)))(np.array([0, 1, -2], { dtype: np.float32 })).data();
  assert.deepEqual(Array.from(flags as ArrayLike<number | boolean>, Boolean), [true, false, true]);
  const ints = await jax.jit((x: JaxArray) => copy(np.add(x, 1)))(np.array([-5, 2147483646], { dtype: np.int32 })).data();
  assert.deepEqual(Array.from(ints as Int32Array), [-4, 2147483647]);
  const scalar = jax.jit((x: JaxArray) => copy(np.multiply(x, 2)))(np.array(-0.25));
  assert.deepEqual(scalar.shape, []);
  assert.equal(await scalar.data().then((d) => (d as Float32Array)[0]), -0.5);
});

const CASES: Record<string, { make: () => GradientTransformation<any>; steps: number }> = {
  'applyIfFinite(adamax)': { make: () => applyIfFinite(adamax(0.05), { maxConsecutiveErrors: 1 }), steps: 8 },
  'multiSteps(adamax, 3)': { make: () => multiSteps(adamax(0.05), { everyKSchedule: 3 }), steps: 8 },
};
// Steps 2 and 3 non-finite (a skipped step, then one given up on), 6 NaN: applyIfFinite skips and
// resumes; multiSteps carries them into an emitted update.
const poison = (i: number): number | undefined => (i === 2 ? NaN : i === 3 ? -Infinity : i === 6 ? NaN : undefined);

/** The jaxpr `jit` compiles for one step of `tx` (update only) on the active device, and what it holds. */
function traced(tx: GradientTransformation<any>) {
  const opt = toJaxJs(tx);
  const params = { w: np.zeros([3, 2]), b: np.zeros([7]) };
  const state = opt.init(jax.tree.ref(params));
  const { jaxpr } = jax.makeJaxpr((p: any, s: any, g: any) => opt.update(g, s, p) as any)(params, state, { w: np.ones([3, 2]), b: np.ones([7]) });
  const primitives = jaxpr.jaxpr.flatten().eqns.map((e) => e.primitive);
  const out = { text: jaxpr.jaxpr.toString(), gathers: primitives.filter((p) => p === 'gather').length, marks: primitives.filter((p) => p === 'stop_gradient').length, largest: Math.max(...fusedKernelSizes(jaxpr.jaxpr)) };
  jaxpr.dispose();
  jax.tree.dispose([params, state] as any);
  opt.dispose();
  return out;
}

test('cut as on WebGL: every kernel within the limit, bit-identical to the pure path (updates, signs of zeros, params, state) over non-finite and emitting steps', async () => {
  await withFloat32OpsFma(async () => {
    for (const [what, { make, steps }] of Object.entries(CASES)) {
      const uncut = traced(make());
      const cut = await withWebGLCuts(async () => traced(make()));
      assert.ok(uncut.largest > 1e9, `${what}: uncut, ${uncut.largest} nodes`);
      // Within the limit (here: the graph scalars' float64 division, wasm's alone, has no cut site in
      // it; webgl-kernels.test.ts holds WebGL's own graph to the budget).
      assert.ok(cut.largest <= WEBGL_MAX_KERNEL_NODES, `${what}: cut, a kernel of ${cut.largest} nodes`);
      // The cuts are gathers (copies); the probe's marks never reach the graph jit compiles.
      assert.ok(cut.gathers > uncut.gathers, what);
      assert.equal(cut.marks, 0, what);
      const r = await withWebGLCuts(() => runBoth(make(), steps, 90, { poison, recordUpdates: true }));
      assert.deepEqual(r.jax, r.pure, what);
    }
  });
});

test('on any device but WebGL the graph is what it was: no cut, no mark', async () => {
  await withFloat32OpsFma(async () => {
    for (const [what, { make }] of Object.entries(CASES)) {
      const plain = traced(make());
      assert.equal(plain.marks, 0, what);
      // Cutting, then not: the graph of the uncut update again, equation for equation.
      await withWebGLCuts(async () => traced(make()));
      assert.equal(traced(make()).text, plain.text, what);
    }
  });
});

/**
 * applyIfFinite anywhere in a chain, a mask or a partition: its finiteness check is over the updates
 * it receives (the gradients, or their clipped values after clipByGlobalNorm), a skipped step runs
 * the skip pass (its zero update flows through the stages after it, its inner state is kept), and
 * its inner chain runs with optax's traced numerics. What it does not cover is reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/engine/compile.js';
import { OptaxError } from '../../src/core/errors.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import { adamax } from '../../src/alias/adamax.js';
import { chain } from '../../src/transforms/chain.js';
import { scale } from '../../src/transforms/scale.js';
import { masked } from '../../src/transforms/masked.js';
import { partition } from '../../src/transforms/partition.js';
import { applyIfFinite } from '../../src/transforms/apply-if-finite.js';
import { clipByGlobalNorm } from '../../src/transforms/clip-by-global-norm.js';
import { injectHyperparams } from '../../src/transforms/inject-hyperparams.js';
import { multiSteps } from '../../src/transforms/multi-steps.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import type { Tree } from '../../src/tree/tree.js';
import { ReferenceRun, assertBitEqual, cloneTree } from './support.js';

const f32 = (...v: number[]) => new Float32Array(v);
const f64 = (...v: number[]) => new Float64Array(v);
const guard = <S>(inner: GradientTransformation<S>, max = 1) => applyIfFinite(inner, { maxConsecutiveErrors: max });

const params = (): Tree => ({ w: f32(1, 2, -0, 4, 5), b: f64(-1), r: new ShapedArray(f32(0.5), []) });
// Finite steps, a NaN, an infinity, a NaN outside the masked or partitioned part, huge values whose
// norm overflows (clip then gives zeros), and a zero norm (with clipByGlobalNorm(0): 0 * inf is NaN).
const grads: Tree[] = [
  { w: f32(1, 2, 3, -1, 0), b: f64(1), r: new ShapedArray(f32(2), []) },
  { w: f32(NaN, 2, 3, -1, 0), b: f64(1), r: new ShapedArray(f32(2), []) },
  { w: f32(Infinity, 2, 3, -1, 0), b: f64(1), r: new ShapedArray(f32(2), []) },
  { w: f32(-1, 0, 1, 2, 3), b: f64(NaN), r: new ShapedArray(f32(-0), []) },
  { w: f32(3e38, 3e38, 1, 2, 3), b: f64(1e300), r: new ShapedArray(f32(1), []) },
  { w: f32(0, -0, 0, 0, 0), b: f64(0), r: new ShapedArray(f32(-0), []) },
  { w: f32(1e-42, -2, 0.5, 7, 1), b: f64(-3), r: new ShapedArray(f32(1e-40), []) },
];

function checkParity(tx: GradientTransformation<any>, label: string): void {
  for (const backend of ['wasm', 'js', 'interpreter'] as const) {
    for (const threads of backend === 'interpreter' ? [1] : [1, 2]) {
      const ref = new ReferenceRun(tx, params());
      const s = compile(tx, params(), { backend, threads, minElementsPerThread: 1, fallback: 'error' });
      assert.equal(s.backend, backend);
      grads.forEach((g, i) => {
        // Alternately in place (stepper.grads) and as a tree: both checks read the same values.
        ref.step(cloneTree(g));
        if (i % 2) s.step(cloneTree(g));
        else {
          for (const k of ['w', 'b', 'r'] as const) {
            const dst = (s.grads as Record<string, Float32Array | Float64Array | ShapedArray>)[k], src = (g as Record<string, Float32Array | Float64Array | ShapedArray>)[k];
            (dst instanceof ShapedArray ? dst.data : dst).set(src instanceof ShapedArray ? src.data : src);
          }
          s.step();
        }
        assertBitEqual(s.params, ref.params, `${label} ${backend}/${threads} step ${i + 1} params`);
        assertBitEqual(s.state, ref.state, `${label} ${backend}/${threads} step ${i + 1} state`);
      });
      s.dispose();
    }
  }
}

test('chain(clipByGlobalNorm(m), applyIfFinite(adamax)) is fused: the check is over the clipped updates', () => {
  for (const m of [1, 100, 0, 3e38, Infinity]) checkParity(chain(clipByGlobalNorm(m), guard(adamax(0.1))), `clip(${m})`);
});

test('applyIfFinite first in a chain, then other transformations (which see the zero update of a skipped step)', () => {
  checkParity(chain(guard(adamax(0.1), 0), scale(-2)), 'guard, scale');
  checkParity(chain(clipByGlobalNorm(1), guard(chain(scale(2), adamax(0.1)), 2), adamax(0.05)), 'clip, guard(chain), adamax');
});

test('applyIfFinite inside masked and partition: the check is over its own leaves only', () => {
  checkParity(masked(guard(adamax(0.1)), { w: true, b: false, r: true }), 'masked');
  checkParity(partition({ x: guard(adamax(0.1), 0), y: adamax(0.2) }, { w: 'x', b: 'y', r: 'y' }), 'partition');
  checkParity(chain(clipByGlobalNorm(1), partition({ x: scale(1), y: guard(adamax(0.1)) }, { w: 'x', b: 'y', r: 'y' })), 'clip, partition');
  // Around a mask (eager numerics inside: optax's lax.cond branch is not one traced chain).
  checkParity(chain(guard(masked(adamax(0.1), { w: true, b: false, r: true })), scale(1)), 'guard(masked), scale');
});

test('what nested applyIfFinite fusion does not cover is reported, by compile and by fallback: error', () => {
  const reason = (tx: GradientTransformation<any>): string => {
    assert.throws(() => compile(tx, params(), { fallback: 'error' }), (e: unknown) => e instanceof OptaxError && /cannot be fused: /.test(e.message));
    const s = compile(tx, params());
    assert.equal(s.backend, 'reference');
    const r = s.referenceReason!;
    s.dispose();
    return r;
  };
  assert.match(reason(chain(scale(2), guard(adamax(0.1)))), /apply_if_finite after scale is not fused/);
  assert.match(reason(chain(guard(scale(2)), guard(adamax(0.1)))), /only one per transformation/);
  assert.match(reason(multiSteps(chain(guard(adamax(0.1)), scale(1)), { everyKSchedule: 2 })), /inside MultiSteps/);
  assert.match(reason(chain(guard(injectHyperparams(adamax)(0.1)), scale(1))), /inject_hyperparams inside a nested apply_if_finite/);
});

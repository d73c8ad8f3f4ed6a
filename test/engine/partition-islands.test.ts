/**
 * A root partition whose groups do not all fuse: the fusable groups run fused, each other group on
 * the reference path (its updates written into the arena and applied by the fused pass), in one step
 * over the same params, grads and state; errors leave nothing changed, and `fallback: 'error'` names
 * the group that would run on the reference path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/engine/compile.js';
import { OptaxError } from '../../src/core/errors.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import { adamax } from '../../src/alias/adamax.js';
import { chain } from '../../src/transforms/chain.js';
import { scale } from '../../src/transforms/scale.js';
import { partition } from '../../src/transforms/partition.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import type { Tree } from '../../src/tree/tree.js';
import { ReferenceRun, assertBitEqual, cloneState, cloneTree } from './support.js';

const f32 = (...v: number[]) => new Float32Array(v);
const f64 = (...v: number[]) => new Float64Array(v);

/** A transformation whose `update` is JS code (the engine cannot see into it): momentum kept as a plain array, failing on a gradient of 13. */
function opaqueMomentum(): GradientTransformation<{ steps: number; last: Tree }> {
  return {
    name: 'opaque_momentum',
    init: (p) => ({ steps: 0, last: cloneTree(p) }),
    update: (u, s) => {
      const out = cloneTree(u) as Record<string, Float32Array | Float64Array | ShapedArray>;
      const last = cloneTree(s.last) as Record<string, Float32Array | Float64Array | ShapedArray>;
      for (const k of Object.keys(out)) {
        const o = out[k], l = last[k];
        if (o === null || l === null || o === undefined) continue;
        const od = o instanceof ShapedArray ? o.data : o, ld = l instanceof ShapedArray ? l.data : l;
        for (let i = 0; i < od.length; i++) {
          if (od[i] === 13) throw new OptaxError('opaque_momentum: 13 is unlucky');
          ld[i] = 0.5 * ld[i] + od[i];
          od[i] = -0.1 * ld[i];
        }
      }
      return [out as never, { steps: s.steps + 1, last: last as Tree }];
    },
  };
}

const params = (): Tree => ({ w: f32(1, 2, -0), b: f64(-1, 0.5), e: new ShapedArray(f32(3, 4), [2, 1]) });
const grads: Tree[] = [1, -2, NaN, 0.25].map((k) => ({ w: f32(k, -k, 2), b: f64(k / 3, -0), e: new ShapedArray(f32(k, 1e-40), [2, 1]) }));

test('partition with a group that cannot fuse: the others fused, that one on the reference path, bit-identical', () => {
  const txs = [
    partition({ fast: adamax(0.1), slow: opaqueMomentum() }, { w: 'fast', b: 'slow', e: 'fast' }),
    partition({ a: chain(scale(2), adamax(0.1)), b: opaqueMomentum(), c: scale(-1) }, { w: 'b', b: 'a', e: 'c' }),
    partition({ fast: adamax(0.1), slow: opaqueMomentum() }, (t: Tree) => (t === null ? null : { w: 'fast', b: 'slow', e: 'slow' })),
  ];
  for (const tx of txs) {
    for (const backend of ['wasm', 'js', 'interpreter'] as const) {
      for (const threads of backend === 'interpreter' ? [1] : [1, 2]) {
        const ref = new ReferenceRun(tx as GradientTransformation<unknown>, params());
        const s = compile(tx, params(), { backend, threads, minElementsPerThread: 1 });
        assert.equal(s.backend, backend);
        assert.match(s.referenceReason!, /partition group '(slow|b)' runs on the reference path: opaque_momentum cannot be fused/);
        grads.forEach((g, i) => {
          if (i === 2) {
            // A checkpoint loaded back into both.
            const saved = cloneState(ref.state);
            s.setState(saved as never);
            ref.state = cloneState(saved);
          }
          ref.step(cloneTree(g));
          s.step(cloneTree(g));
          assertBitEqual(s.params, ref.params, `${backend}/${threads} step ${i + 1} params`);
          assertBitEqual(s.state, ref.state, `${backend}/${threads} step ${i + 1} state`);
        });
        // The reference group throws: the step throws the same error and nothing changes.
        const before = cloneState({ p: s.params, s: s.state });
        const bad = { w: f32(13, 1, 1), b: f64(13, 13), e: new ShapedArray(f32(13, 13), [2, 1]) };
        let expected: Error | undefined;
        try { ref.step(cloneTree(bad)); } catch (e) { expected = e as Error; }
        assert.ok(expected);
        assert.throws(() => s.step(cloneTree(bad)), { message: expected.message });
        assertBitEqual({ p: s.params, s: s.state }, before);
        // A state for the opaque group that does not fit is refused, naming its path.
        assert.throws(() => s.setState({ inner_states: { ...(s.state as any).inner_states, [Object.keys((s.state as any).inner_states).find((k) => 'steps' in (s.state as any).inner_states[k].inner_state)!]: { inner_state: { steps: 1 } } } } as never), OptaxError);
        s.dispose();
      }
    }
  }
});

test('fallback: error names the partition group that would run on the reference path', () => {
  const tx = partition({ fast: adamax(0.1), slow: opaqueMomentum() }, { w: 'fast', b: 'slow', e: 'fast' });
  assert.throws(() => compile(tx, params(), { fallback: 'error' }), /cannot be fused entirely: partition group 'slow' runs on the reference path: opaque_momentum cannot be fused/);
  // When no group fuses, the whole transformation runs on the reference path.
  const none = compile(partition({ x: opaqueMomentum(), y: opaqueMomentum() }, { w: 'x', b: 'y', e: 'x' }), params());
  assert.equal(none.backend, 'reference');
  none.dispose();
});

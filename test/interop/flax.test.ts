import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptaxError, ShapedArray, adamax, applyUpdates, fromFlaxBytes, toFlaxBytes } from '../../src/index.js';

test('a state written as flax bytes and read back resumes bit-identically', () => {
  const tx = adamax(0.01);
  const params0 = { w: new ShapedArray(new Float32Array([1, -2, 3, -4, 5, 6]), [2, 3]), b: new Float64Array([0.5]) };
  let params: typeof params0 = params0;
  let state = tx.init(params);
  const grads = (k: number) => ({ w: new ShapedArray(new Float32Array(6).map((_, i) => Math.sin(i + k)), [2, 3]), b: new Float64Array([Math.cos(k)]) });
  for (let k = 0; k < 3; k++) { const [u, s] = tx.update(grads(k), state, params); params = applyUpdates(params, u); state = s; }
  const restored = fromFlaxBytes(tx.init(params0), toFlaxBytes(state));
  let a = state, b = restored, pa = params, pb = params;
  for (let k = 3; k < 6; k++) {
    const [ua, sa] = tx.update(grads(k), a, pa); pa = applyUpdates(pa, ua); a = sa;
    const [ub, sb] = tx.update(grads(k), b, pb); pb = applyUpdates(pb, ub); b = sb;
  }
  assert.deepEqual(Array.from(pa.w.data), Array.from(pb.w.data));
  assert.deepEqual(Array.from(pa.b), Array.from(pb.b));
  assert.equal(b[0].count, 6);
  assert.deepEqual(toFlaxBytes(a), toFlaxBytes(b));
});

test('restoring into a state of another shape names the path', () => {
  const tx = adamax(0.01);
  const bytes = toFlaxBytes(tx.init({ w: new Float32Array(3) }));
  assert.throws(() => fromFlaxBytes(tx.init({ w: new Float32Array(4) }), bytes), (e: unknown) => e instanceof OptaxError && /^state\[0\]\.mu\.w: state dict does not fit the state: expected shape \[4\], got \[3\]/.test((e as Error).message));
  assert.throws(() => fromFlaxBytes(tx.init({ v: new Float32Array(3) }), bytes), /unexpected key\(s\) w/);
  assert.throws(() => fromFlaxBytes(tx.init({ w: new Float64Array(3) }), bytes), /expected float64, got float32/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canTrace, tracedUpdate } from '../../src/transforms/traced.js';
import { adamax } from '../../src/alias/adamax.js';
import { clipByGlobalNorm } from '../../src/transforms/clip-by-global-norm.js';
import { chain } from '../../src/transforms/chain.js';
import { scale } from '../../src/transforms/scale.js';
import { fma32 } from '../../src/core/fused-multiply-add.js';

const r = Math.fround;

test('canTrace: elementwise transformations and chains of them', () => {
  assert.ok(canTrace(adamax(0.1)));
  assert.ok(canTrace(chain(scale(1), chain(scale(2)))));
  assert.ok(!canTrace(chain(clipByGlobalNorm(1), adamax(0.1))));
});

test('adamax traced: fma for the first moment and mu / (bias * nu), state in chain layout', () => {
  const tx = adamax(0.01);
  const params = { a: new Float32Array([0, 0]), b: new Float32Array([0]) };
  const g1 = { a: new Float32Array([0.3, -1.7]), b: new Float32Array([2.5]) };
  const g2 = { a: new Float32Array([0.7, 0.2]), b: new Float32Array([-1.1]) };
  const first = tracedUpdate(tx, g1, tx.init(params), params, undefined);
  const second = tracedUpdate(tx, g2, first.state, params, undefined);
  const [b1, omb1, b2, eps, lr] = [r(0.9), r(1 - 0.9), r(0.999), r(1e-8), r(-0.01)];
  const bias = r(1 - r(b1 * b1));
  const expect = (x1: number, x2: number): number => {
    const mu1 = r(omb1 * x1), nu1 = r(Math.abs(x1) + eps);
    const mu2 = fma32(omb1, x2, r(b1 * mu1));
    const nu2 = Math.max(r(Math.abs(x2) + eps), r(b2 * nu1));
    return r(lr * r(mu2 / r(bias * nu2)));
  };
  assert.equal(second.updates.a[0], expect(r(0.3), r(0.7)));
  assert.equal(second.updates.a[1], expect(r(-1.7), r(0.2)));
  assert.equal(second.updates.b[0], expect(r(2.5), r(-1.1)));
  const state = second.state as any[];
  assert.equal(state.length, 2);
  assert.equal(state[0].count, 2);
  assert.deepEqual(state[1], {});
  // y before the final scale is exposed for MultiSteps
  assert.ok(second.preScale && Math.abs((second.preScale as any).b[0] * lr - second.updates.b[0]) < 1e-9);
});

test('falls back to the plain update for other transformations', () => {
  const tx = chain(clipByGlobalNorm(1), scale(2));
  const g = { w: new Float64Array([3, 4]) };
  const traced = tracedUpdate(tx, g, tx.init(g), null, undefined);
  assert.deepEqual(traced.updates, tx.update(g, tx.init(g))[0]);
  assert.equal(traced.preScale, undefined);
});

// masked(...) inside apply_if_finite / MultiSteps: adamaxw's masked weight decay is part of the one traced
// computation (transforms/traced.ts), each leaf with the stages its mask gives it. The engine's side:
// test/engine/traced-schedules.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adamax } from '../../src/alias/adamax.js';
import { adamaxw } from '../../src/alias/adamaxw.js';
import { applyIfFinite } from '../../src/transforms/apply-if-finite.js';
import { canTrace } from '../../src/transforms/traced.js';

const f32 = (...v: number[]) => new Float32Array(v);
const params = () => ({ a: f32(1.5, -2, 0.25), b: f32(0.75, -0.125) });
const grads = (i: number) => ({ a: f32(0.3 * i - 1, 0.7, -0.01 * i), b: f32(1 / (i + 1), -0.4) });

test('apply_if_finite(adamaxw(mask)): a masked-in leaf as traced adamaxw, a masked-out one as traced adamax', () => {
  const opts = { b1: 0.5, b2: 0.9, eps: 1e-3, weightDecay: 0.01 };
  const tx = applyIfFinite(adamaxw(0.02, { ...opts, mask: { a: true, b: false } }), { maxConsecutiveErrors: 1 });
  assert.ok(canTrace(adamaxw(0.02, { ...opts, mask: { a: true, b: false } })));
  const withDecay = applyIfFinite(adamaxw(0.02, opts), { maxConsecutiveErrors: 1 });
  const without = applyIfFinite(adamax(0.02, { b1: 0.5, b2: 0.9, eps: 1e-3 }), { maxConsecutiveErrors: 1 });
  let [s, sw, so] = [tx.init(params()), withDecay.init(params()), without.init(params())];
  let differs = false;
  for (let i = 0; i < 8; i++) {
    let u, uw, uo;
    const before = s.inner_state;
    [u, s] = tx.update(grads(i), s, params());
    [uw, sw] = withDecay.update(grads(i), sw, params());
    [uo, so] = without.update(grads(i), so, params());
    assert.deepEqual(u.a, uw.a, `step ${i} a`);
    assert.deepEqual(u.b, uo.b, `step ${i} b`);
    // The traced weight decay is one fma: it differs from the eager chain at some step.
    const eager = adamaxw(0.02, { ...opts, mask: { a: true, b: false } });
    const [ue] = eager.update(grads(i), before, params());
    if (ue.a.some((x: number, k: number) => x !== u.a[k])) differs = true;
  }
  assert.ok(differs);
});

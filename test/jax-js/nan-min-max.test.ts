import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import { adamax, chain, clip, multiSteps, scaleByAdamax, warmupCosineDecaySchedule } from '../../src/index.js';
import { float64Array } from '../../src/jax-js/constants.js';
import { minMaxJax, minMaxMayDropNaN, withNanSafeMinMax } from '../../src/jax-js/nan-min-max.js';
import { runBoth } from './helpers.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

// Every pairing of NaN, the infinities, signed zeros and ordinary values, in both orders.
const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1.5, -2.25, 3e-39, -1e30];
const xs = SPECIAL.flatMap((a) => SPECIAL.map(() => a));
const ys = SPECIAL.flatMap(() => SPECIAL);
const same = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

test('minMaxJax: XLA maximum/minimum (NaN from either operand, signed zeros as Math.max/min) in both forms, float32 and float64, eagerly and inside jit', async () => {
  for (const forced of [false, true]) {
    const run = async (): Promise<void> => {
      for (const dtype of ['float32', 'float64'] as const) {
        const make = (v: number[]) => (dtype === 'float32' ? np.array(Float32Array.from(v)) : float64Array(v));
        for (const which of ['max', 'min'] as const) {
          const f = (a: jax.numpy.Array, b: jax.numpy.Array) => minMaxJax(which, a, b);
          const want = xs.map((x, i) => (which === 'max' ? Math.max : Math.min)(dtype === 'float32' ? Math.fround(x) : x, dtype === 'float32' ? Math.fround(ys[i]) : ys[i]));
          for (const [mode, fn] of [['eager', f], ['jit', jax.jit(f)]] as const) {
            const got = Array.from(await fn(make(xs), make(ys)).data() as Float32Array | Float64Array);
            got.forEach((g, i) => assert.ok(same(g, want[i]), `${forced ? 'NaN-safe' : 'native'} ${which}(${xs[i]}, ${ys[i]}) ${dtype} ${mode}: ${g}, expected ${want[i]}`));
          }
        }
      }
    };
    if (forced) await withNanSafeMinMax(run);
    else await run();
  }
});

test('minMaxJax is the device\'s one max instruction where it propagates NaN (wasm), the NaN-safe form only where it may not (forced here)', async () => {
  const eqns = (forced: boolean) => {
    const trace = () => jax.makeJaxpr((a: jax.numpy.Array, b: jax.numpy.Array) => minMaxJax('max', a, b))(np.zeros([4]), np.zeros([4]));
    assert.equal(minMaxMayDropNaN(), forced);
    const { jaxpr } = trace() as unknown as { jaxpr: { jaxpr: { eqns: { primitive: string }[] } } };
    return jaxpr.jaxpr.eqns.map((e) => e.primitive);
  };
  assert.deepEqual(eqns(false), ['max']);
  const safe = await withNanSafeMinMax(async () => eqns(true));
  assert.ok(safe.includes('max') && safe.includes('where') && safe.length > 1, safe.join(' '));
});

test('with the NaN-safe max/min (what webgl and webgpu run): multiSteps and clip carrying NaN and infinities stay bit-identical to the pure path', async () => {
  const schedule = warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 2, decaySteps: 8 });
  const poison = (i: number): number | undefined => (i === 1 || i === 5 ? NaN : i === 3 ? -Infinity : undefined);
  await withNanSafeMinMax(async () => {
    const m = await runBoth(multiSteps(adamax(schedule), { everyKSchedule: 2 }), 8, 90, { poison, recordUpdates: true });
    assert.deepEqual(m.jax, m.pure);
    const c = await runBoth(chain(clip(0.5), scaleByAdamax()), 6, 91, { poison, recordUpdates: true });
    assert.deepEqual(c.jax, c.pure);
  });
});

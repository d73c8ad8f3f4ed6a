/**
 * The conformance trajectories of the combinators and transformations around adamax, bit for bit,
 * float32 and float64 (conformance/public_*.json, recorded from optax 0.2.8).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adamax } from '../../src/alias/adamax.js';
import { chain } from '../../src/transforms/chain.js';
import { scaleByAdamax } from '../../src/transforms/scale-by-adamax.js';
import { scaleByLearningRate } from '../../src/transforms/scale-by-learning-rate.js';
import { setToZero } from '../../src/transforms/set-to-zero.js';
import { clip } from '../../src/transforms/clip.js';
import { clipByGlobalNorm } from '../../src/transforms/clip-by-global-norm.js';
import { applyIfFinite } from '../../src/transforms/apply-if-finite.js';
import { MultiSteps, multiSteps } from '../../src/transforms/multi-steps.js';
import { masked } from '../../src/transforms/masked.js';
import { partition } from '../../src/transforms/partition.js';
import { ema } from '../../src/transforms/ema.js';
import { injectHyperparams, setHyperparams } from '../../src/transforms/inject-hyperparams.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import { type Mode, runCase } from './vectors.js';

const cases: Record<string, () => GradientTransformation<any>> = {
  inject_hyperparams_adamax: () => injectHyperparams(adamax)({ learning_rate: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8 }),
  chain_clip_by_global_norm_adamax: () => chain(clipByGlobalNorm(1.0), adamax(0.01)),
  chain_clip_adamax: () => chain(clip(0.3), scaleByAdamax(), scaleByLearningRate(0.02)),
  apply_if_finite_adamax: () => applyIfFinite(adamax(0.01), { maxConsecutiveErrors: 2 }),
  multisteps_every_3_adamax: () => multiSteps(adamax(0.01), { everyKSchedule: 3 }),
  masked_adamax: () => masked(adamax(0.01), { w: true, b: false }),
  partition_two_lrs_and_frozen: () => partition({ fast: adamax(0.05), slow: adamax(0.001), frozen: setToZero() }, { w: 'fast', b: 'slow', c: 'frozen' }),
  chain_adamax_ema: () => chain(adamax(0.01), ema(0.9, { debias: true })),
};

for (const mode of ['f32', 'f64'] as Mode[]) {
  for (const [name, build] of Object.entries(cases)) {
    test(`${name} (${mode}) matches optax bit for bit`, () => {
      assert.equal(runCase(mode, name, build(), setHyperparams), undefined);
    });
  }
  test(`multisteps_every_3_adamax (${mode}) through the MultiSteps class`, () => {
    const tx = new MultiSteps(adamax(0.01), { everyKSchedule: 3 }).gradientTransformation();
    assert.equal(runCase(mode, 'multisteps_every_3_adamax', tx), undefined);
  });
  test(`apply_if_finite_adamax (${mode}) differs from eager numerics (the traced rewrite matters)`, () => {
    // The same inner run eagerly (no lax.cond) does not reproduce optax's values.
    const eager: GradientTransformation<any> = { ...adamax(0.01), name: 'opaque', parts: undefined, elementwise: undefined };
    assert.notEqual(runCase(mode, 'apply_if_finite_adamax', applyIfFinite(eager, { maxConsecutiveErrors: 2 })), undefined);
  });
}

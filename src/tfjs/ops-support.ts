import type { GradientTransformation } from '../core/transformation.js';
import { MAX_TABLE_STEPS, countTable } from '../kernel/count-table.js';
import type { SkipFunction } from '../transforms/skip-updates.js';
import type { ClipByGlobalNormTransformation } from '../transforms/clip-by-global-norm.js';
import type { InjectHyperparamsState } from '../transforms/inject-hyperparams.js';

/**
 * What the ops path (ops-step.ts) runs, checked before a step: chains, elementwise transformations,
 * clipByGlobalNorm, masked, partition, injectHyperparams, applyIfFinite and multiSteps, nested in any
 * way but these:
 * - inside `applyIfFinite` the counts live on the device (whether a step counts is known only
 *   there), so an elementwise transformation's scalars come from a table over its count
 *   (kernel/count-table.ts): its control must be a count at most, its scalars numbers, and they must
 *   settle (a schedule that never reaches its final value cannot be tabulated); injectHyperparams
 *   there without a scheduled hyperparameter (its count then changes nothing on the host);
 * - multiSteps keeps its counters on the host, unless a step may be skipped (a `shouldSkipUpdateFn`,
 *   which must be skipNotFinite or skipLargeUpdates: run as device reductions) or it runs inside
 *   applyIfFinite: then they are on the device, with the counts inside it, and `everyKSchedule` must
 *   be a number; no float64 accumulator.
 * Anything else (a transformation of your own with plain `init`/`update`) runs through the engine.
 */

const tables = new WeakMap<object, string | undefined>();

/** Why the ops path cannot run `tx` (a sentence naming the part), or undefined when it can. */
export function opsUnsupported(tx: GradientTransformation<any>, deviceCounts = false): string | undefined {
  if (tx.parts) {
    for (const p of tx.parts) {
      const why = opsUnsupported(p, deviceCounts);
      if (why) return why;
    }
    return undefined;
  }
  const c = tx.combinator;
  switch (c?.kind) {
    case 'masked': return opsUnsupported(c.inner, deviceCounts);
    case 'partition': {
      for (const t of Object.values(c.transforms)) {
        const why = opsUnsupported(t, deviceCounts);
        if (why) return why;
      }
      return undefined;
    }
    case 'applyIfFinite': return opsUnsupported(c.inner, true);
    case 'injectHyperparams': {
      let state: InjectHyperparamsState;
      try {
        state = tx.init({}) as InjectHyperparamsState;
      } catch {
        return `${tx.name}: its initial state needs the parameters`;
      }
      if (deviceCounts && Object.keys(state.hyperparams_states).length > 0) return 'injectHyperparams with a scheduled hyperparameter inside applyIfFinite';
      return opsUnsupported(c.innerFor(state.hyperparams), deviceCounts);
    }
    case 'multiSteps': {
      if (c.accumulatorDtype === 'float64') return 'MultiSteps with a float64 accumulator';
      // Its counters on the device: whether a mini-step counts is known only there.
      const onDevice = deviceCounts || c.shouldSkip !== undefined;
      if (onDevice && c.constantK === undefined) return 'MultiSteps with an every-k schedule (a function) and a shouldSkipUpdateFn, or inside applyIfFinite';
      if (onDevice && c.constantK! > MAX_TABLE_STEPS) return `MultiSteps every ${c.constantK} steps with a shouldSkipUpdateFn, or inside applyIfFinite (at most ${MAX_TABLE_STEPS})`;
      if (c.shouldSkip && !(c.shouldSkip as Partial<SkipFunction<unknown>>).skipRule) return 'MultiSteps with a shouldSkipUpdateFn of your own (skipNotFinite and skipLargeUpdates run on the device)';
      return opsUnsupported(c.inner, onDevice);
    }
    default:
  }
  if ((tx as ClipByGlobalNormTransformation).reduction) return undefined;
  const def = tx.elementwise;
  if (!def) return `${tx.name} (not made of optax-ts's parts)`;
  if (!deviceCounts) return undefined;
  if (Object.keys(def.initControl()).some((k) => k !== 'count')) return `${def.name} inside applyIfFinite (its state keeps more than a count)`;
  if (!tables.has(tx)) {
    let why: string | undefined;
    try {
      countTable('toTfjs', def.name, def, tx, 'float32', true);
    } catch (e) {
      why = `${def.name} inside applyIfFinite: ${(e as Error).message}`;
    }
    tables.set(tx, why);
  }
  return tables.get(tx);
}

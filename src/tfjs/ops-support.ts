import type { GradientTransformation } from '../core/transformation.js';
import { countTable } from '../kernel/count-table.js';
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
 *   there without a scheduled hyperparameter (its count then changes nothing on the host), and no
 *   multiSteps (its mini-step counter decides on the host whether a step emits);
 * - multiSteps with a `shouldSkipUpdateFn` or a float64 accumulator.
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
    case 'multiSteps':
      if (deviceCounts) return 'MultiSteps inside applyIfFinite';
      if (c.shouldSkip) return 'MultiSteps with a shouldSkipUpdateFn';
      if (c.accumulatorDtype === 'float64') return 'MultiSteps with a float64 accumulator';
      return opsUnsupported(c.inner, false);
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

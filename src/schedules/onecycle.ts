/**
 * What the one-cycle schedules share: their option checks and the boundary dict.
 *
 * @internal
 */
import { OptaxError } from '../core/errors.js';
import type { Dtype } from '../core/dtype.js';
import { checkDtype, checkFinite, checkOptions, checkPositive, checkSteps } from './validate.js';

/** The options both one-cycle schedules take (each schedule's options document `pctStart` and `finalDivFactor`, whose ranges and formulas differ). */
export interface OnecycleCommonOptions {
  /** The length `T` of the cycle (an integer `> 0`). */
  transitionSteps: number;
  /** The maximum value, reached at step `int(pctStart * T)`. */
  peakValue: number;
  pctStart?: number;
  /** The initial value is `peakValue / divFactor` (`> 0`, default 25). */
  divFactor?: number;
  finalDivFactor?: number;
  /** `'float32'` (default: JAX's 32-bit mode) or `'float64'` (`jax_enable_x64`). */
  dtype?: Dtype;
}

/**
 * Checks the shared options (with optax's defaults: pctStart 0.3, divFactor 25, finalDivFactor 1e4)
 * and computes the initial value `peakValue / divFactor` in Python's double arithmetic.
 */
export function checkOnecycleOptions(fn: string, options: OnecycleCommonOptions, ownKeys: readonly string[]) {
  checkOptions(fn, options, ['transitionSteps', 'peakValue', 'pctStart', 'divFactor', 'finalDivFactor', 'dtype', ...ownKeys]);
  const steps = checkSteps(fn, 'transitionSteps', options.transitionSteps, 1);
  const peakValue = checkFinite(fn, 'peakValue', options.peakValue);
  const pctStart = checkFinite(fn, 'pctStart', options.pctStart ?? 0.3);
  if (!(pctStart >= 0 && pctStart <= 1)) throw new OptaxError(`${fn}: pctStart must be in [0, 1], got ${pctStart}`);
  const divFactor = checkPositive(fn, 'divFactor', options.divFactor ?? 25);
  const finalDivFactor = checkPositive(fn, 'finalDivFactor', options.finalDivFactor ?? 1e4);
  const dtype = checkDtype(fn, options.dtype);
  const initValue = peakValue / divFactor; // Python arithmetic (double)
  if (!Number.isFinite(initValue)) throw new OptaxError(`${fn}: peakValue / divFactor overflows: ${peakValue} / ${divFactor}`);
  return { steps, pctStart, divFactor, finalDivFactor, dtype, initValue };
}

/**
 * Builds optax's `{int(pct * transition_steps): scale, ...}` dict. In Python a later entry with the same
 * key silently replaces an earlier one (e.g. `pct_start = 1` merges the warmup boundary into the end and
 * loses the warmup); that is rejected here, naming the colliding options.
 */
export function onecycleBoundaries(fn: string, entries: readonly [name: string, step: number, scale: number][]): Map<number, number> {
  const map = new Map<number, number>();
  const owner = new Map<number, string>();
  for (const [name, step, scale] of entries) {
    const other = owner.get(step);
    if (other !== undefined) {
      throw new OptaxError(`${fn}: ${other} and ${name} both fall on step ${step}; optax would silently drop a phase (spread them apart or use more transitionSteps)`);
    }
    owner.set(step, name);
    map.set(step, scale);
  }
  return map;
}

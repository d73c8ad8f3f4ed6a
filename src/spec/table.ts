import { adamax } from '../alias/adamax.js';
import { adamaxw } from '../alias/adamaxw.js';
import { addDecayedWeights } from '../transforms/add-decayed-weights.js';
import { applyIfFinite } from '../transforms/apply-if-finite.js';
import { chain } from '../transforms/chain.js';
import { clip } from '../transforms/clip.js';
import { clipByGlobalNorm } from '../transforms/clip-by-global-norm.js';
import { ema } from '../transforms/ema.js';
import { identity } from '../transforms/identity.js';
import { type InjectableParam, type TransformationFactory, injectableSignature } from '../transforms/injectable.js';
import { injectHyperparams } from '../transforms/inject-hyperparams.js';
import { masked } from '../transforms/masked.js';
import { multiSteps } from '../transforms/multi-steps.js';
import { partition } from '../transforms/partition.js';
import { scale } from '../transforms/scale.js';
import { scaleByAdamax } from '../transforms/scale-by-adamax.js';
import { scaleByLearningRate } from '../transforms/scale-by-learning-rate.js';
import { scaleBySchedule } from '../transforms/scale-by-schedule.js';
import { setToZero } from '../transforms/set-to-zero.js';
import * as S from '../schedules/index.js';

/**
 * THE table from optax's names (as specs and the conformance vectors spell them) to optax-ts's
 * factories, with each factory's arguments: optax's snake_case keyword, our name, and whether it is
 * passed positionally or in the options object. {@link fromSpec} calls a factory from it and
 * {@link toSpec} reads a recorded call back through it, so each signature is written once. The
 * factories `injectHyperparams` accepts are described by their injectable signatures, not again here.
 * @internal
 */

/**
 * How an argument's value is written as data:
 * - `value`: a number, boolean, string, null, an encoded array, or `{schedule: spec}`;
 * - `tree`: data as is, arrays encoded (masks, labels, boundaries);
 * - `transform` / `transforms` / `transformMap`: one spec / a list of specs / `{label: spec}`;
 * - `schedules`: a list of schedule specs;
 * - `warmupCosineList`: a list of `warmup_cosine_decay_schedule` argument sets;
 * - `skip`: MultiSteps' `should_skip_update_fn`, `"skip_not_finite"` or
 *   `{name: "skip_large_updates", args: {max_squared_norm}}` (optax's `functools.partial`).
 */
export type ArgKind = 'value' | 'tree' | 'transform' | 'transforms' | 'transformMap' | 'schedules' | 'warmupCosineList' | 'skip';

/** One argument of a factory. */
export interface SpecParam {
  /** optax's keyword (snake_case). */
  readonly name: string;
  /** Our name (the options key; for a positional argument, its documented name). */
  readonly option: string;
  /** Passed positionally, in this order, before the options object. */
  readonly positional?: boolean;
  /** Takes every remaining positional argument (`chain(...transforms)`). */
  readonly rest?: boolean;
  readonly kind?: ArgKind;
}

/** A factory and its arguments. */
export interface SpecEntry {
  readonly kind: 'transform' | 'schedule';
  readonly factory: (...args: any[]) => unknown;
  readonly params: readonly SpecParam[];
  /** A schedule whose dtype defaults to its parts' (join_schedules), not to the caller's default. */
  readonly dtypeFromParts?: boolean;
}

const p = (name: string, option: string, kind: ArgKind = 'value', positional = false): SpecParam => ({ name, option, kind, positional });
const pos = (name: string, option: string, kind: ArgKind = 'value'): SpecParam => p(name, option, kind, true);

/** The arguments of a factory registered for injectHyperparams, read from its injectable signature. */
function injectable(factory: TransformationFactory): SpecEntry {
  const sig = injectableSignature(factory);
  if (!sig) throw new Error(`spec table: ${factory.name} has no injectable signature`);
  const params = sig.params.map((q: InjectableParam): SpecParam => ({ name: q.name, option: q.option, positional: q.positional, kind: q.static ? 'tree' : 'value' }));
  return { kind: 'transform', factory, params };
}

const transform = (factory: (...args: any[]) => unknown, ...params: SpecParam[]): SpecEntry => ({ kind: 'transform', factory, params });
const schedule = (factory: (options: any) => unknown, ...params: SpecParam[]): SpecEntry => ({ kind: 'schedule', factory, params: [...params, p('dtype', 'dtype', 'tree')] });

const initValue = p('init_value', 'initValue');
const endValue = p('end_value', 'endValue');
const peakValue = p('peak_value', 'peakValue');
const transitionSteps = p('transition_steps', 'transitionSteps');
const transitionBegin = p('transition_begin', 'transitionBegin');
const warmupSteps = p('warmup_steps', 'warmupSteps');
const decaySteps = p('decay_steps', 'decaySteps');
const exponent = p('exponent', 'exponent');
const decayRate = p('decay_rate', 'decayRate');
const staircase = p('staircase', 'staircase');
const boundariesAndScales = p('boundaries_and_scales', 'boundariesAndScales', 'tree');
const pctStart = p('pct_start', 'pctStart');
const divFactor = p('div_factor', 'divFactor');
const finalDivFactor = p('final_div_factor', 'finalDivFactor');

/** The arguments of one `sgdr_schedule` cycle (warmup_cosine_decay_schedule's, without dtype). */
export const WARMUP_COSINE_PARAMS: readonly SpecParam[] = [initValue, peakValue, warmupSteps, decaySteps, endValue, exponent];

/** Every transformation and schedule a spec can name, by optax name. */
export const SPEC_TABLE: Readonly<Record<string, SpecEntry>> = Object.assign(Object.create(null) as Record<string, SpecEntry>, {
  adamax: injectable(adamax),
  adamaxw: injectable(adamaxw),
  scale_by_adamax: injectable(scaleByAdamax),
  scale: injectable(scale),
  scale_by_learning_rate: injectable(scaleByLearningRate),
  add_decayed_weights: injectable(addDecayedWeights),
  clip: injectable(clip),
  clip_by_global_norm: injectable(clipByGlobalNorm),
  ema: injectable(ema),
  // Built and described by src/spec/spec.ts itself: its arguments name another entry.
  inject_hyperparams: transform(injectHyperparams),
  scale_by_schedule: transform(scaleBySchedule, pos('step_size_fn', 'schedule')),
  set_to_zero: transform(setToZero),
  identity: transform(identity),
  chain: transform(chain, { ...pos('transforms', 'transforms', 'transform'), rest: true }),
  apply_if_finite: transform(applyIfFinite, pos('inner', 'inner', 'transform'), p('max_consecutive_errors', 'maxConsecutiveErrors')),
  MultiSteps: transform(multiSteps, pos('opt', 'opt', 'transform'), p('every_k_schedule', 'everyKSchedule'), p('use_grad_mean', 'useGradMean'), p('should_skip_update_fn', 'shouldSkipUpdateFn', 'skip'), p('accumulator_dtype', 'accumulatorDtype', 'tree')),
  masked: transform(masked, pos('inner', 'inner', 'transform'), pos('mask', 'mask', 'tree')),
  partition: transform(partition, pos('transforms', 'transforms', 'transformMap'), pos('param_labels', 'paramLabels', 'tree')),
  multi_transform: transform(partition, pos('transforms', 'transforms', 'transformMap'), pos('param_labels', 'paramLabels', 'tree')),
  constant_schedule: schedule(S.constantSchedule, p('value', 'value')),
  linear_schedule: schedule(S.linearSchedule, initValue, endValue, transitionSteps, transitionBegin),
  polynomial_schedule: schedule(S.polynomialSchedule, initValue, endValue, p('power', 'power'), transitionSteps, transitionBegin),
  exponential_decay: schedule(S.exponentialDecay, initValue, transitionSteps, decayRate, transitionBegin, staircase, endValue),
  cosine_decay_schedule: schedule(S.cosineDecaySchedule, initValue, decaySteps, p('alpha', 'alpha'), exponent),
  warmup_cosine_decay_schedule: schedule(S.warmupCosineDecaySchedule, ...WARMUP_COSINE_PARAMS),
  warmup_exponential_decay_schedule: schedule(S.warmupExponentialDecaySchedule, initValue, peakValue, warmupSteps, transitionSteps, decayRate, transitionBegin, staircase, endValue),
  warmup_constant_schedule: schedule(S.warmupConstantSchedule, initValue, peakValue, warmupSteps),
  piecewise_constant_schedule: schedule(S.piecewiseConstantSchedule, initValue, boundariesAndScales),
  piecewise_interpolate_schedule: schedule(S.piecewiseInterpolateSchedule, p('interpolate_type', 'interpolateType'), initValue, boundariesAndScales),
  join_schedules: { ...schedule(S.joinSchedules, p('schedules', 'schedules', 'schedules'), p('boundaries', 'boundaries', 'tree')), dtypeFromParts: true },
  cosine_onecycle_schedule: schedule(S.cosineOnecycleSchedule, transitionSteps, peakValue, pctStart, divFactor, finalDivFactor),
  linear_onecycle_schedule: schedule(S.linearOnecycleSchedule, transitionSteps, peakValue, pctStart, p('pct_final', 'pctFinal'), divFactor, finalDivFactor),
  sgdr_schedule: schedule(S.sgdrSchedule, p('cosine_kwargs', 'cosineKwargs', 'warmupCosineList')),
});

/** The entry of `name`, own properties only (a spec's `__proto__` or `constructor` names nothing). */
export function specEntry(name: string): SpecEntry | undefined {
  return typeof name === 'string' && Object.hasOwn(SPEC_TABLE, name) ? SPEC_TABLE[name] : undefined;
}

import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import type { GradientTransformation } from '../core/transformation.js';
import { adamax } from '../alias/adamax.js';
import { chain } from '../transforms/chain.js';
import { identity } from '../transforms/identity.js';
import { scale } from '../transforms/scale.js';
import { scaleByAdamax } from '../transforms/scale-by-adamax.js';
import { scaleByLearningRate } from '../transforms/scale-by-learning-rate.js';
import { scaleBySchedule } from '../transforms/scale-by-schedule.js';
import { setToZero } from '../transforms/set-to-zero.js';
import { addDecayedWeights } from '../transforms/add-decayed-weights.js';
import { adamaxw } from '../alias/adamaxw.js';
import { clip } from '../transforms/clip.js';
import { clipByGlobalNorm } from '../transforms/clip-by-global-norm.js';
import { applyIfFinite } from '../transforms/apply-if-finite.js';
import { multiSteps } from '../transforms/multi-steps.js';
import { masked } from '../transforms/masked.js';
import { partition } from '../transforms/partition.js';
import { ema } from '../transforms/ema.js';
import { injectHyperparams } from '../transforms/inject-hyperparams.js';
import * as S from '../schedules/index.js';
import { type Spec, decodeTree } from './format.js';
import { isDictNode } from '../tree/structure.js';

/**
 * THE table from optax's snake_case names (as the vectors spell them) to optax-ts's API. Every
 * transformation and schedule the conformance runner can build is listed here, once.
 */

/** What a builder gets: the spec's arguments (arrays decoded) and the file's dtype mode. */
export interface BuildContext {
  /** `float32` for JAX's default mode, `float64` under x64: schedules compute in it. */
  readonly dtype: Dtype;
}

type Args = Readonly<Record<string, any>>;

/** Raised for a name the table does not have: the case fails with this reason. */
export class NotAvailableError extends Error {
  override name = 'NotAvailableError';
}

/** A learning-rate-like argument: a number, or `{schedule: spec}`. */
function scalarOrSchedule(v: unknown, ctx: BuildContext): number | Schedule {
  if (isDictNode(v) && 'schedule' in v) return buildSchedule(v.schedule as Spec, ctx);
  return v as number;
}

/** Schedule builders, by optax name. */
export const SCHEDULES: Readonly<Record<string, (a: Args, ctx: BuildContext) => Schedule>> = {
  constant_schedule: (a, { dtype }) => S.constantSchedule({ value: a.value, dtype }),
  linear_schedule: (a, { dtype }) => S.linearSchedule({ initValue: a.init_value, endValue: a.end_value, transitionSteps: a.transition_steps, transitionBegin: a.transition_begin, dtype }),
  polynomial_schedule: (a, { dtype }) => S.polynomialSchedule({ initValue: a.init_value, endValue: a.end_value, power: a.power, transitionSteps: a.transition_steps, transitionBegin: a.transition_begin, dtype }),
  exponential_decay: (a, { dtype }) => S.exponentialDecay({ initValue: a.init_value, transitionSteps: a.transition_steps, decayRate: a.decay_rate, transitionBegin: a.transition_begin, staircase: a.staircase, endValue: a.end_value, dtype }),
  cosine_decay_schedule: (a, { dtype }) => S.cosineDecaySchedule({ initValue: a.init_value, decaySteps: a.decay_steps, alpha: a.alpha, exponent: a.exponent, dtype }),
  warmup_cosine_decay_schedule: (a, { dtype }) => S.warmupCosineDecaySchedule({ ...warmupCosineArgs(a), dtype }),
  warmup_exponential_decay_schedule: (a, { dtype }) => S.warmupExponentialDecaySchedule({ initValue: a.init_value, peakValue: a.peak_value, warmupSteps: a.warmup_steps, transitionSteps: a.transition_steps, decayRate: a.decay_rate, transitionBegin: a.transition_begin, staircase: a.staircase, endValue: a.end_value, dtype }),
  warmup_constant_schedule: (a, { dtype }) => S.warmupConstantSchedule({ initValue: a.init_value, peakValue: a.peak_value, warmupSteps: a.warmup_steps, dtype }),
  piecewise_constant_schedule: (a, { dtype }) => S.piecewiseConstantSchedule({ initValue: a.init_value, boundariesAndScales: a.boundaries_and_scales, dtype }),
  piecewise_interpolate_schedule: (a, { dtype }) => S.piecewiseInterpolateSchedule({ interpolateType: a.interpolate_type, initValue: a.init_value, boundariesAndScales: a.boundaries_and_scales, dtype }),
  join_schedules: (a, ctx) => S.joinSchedules({ schedules: (a.schedules as Spec[]).map((s) => buildSchedule(s, ctx)), boundaries: a.boundaries }),
  cosine_onecycle_schedule: (a, { dtype }) => S.cosineOnecycleSchedule({ transitionSteps: a.transition_steps, peakValue: a.peak_value, pctStart: a.pct_start, divFactor: a.div_factor, finalDivFactor: a.final_div_factor, dtype }),
  linear_onecycle_schedule: (a, { dtype }) => S.linearOnecycleSchedule({ transitionSteps: a.transition_steps, peakValue: a.peak_value, pctStart: a.pct_start, pctFinal: a.pct_final, divFactor: a.div_factor, finalDivFactor: a.final_div_factor, dtype }),
  sgdr_schedule: (a, { dtype }) => S.sgdrSchedule({ cosineKwargs: (a.cosine_kwargs as Args[]).map(warmupCosineArgs), dtype }),
};

function warmupCosineArgs(a: Args) {
  return { initValue: a.init_value, peakValue: a.peak_value, warmupSteps: a.warmup_steps, decaySteps: a.decay_steps, endValue: a.end_value, exponent: a.exponent };
}

/** Transformation builders, by optax name. */
export const TRANSFORMS: Readonly<Record<string, (a: Args, ctx: BuildContext) => GradientTransformation<any>>> = {
  adamax: (a, ctx) => adamax(scalarOrSchedule(a.learning_rate, ctx), { b1: a.b1, b2: a.b2, eps: a.eps }),
  scale_by_adamax: (a) => scaleByAdamax({ b1: a.b1, b2: a.b2, eps: a.eps }),
  chain: (a, ctx) => chain(...(a.transforms as Spec[]).map((s) => buildTransform(s, ctx))),
  scale: (a) => scale(a.step_size),
  scale_by_learning_rate: (a, ctx) => scaleByLearningRate(scalarOrSchedule(a.learning_rate, ctx), { flipSign: a.flip_sign }),
  scale_by_schedule: (a, ctx) => scaleBySchedule(scalarOrSchedule(a.step_size_fn, ctx) as Schedule),
  set_to_zero: () => setToZero(),
  identity: () => identity(),
  adamaxw: (a, ctx) => adamaxw(scalarOrSchedule(a.learning_rate, ctx), { b1: a.b1, b2: a.b2, eps: a.eps, weightDecay: scalarOrSchedule(a.weight_decay, ctx), mask: a.mask }),
  add_decayed_weights: (a, ctx) => addDecayedWeights(scalarOrSchedule(a.weight_decay, ctx), { mask: a.mask }),
  clip: (a) => clip(a.max_delta),
  clip_by_global_norm: (a) => clipByGlobalNorm(a.max_norm),
  apply_if_finite: (a, ctx) => applyIfFinite(buildTransform(a.inner, ctx), { maxConsecutiveErrors: a.max_consecutive_errors }),
  MultiSteps: (a, ctx) => multiSteps(buildTransform(a.opt, ctx), { everyKSchedule: scalarOrSchedule(a.every_k_schedule, ctx), useGradMean: a.use_grad_mean }),
  masked: (a, ctx) => masked(buildTransform(a.inner, ctx), a.mask),
  partition: (a, ctx) => buildPartition(a, ctx),
  multi_transform: (a, ctx) => buildPartition(a, ctx),
  ema: (a) => ema(a.decay, { debias: a.debias, accumulatorDtype: a.accumulator_dtype }),
  inject_hyperparams: (a, ctx) => injectHyperparams(INJECTABLE[a.inner as string])(Object.fromEntries(Object.entries(a.hyperparams as Args).map(([k, v]) => [k, scalarOrSchedule(v, ctx)]))),
};

/** The optimizer factories `inject_hyperparams` specs may name, by optax name. */
const INJECTABLE: Record<string, (...args: any[]) => GradientTransformation<any>> = { adamax, adamaxw, scale_by_adamax: scaleByAdamax };

function buildPartition(a: Args, ctx: BuildContext): GradientTransformation<any> {
  const transforms = Object.fromEntries(Object.entries(a.transforms as Record<string, Spec>).map(([k, s]) => [k, buildTransform(s, ctx)]));
  return partition(transforms, a.param_labels);
}

function decodeArgs(spec: Spec): Args {
  return Object.fromEntries(Object.entries(spec.args ?? {}).map(([k, v]) => [k, decodeTree(v)]));
}

/** Builds a schedule from its spec. */
export function buildSchedule(spec: Spec, ctx: BuildContext): Schedule {
  const build = SCHEDULES[spec.name];
  if (!build) throw new NotAvailableError(`schedule '${spec.name}' is not available in optax-ts`);
  return build(decodeArgs(spec), ctx);
}

/** Builds a transformation from its spec. */
export function buildTransform(spec: Spec, ctx: BuildContext): GradientTransformation<any> {
  const build = TRANSFORMS[spec.name];
  if (!build) throw new NotAvailableError(`transformation '${spec.name}' is not available in optax-ts`);
  return build(decodeArgs(spec), ctx);
}

/** `torch.optim.Adamax`'s arguments, as the torch vectors record them. */
export interface TorchAdamaxArgs {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weight_decay?: number;
  maximize?: boolean;
}

/**
 * The optax-ts chain that reproduces `torch.optim.Adamax(params, lr, betas, eps, weight_decay,
 * maximize)`: torch negates the gradient for `maximize`, then adds L2 weight decay to the gradient
 * (`g + wd * p`, before the moments — unlike adamaxw's decoupled decay), then runs Adamax.
 * `adamaxIndex` is where scaleByAdamax's state (torch's exp_avg / exp_inf / step) sits in the chain state.
 */
export function torchAdamaxChain(a: TorchAdamaxArgs): { tx: GradientTransformation<any[]>; adamaxIndex: number } {
  const [b1, b2] = a.betas ?? [0.9, 0.999];
  const tx = chain(
    a.maximize ? scale(-1) : identity(),
    addDecayedWeights(a.weight_decay ?? 0),
    scaleByAdamax({ b1, b2, eps: a.eps ?? 1e-8 }),
    scaleByLearningRate(a.lr ?? 0.002),
  );
  return { tx, adamaxIndex: 2 };
}

/** Optimizers whose flax-serialized states the vectors hold (`flax_msgpack_state` cases), by name. */
export const FLAX_OPTIMIZERS: Readonly<Record<string, () => GradientTransformation<any>>> = {
  adamax: () => adamax(0.01),
  inject_adamax: () => injectHyperparams(adamax)({ learning_rate: 0.01 }),
};

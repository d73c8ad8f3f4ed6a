import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import type { GradientTransformation } from '../core/transformation.js';
import { adamax } from '../alias/adamax.js';
import { chain } from '../transforms/chain.js';
import { identity } from '../transforms/identity.js';
import { scale } from '../transforms/scale.js';
import { scaleByAdamax } from '../transforms/scale-by-adamax.js';
import { scaleByLearningRate } from '../transforms/scale-by-learning-rate.js';
import { addDecayedWeights } from '../transforms/add-decayed-weights.js';
import { injectHyperparams } from '../transforms/inject-hyperparams.js';
import { type Spec, fromSpec, scheduleFromSpec } from '../spec/spec.js';

/** What a builder gets: the file's dtype mode. */
export interface BuildContext {
  /** `float32` for JAX's default mode, `float64` under x64: schedules compute in it. */
  readonly dtype: Dtype;
}

/** Builds a schedule from its spec (with the library's one table: see src/spec). */
export function buildSchedule(spec: Spec, ctx: BuildContext): Schedule {
  return scheduleFromSpec(spec, ctx);
}

/** Builds a transformation from its spec (with the library's one table: see src/spec). */
export function buildTransform(spec: Spec, ctx: BuildContext): GradientTransformation<any> {
  return fromSpec(spec, ctx);
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

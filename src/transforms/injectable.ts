import type { GradientTransformation } from '../core/transformation.js';
import { adamax } from '../alias/adamax.js';
import { adamaxw } from '../alias/adamaxw.js';
import { ShapedArray, isArrayLeaf } from '../tree/leaf.js';
import { addDecayedWeights } from './add-decayed-weights.js';
import { clip } from './clip.js';
import { clipByGlobalNorm } from './clip-by-global-norm.js';
import { ema } from './ema.js';
import { scale } from './scale.js';
import { scaleByAdamax } from './scale-by-adamax.js';
import { scaleByLearningRate } from './scale-by-learning-rate.js';

/**
 * What `injectHyperparams` needs to know about a factory, which Python reads from its signature:
 * the names of its arguments (optax's snake_case ones, and ours), their order and defaults.
 */

/** One argument of an injectable factory. */
export interface InjectableParam {
  /** optax's keyword, used as the key in `InjectHyperparamsState.hyperparams`, e.g. `learning_rate`. */
  readonly name: string;
  /** Our name for it, e.g. `learningRate`. */
  readonly option: string;
  /** Passed positionally (before the options object), e.g. `adamax`'s learning rate. */
  readonly positional?: boolean;
  /** The default; an argument without one is required. */
  readonly default?: unknown;
  /**
   * Never a hyperparameter (optax's `static_args`): flags, masks, dtypes. Marked here for masks,
   * which may be functions that optax would otherwise mistake for schedules.
   */
  readonly static?: boolean;
}

/** How to inject hyperparameters into a factory: its arguments and how to call it with them. */
export interface InjectableSignature {
  /** The factory's optax name, for messages. */
  readonly name: string;
  readonly params: readonly InjectableParam[];
  /** Calls the factory with every argument, by `option` name. */
  build(args: Readonly<Record<string, any>>): GradientTransformation<any>;
}

/** A factory of transformations, as `injectHyperparams` takes it (any arguments). */
export type TransformationFactory = (...args: never[]) => GradientTransformation<any>;

const registry = new Map<TransformationFactory, InjectableSignature>();

/**
 * Makes `factory` usable with `injectHyperparams(factory)`: describes its arguments (which Python
 * would read from the function's signature). optax-ts registers its own factories (adamax, adamaxw,
 * scaleByAdamax, scale, scaleByLearningRate, addDecayedWeights, clip, clipByGlobalNorm, ema).
 *
 * @example
 * ```ts
 * import { registerInjectable, injectHyperparams, scale } from 'optax-ts';
 * const halve = (factor: number) => scale(factor / 2);
 * registerInjectable(halve, { name: 'halve', params: [{ name: 'factor', option: 'factor', positional: true }], build: (a) => halve(a.factor) });
 * const tx = injectHyperparams(halve)(3);
 * console.log(tx.init({ w: new Float32Array(1) }).hyperparams); // { factor: 3 }
 * ```
 */
export function registerInjectable(factory: TransformationFactory, signature: InjectableSignature): void {
  registry.set(factory, signature);
}

/** The signature registered for `factory`, if any. */
export function injectableSignature(factory: TransformationFactory): InjectableSignature | undefined {
  return registry.get(factory);
}

/**
 * A value as optax's inner factory receives it from inject_hyperparams: a (strongly typed) 0-d
 * array. Only where the factory tells a Python float from an array apart does it matter
 * (add_decayed_weights skips `g + 0 * p` for a float 0 only).
 */
const asArray = (v: unknown): unknown => (typeof v === 'number' ? new ShapedArray(new Float64Array([v]), []) : v);

const lr: InjectableParam = { name: 'learning_rate', option: 'learningRate', positional: true };
const adamaxParams: InjectableParam[] = [
  { name: 'b1', option: 'b1', default: 0.9 },
  { name: 'b2', option: 'b2', default: 0.999 },
  { name: 'eps', option: 'eps', default: 1e-8 },
];
const mask: InjectableParam = { name: 'mask', option: 'mask', default: null, static: true };

registerInjectable(adamax, {
  name: 'adamax',
  params: [lr, ...adamaxParams],
  build: (a) => adamax(a.learningRate, { b1: a.b1, b2: a.b2, eps: a.eps }),
});
registerInjectable(adamaxw, {
  name: 'adamaxw',
  params: [lr, ...adamaxParams, { name: 'weight_decay', option: 'weightDecay', default: 1e-4 }, mask],
  build: (a) => adamaxw(a.learningRate, { b1: a.b1, b2: a.b2, eps: a.eps, weightDecay: asArray(a.weightDecay) as any, mask: a.mask }),
});
registerInjectable(scaleByAdamax, {
  name: 'scale_by_adamax',
  params: adamaxParams,
  build: (a) => scaleByAdamax({ b1: a.b1, b2: a.b2, eps: a.eps }),
});
registerInjectable(scale, {
  name: 'scale',
  params: [{ name: 'step_size', option: 'stepSize', positional: true }],
  build: (a) => scale(a.stepSize),
});
registerInjectable(scaleByLearningRate, {
  name: 'scale_by_learning_rate',
  params: [lr, { name: 'flip_sign', option: 'flipSign', default: true, static: true }],
  build: (a) => scaleByLearningRate(a.learningRate, { flipSign: a.flipSign }),
});
registerInjectable(addDecayedWeights, {
  name: 'add_decayed_weights',
  params: [{ name: 'weight_decay', option: 'weightDecay', positional: true, default: 0 }, mask],
  build: (a) => addDecayedWeights(asArray(a.weightDecay) as any, { mask: a.mask }),
});
registerInjectable(clip, {
  name: 'clip',
  params: [{ name: 'max_delta', option: 'maxDelta', positional: true }],
  build: (a) => clip(a.maxDelta),
});
registerInjectable(clipByGlobalNorm, {
  name: 'clip_by_global_norm',
  params: [{ name: 'max_norm', option: 'maxNorm', positional: true }],
  build: (a) => clipByGlobalNorm(a.maxNorm),
});
registerInjectable(ema, {
  name: 'ema',
  params: [
    { name: 'decay', option: 'decay', positional: true },
    { name: 'debias', option: 'debias', default: true, static: true },
    { name: 'accumulator_dtype', option: 'accumulatorDtype', default: null, static: true },
  ],
  build: (a) => ema(a.decay, { debias: a.debias, accumulatorDtype: a.accumulatorDtype }),
});

/** True for a value that is numeric (a number or an array leaf), i.e. an injectable hyperparameter. */
export function isNumericHyperparam(v: unknown): boolean {
  return typeof v === 'number' || isArrayLeaf(v);
}

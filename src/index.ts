/**
 * optax-ts: optax's Adamax and the optax machinery around it, bit-exact to optax.
 * @packageDocumentation
 */
export * from './tree/index.js';
export * from './schedules/index.js';
export { type Dtype, type FloatArray, roundTo } from './core/dtype.js';
export { OptaxError } from './core/errors.js';
export { setWarningHandler, type WarningHandler, type OptaxWarning } from './core/warnings.js';
export { safeIncrement, INT32_MAX } from './core/numerics.js';
export type { Schedule, ScalarOrSchedule } from './core/schedule.js';
export type { GradientTransformation, ExtraArgs, EmptyState, CombinatorInfo } from './core/transformation.js';
export type { Hyperparam } from './core/hyperparams.js';

export { ex, type Expr, type Kernel, type UnaryOp, type BinaryOp } from './kernel/expr.js';
export { withFlushedSubnormals } from './kernel/interpret.js';
export { dividesByScalar, reciprocalForTree } from './kernel/scalar-division.js';
export { powInt } from './core/pow.js';
export { cosf } from './core/libm/cosf.js';
export { powf } from './core/libm/powf.js';
export { pow } from './core/libm/pow.js';
export { cos } from './core/libm/cos.js';
export { biasCorrection } from './core/bias-correction.js';
export { elementwise, type ElementwiseDefinition, type KernelScalar, type ScalarSink } from './kernel/elementwise.js';

export { scaleByAdamax, type ScaleByAdamaxState, type ScaleByAdamaxOptions } from './transforms/scale-by-adamax.js';
export { scale } from './transforms/scale.js';
export { scaleBySchedule, type ScaleByScheduleState, type ScaleByScheduleOptions } from './transforms/scale-by-schedule.js';
export { scaleByLearningRate, type ScaleByLearningRateOptions } from './transforms/scale-by-learning-rate.js';
export { identity } from './transforms/identity.js';
export { setToZero } from './transforms/set-to-zero.js';
export { chain, type ChainState } from './transforms/chain.js';
export { applyUpdates } from './transforms/apply-updates.js';
export { adamax, type AdamaxState } from './alias/adamax.js';
export { toFlaxStateDict, fromFlaxStateDict, StateDictArray, type StateDict } from './interop/flax-state-dict.js';
export { MAX_CHECKPOINT_DEPTH } from './checkpoint/limits.js';
export { toFlaxBytes, fromFlaxBytes, encodeFlaxStateDict, decodeFlaxStateDict } from './interop/flax-msgpack.js';
export { adamaxw, type AdamaxwOptions, type AdamaxwState } from './alias/adamaxw.js';
export { addDecayedWeights, type AddDecayedWeightsOptions, type AddDecayedWeightsState, type WeightDecayScheduleState } from './transforms/add-decayed-weights.js';
export { clip } from './transforms/clip.js';
export { xlaReduceSum, xlaReduceWindows, valueTerms, XLA_REDUCE_WINDOW, XLA_ROW_LANES, laneRowSum, type SumTerms, type ReduceWindowLevel } from './core/xla-reduce-sum.js';
export { clipByGlobalNorm, globalNorm, sumOfSquares, leafSumOfSquares, clipByGlobalNormScalars, type GlobalNorm, type GlobalNormReduction, type ClipByGlobalNormTransformation } from './transforms/clip-by-global-norm.js';
export { applyIfFinite, type ApplyIfFiniteState, type ApplyIfFiniteOptions } from './transforms/apply-if-finite.js';
export { MultiSteps, multiSteps, type MultiStepsState, type MultiStepsOptions, type ShouldSkipUpdateFunction } from './transforms/multi-steps.js';
export { skipNotFinite, skipLargeUpdates, type SkipRule, type SkipFunction, type SkipNotFiniteState, type SkipLargeUpdatesState } from './transforms/skip-updates.js';
export { masked, type MaskedState, type Mask, type MaskTree } from './transforms/masked.js';
export { partition, multiTransform, type PartitionState, type LabelTree, type ParamLabels } from './transforms/partition.js';
export { ema, type EmaState, type EmaOptions } from './transforms/ema.js';
export { injectHyperparams, setHyperparams, type Injected, type InjectedArgs, type StateOf, type InjectHyperparamsState, type InjectHyperparamsOptions, type WrappedScheduleState } from './transforms/inject-hyperparams.js';
export { registerInjectable, type InjectableSignature, type InjectableParam, type TransformationFactory } from './transforms/injectable.js';
export { compile, type CompileOptions, type SubnormalMode, type Stepper, type StepperBackend, type KernelBackend, registerThreadPlatform, type ThreadPlatform, type ThreadHandle } from './engine/index.js';
export { wasmSimdSupported, sharedMemorySupported } from './engine/wasm/support.js';
export { toSpec, fromSpec, scheduleFromSpec, type Spec, type FromSpecOptions } from './spec/spec.js';
export { toSafetensors, fromSafetensors, safetensorsMetadata, SAFETENSORS_FORMAT, type Checkpoint, type ToSafetensorsOptions } from './checkpoint/safetensors.js';
export { tensorName } from './checkpoint/tensor-names.js';

/**
 * optax's schedules (`optax.schedules`), bit-exact to optax 0.2.8: each returns, for an int32 step
 * count, the value optax computes, in the dtype optax computes it in (see each factory).
 */
export { type ConstantScheduleOptions, constantSchedule } from './constant.js';
export { type CosineDecayScheduleOptions, cosineDecaySchedule } from './cosine-decay.js';
export { type CosineOnecycleScheduleOptions, cosineOnecycleSchedule } from './cosine-onecycle.js';
export { type ExponentialDecayOptions, exponentialDecay } from './exponential-decay.js';
export { type JoinSchedulesOptions, joinSchedules } from './join.js';
export { type LinearScheduleOptions, linearSchedule } from './linear.js';
export { type LinearOnecycleScheduleOptions, linearOnecycleSchedule } from './linear-onecycle.js';
export { type PiecewiseConstantScheduleOptions, piecewiseConstantSchedule } from './piecewise-constant.js';
export { type PiecewiseInterpolateScheduleOptions, piecewiseInterpolateSchedule } from './piecewise-interpolate.js';
export { type PolynomialScheduleOptions, polynomialSchedule } from './polynomial.js';
export { type SgdrScheduleOptions, sgdrSchedule } from './sgdr.js';
export { type WarmupConstantScheduleOptions, warmupConstantSchedule } from './warmup-constant.js';
export { type WarmupCosineDecayScheduleOptions, warmupCosineDecaySchedule } from './warmup-cosine-decay.js';
export { type WarmupExponentialDecayScheduleOptions, warmupExponentialDecaySchedule } from './warmup-exponential-decay.js';
export type { BoundariesAndScales } from './boundaries.js';

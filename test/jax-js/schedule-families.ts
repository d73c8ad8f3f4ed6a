/**
 * One optax-ts schedule of each family, with parameters that make every phase reachable: the fixtures
 * of test/jax-js/schedule.test.ts and bench/jaxjs-schedules.ts (in-graph evaluation against the pure
 * path).
 */
import {
  constantSchedule, cosineDecaySchedule, cosineOnecycleSchedule, exponentialDecay, joinSchedules, linearOnecycleSchedule,
  linearSchedule, piecewiseConstantSchedule, piecewiseInterpolateSchedule, polynomialSchedule, sgdrSchedule, warmupConstantSchedule,
  warmupCosineDecaySchedule, warmupExponentialDecaySchedule, type Schedule,
} from '../../src/index.js';

export const SCHEDULES: Record<string, Schedule> = {
  constant: constantSchedule({ value: 0.3 }),
  linear: linearSchedule({ initValue: 0.1, endValue: 0.001, transitionSteps: 1000, transitionBegin: 50 }),
  polynomial: polynomialSchedule({ initValue: 1, endValue: 0.01, power: 2, transitionSteps: 1500 }),
  // A non-integer power: powf with a base (1 - count/steps) that changes with the step.
  polynomialFractional: polynomialSchedule({ initValue: 1, endValue: 0.01, power: 2.5, transitionSteps: 100_000 }),
  polynomialSqrt: polynomialSchedule({ initValue: 0.3, endValue: 0.001, power: 0.5, transitionSteps: 3000, transitionBegin: 10 }),
  polynomialCubic: polynomialSchedule({ initValue: 0.5, endValue: 0.02, power: 3, transitionSteps: 700, transitionBegin: 9 }),
  exponential: exponentialDecay({ initValue: 0.1, transitionSteps: 37, decayRate: 0.93 }),
  exponentialStaircase: exponentialDecay({ initValue: 0.1, transitionSteps: 100, decayRate: 0.5, staircase: true, transitionBegin: 20 }),
  exponentialFloor: exponentialDecay({ initValue: 0.2, transitionSteps: 10, decayRate: 0.9, endValue: 0.001 }),
  exponentialGrowth: exponentialDecay({ initValue: 0.001, transitionSteps: 300, decayRate: 1.7, endValue: 0.5 }),
  cosine: cosineDecaySchedule({ initValue: 0.05, decaySteps: 2000, alpha: 0.01 }),
  cosineExponent: cosineDecaySchedule({ initValue: 0.05, decaySteps: 90_000, alpha: 0.01, exponent: 1.7 }),
  warmupCosineExponent: warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 100, decaySteps: 2500, endValue: 0.001, exponent: 0.6 }),
  warmupCosine: warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 100, decaySteps: 2500, endValue: 0.001 }),
  warmupExponential: warmupExponentialDecaySchedule({ initValue: 0, peakValue: 0.1, warmupSteps: 30, transitionSteps: 40, decayRate: 0.8, endValue: 1e-4 }),
  warmupConstant: warmupConstantSchedule({ initValue: 0, peakValue: 0.1, warmupSteps: 77 }),
  piecewiseConstant: piecewiseConstantSchedule({ initValue: 0.1, boundariesAndScales: { 300: 0.5, 900: 0.1, 2000: 0.3 } }),
  piecewiseLinear: piecewiseInterpolateSchedule({ interpolateType: 'linear', initValue: 0.1, boundariesAndScales: { 100: 2, 700: 0.1, 1600: 0.5 } }),
  piecewiseCosine: piecewiseInterpolateSchedule({ interpolateType: 'cosine', initValue: 0.1, boundariesAndScales: { 100: 2, 700: 0.1, 1600: 0.5 } }),
  linearOnecycle: linearOnecycleSchedule({ transitionSteps: 2400, peakValue: 0.1 }),
  cosineOnecycle: cosineOnecycleSchedule({ transitionSteps: 2400, peakValue: 0.1 }),
  sgdr: sgdrSchedule({ cosineKwargs: [{ initValue: 0, peakValue: 0.1, warmupSteps: 50, decaySteps: 600 }, { initValue: 0.01, peakValue: 0.05, warmupSteps: 20, decaySteps: 900, endValue: 0.002 }] }),
  join: joinSchedules({ schedules: [constantSchedule({ value: 0.01 }), linearSchedule({ initValue: 0.1, endValue: 0, transitionSteps: 500 }), exponentialDecay({ initValue: 0.05, transitionSteps: 10, decayRate: 0.99 })], boundaries: [100, 800] }),
  piecewiseConstantX64: piecewiseConstantSchedule({ initValue: 0.1, boundariesAndScales: { 300: 0.5, 900: 0.1 }, dtype: 'float64' }),
};


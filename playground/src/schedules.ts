/**
 * Every learning-rate schedule optax-ts has, described as data: a label, its fields with defaults,
 * and how to build it. The optimizer cards render their forms from these descriptions, and the URL
 * stores the field values, so adding a schedule here is all it takes to offer it.
 */
import {
  type BoundariesAndScales, type Schedule, constantSchedule, cosineDecaySchedule, cosineOnecycleSchedule, exponentialDecay, joinSchedules,
  linearOnecycleSchedule, linearSchedule, piecewiseConstantSchedule, piecewiseInterpolateSchedule, polynomialSchedule, sgdrSchedule,
  warmupConstantSchedule, warmupCosineDecaySchedule, warmupExponentialDecaySchedule,
} from '../../src/index.js';

export type FieldValue = number | boolean | string;

/** One input of a form: a number (`int` when it must be an integer), a checkbox, a choice or free text. */
export type Field =
  | { readonly name: string; readonly label: string; readonly type: 'number' | 'int'; readonly value: number; readonly min?: number; readonly max?: number; readonly step?: number }
  | { readonly name: string; readonly label: string; readonly type: 'bool'; readonly value: boolean }
  | { readonly name: string; readonly label: string; readonly type: 'choice'; readonly value: string; readonly options: readonly string[] }
  | { readonly name: string; readonly label: string; readonly type: 'text'; readonly value: string; readonly hint: string };

export type Values = Readonly<Record<string, FieldValue>>;

export interface ScheduleSpec {
  readonly label: string;
  readonly fields: readonly Field[];
  /** The learning rate: a plain number (no schedule) or an optax-ts schedule. Throws OptaxError on bad values. */
  make(v: Values): number | Schedule;
}

const num = (name: string, label: string, value: number, extra: { min?: number; max?: number; step?: number } = {}): Field => ({ name, label, type: 'number', value, ...extra });
const int = (name: string, label: string, value: number, min = 0): Field => ({ name, label, type: 'int', value, min, step: 1 });
const bool = (name: string, label: string, value: boolean): Field => ({ name, label, type: 'bool', value });
const n = (v: Values, k: string): number => v[k] as number;

/** "100: 0.5, 200: 0.1" -> { 100: 0.5, 200: 0.1 }; the schedule itself validates the numbers. */
export function parseBoundariesText(text: string): BoundariesAndScales {
  const out = new Map<number, number>();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(-?\d+)\s*:\s*(\S+)$/.exec(part);
    if (!m) throw new Error(`boundaries: expected "step: scale", got "${part}"`);
    out.set(Number(m[1]), Number(m[2]));
  }
  return out;
}

const boundaries: Field = { name: 'boundaries', label: 'step: scale, …', type: 'text', value: '100: 0.5, 200: 0.2', hint: 'e.g. 100: 0.5, 200: 0.2' };

export const SCHEDULES: Readonly<Record<string, ScheduleSpec>> = {
  number: { label: 'a number', fields: [num('value', 'learning rate', 0.1, { min: 0, step: 0.01 })], make: (v) => n(v, 'value') },
  constant: { label: 'constant_schedule', fields: [num('value', 'value', 0.1, { step: 0.01 })], make: (v) => constantSchedule({ value: n(v, 'value') }) },
  linear: {
    label: 'linear_schedule',
    fields: [num('initValue', 'init', 0.3, { step: 0.01 }), num('endValue', 'end', 0.01, { step: 0.01 }), int('transitionSteps', 'transition steps', 150), int('transitionBegin', 'begin', 0)],
    make: (v) => linearSchedule({ initValue: n(v, 'initValue'), endValue: n(v, 'endValue'), transitionSteps: n(v, 'transitionSteps'), transitionBegin: n(v, 'transitionBegin') }),
  },
  polynomial: {
    label: 'polynomial_schedule',
    fields: [num('initValue', 'init', 0.3, { step: 0.01 }), num('endValue', 'end', 0.01, { step: 0.01 }), num('power', 'power', 2, { step: 0.5 }), int('transitionSteps', 'transition steps', 150), int('transitionBegin', 'begin', 0)],
    make: (v) => polynomialSchedule({ initValue: n(v, 'initValue'), endValue: n(v, 'endValue'), power: n(v, 'power'), transitionSteps: n(v, 'transitionSteps'), transitionBegin: n(v, 'transitionBegin') }),
  },
  exponential: {
    label: 'exponential_decay',
    fields: [num('initValue', 'init', 0.3, { step: 0.01 }), int('transitionSteps', 'transition steps', 20, 1), num('decayRate', 'decay rate', 0.7, { step: 0.05 }), int('transitionBegin', 'begin', 0), bool('staircase', 'staircase', false)],
    make: (v) => exponentialDecay({ initValue: n(v, 'initValue'), transitionSteps: n(v, 'transitionSteps'), decayRate: n(v, 'decayRate'), transitionBegin: n(v, 'transitionBegin'), staircase: v.staircase as boolean }),
  },
  cosine: {
    label: 'cosine_decay_schedule',
    fields: [num('initValue', 'init', 0.3, { step: 0.01 }), int('decaySteps', 'decay steps', 200, 1), num('alpha', 'alpha', 0, { step: 0.05 }), num('exponent', 'exponent', 1, { step: 0.5 })],
    make: (v) => cosineDecaySchedule({ initValue: n(v, 'initValue'), decaySteps: n(v, 'decaySteps'), alpha: n(v, 'alpha'), exponent: n(v, 'exponent') }),
  },
  warmupConstant: {
    label: 'warmup_constant_schedule',
    fields: [num('initValue', 'init', 0, { step: 0.01 }), num('peakValue', 'peak', 0.2, { step: 0.01 }), int('warmupSteps', 'warmup steps', 30)],
    make: (v) => warmupConstantSchedule({ initValue: n(v, 'initValue'), peakValue: n(v, 'peakValue'), warmupSteps: n(v, 'warmupSteps') }),
  },
  warmupCosine: {
    label: 'warmup_cosine_decay_schedule',
    fields: [num('initValue', 'init', 0, { step: 0.01 }), num('peakValue', 'peak', 0.3, { step: 0.01 }), int('warmupSteps', 'warmup steps', 30), int('decaySteps', 'decay steps', 250, 1), num('endValue', 'end', 0.001, { step: 0.001 }), num('exponent', 'exponent', 1, { step: 0.5 })],
    make: (v) => warmupCosineDecaySchedule({ initValue: n(v, 'initValue'), peakValue: n(v, 'peakValue'), warmupSteps: n(v, 'warmupSteps'), decaySteps: n(v, 'decaySteps'), endValue: n(v, 'endValue'), exponent: n(v, 'exponent') }),
  },
  warmupExponential: {
    label: 'warmup_exponential_decay_schedule',
    fields: [num('initValue', 'init', 0, { step: 0.01 }), num('peakValue', 'peak', 0.3, { step: 0.01 }), int('warmupSteps', 'warmup steps', 30), int('transitionSteps', 'transition steps', 20, 1), num('decayRate', 'decay rate', 0.7, { step: 0.05 }), int('transitionBegin', 'begin', 0), bool('staircase', 'staircase', false), num('endValue', 'end', 0.001, { step: 0.001 })],
    make: (v) => warmupExponentialDecaySchedule({ initValue: n(v, 'initValue'), peakValue: n(v, 'peakValue'), warmupSteps: n(v, 'warmupSteps'), transitionSteps: n(v, 'transitionSteps'), decayRate: n(v, 'decayRate'), transitionBegin: n(v, 'transitionBegin'), staircase: v.staircase as boolean, endValue: n(v, 'endValue') }),
  },
  piecewiseConstant: {
    label: 'piecewise_constant_schedule',
    fields: [num('initValue', 'init', 0.3, { step: 0.01 }), boundaries],
    make: (v) => piecewiseConstantSchedule({ initValue: n(v, 'initValue'), boundariesAndScales: parseBoundariesText(v.boundaries as string) }),
  },
  piecewiseInterpolate: {
    label: 'piecewise_interpolate_schedule',
    fields: [{ name: 'interpolateType', label: 'interpolation', type: 'choice', value: 'cosine', options: ['linear', 'cosine'] }, num('initValue', 'init', 0.3, { step: 0.01 }), boundaries],
    make: (v) => piecewiseInterpolateSchedule({ interpolateType: v.interpolateType as 'linear' | 'cosine', initValue: n(v, 'initValue'), boundariesAndScales: parseBoundariesText(v.boundaries as string) }),
  },
  linearOnecycle: {
    label: 'linear_onecycle_schedule',
    fields: [int('transitionSteps', 'transition steps', 250, 1), num('peakValue', 'peak', 0.3, { step: 0.01 }), num('pctStart', 'pct start', 0.3, { step: 0.05 }), num('pctFinal', 'pct final', 0.85, { step: 0.05 }), num('divFactor', 'div factor', 25), num('finalDivFactor', 'final div factor', 1e4)],
    make: (v) => linearOnecycleSchedule({ transitionSteps: n(v, 'transitionSteps'), peakValue: n(v, 'peakValue'), pctStart: n(v, 'pctStart'), pctFinal: n(v, 'pctFinal'), divFactor: n(v, 'divFactor'), finalDivFactor: n(v, 'finalDivFactor') }),
  },
  cosineOnecycle: {
    label: 'cosine_onecycle_schedule',
    fields: [int('transitionSteps', 'transition steps', 250, 1), num('peakValue', 'peak', 0.3, { step: 0.01 }), num('pctStart', 'pct start', 0.3, { step: 0.05 }), num('divFactor', 'div factor', 25), num('finalDivFactor', 'final div factor', 1e4)],
    make: (v) => cosineOnecycleSchedule({ transitionSteps: n(v, 'transitionSteps'), peakValue: n(v, 'peakValue'), pctStart: n(v, 'pctStart'), divFactor: n(v, 'divFactor'), finalDivFactor: n(v, 'finalDivFactor') }),
  },
  sgdr: {
    label: 'sgdr_schedule (equal cycles)',
    fields: [int('cycles', 'cycles', 3, 1), num('initValue', 'init', 0, { step: 0.01 }), num('peakValue', 'peak', 0.3, { step: 0.01 }), int('warmupSteps', 'warmup steps', 10), int('decaySteps', 'steps per cycle', 100, 1), num('endValue', 'end', 0.001, { step: 0.001 })],
    make: (v) => {
      const cycles = n(v, 'cycles');
      if (!(cycles >= 1 && cycles <= 50)) throw new Error('sgdr: cycles must be between 1 and 50');
      const cycle = { initValue: n(v, 'initValue'), peakValue: n(v, 'peakValue'), warmupSteps: n(v, 'warmupSteps'), decaySteps: n(v, 'decaySteps'), endValue: n(v, 'endValue') };
      return sgdrSchedule({ cosineKwargs: Array.from({ length: cycles }, () => cycle) });
    },
  },
  join: {
    label: 'join_schedules (linear, then cosine)',
    fields: [num('initValue', 'linear from', 0.01, { step: 0.01 }), num('peakValue', 'linear to', 0.3, { step: 0.01 }), int('boundary', 'boundary step', 40, 1), int('decaySteps', 'cosine decay steps', 200, 1), num('alpha', 'cosine alpha', 0.01, { step: 0.01 })],
    make: (v) => joinSchedules({
      schedules: [
        linearSchedule({ initValue: n(v, 'initValue'), endValue: n(v, 'peakValue'), transitionSteps: n(v, 'boundary') }),
        cosineDecaySchedule({ initValue: n(v, 'peakValue'), decaySteps: n(v, 'decaySteps'), alpha: n(v, 'alpha') }),
      ],
      boundaries: [n(v, 'boundary')],
    }),
  },
};

/** The default values of a schedule's fields. */
export function defaultValues(kind: string): Record<string, FieldValue> {
  return Object.fromEntries(SCHEDULES[kind].fields.map((f) => [f.name, f.value]));
}

import type { Dtype } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { INT32_MAX } from '../core/numerics.js';
import { recordedCall } from '../spec/record.js';
import { type Spec, toSpec } from '../spec/spec.js';
import { type ElementwiseDefinition, type KernelScalar, definitionScalars } from './elementwise.js';

/**
 * The per-step scalars of an elementwise transformation as a table over its step count, for the
 * adapters that keep the count on a device (jax-js, and TensorFlow.js inside `applyIfFinite`, where
 * whether a step counts is known only on the device): each scalar that depends on the count is a
 * column of the exact values the pure path computes (the definition's own scalars at count 0, 1, ...,
 * S), read at `min(count, S)`, where S is a count from which every scalar keeps its final value. So
 * the scalars are bit-identical to the pure path's, transcendentals (`powf` in a bias correction,
 * `cos` in a cosine schedule) included, and the count is never read back.
 * @internal
 */

/**
 * The longest table built (4 MiB of float32 per count-dependent scalar). Adamax's bias correction
 * settles after ~170,000 steps for b1 = 0.9999; a schedule must settle (reach its final value)
 * within this many steps.
 */
export const MAX_TABLE_STEPS = 1 << 20;

/** A definition's scalars over its count: constants, and columns indexed by `min(count, settle)`. */
export interface CountTable {
  readonly constants: Readonly<Record<string, number>>;
  readonly columns: Readonly<Record<string, Float32Array<ArrayBuffer> | Float64Array<ArrayBuffer>>>;
  /** The count from which every scalar keeps its value (the last index of each column). */
  readonly settle: number;
}

/**
 * The table of `definition`'s scalars (`traced`: as inside optax's `lax.cond`). `adapter` names the
 * caller in errors (`toJaxJs`, `toTfjs`), which are OptaxErrors saying what cannot be tabulated.
 */
export function countTable(adapter: string, name: string, definition: ElementwiseDefinition<any>, tx: object, dtype: Dtype, traced = false): CountTable {
  const counted = Object.hasOwn(definition.initControl(), 'count');
  const at = (count: number): Record<string, number> => numbers(adapter, name, definitionScalars(definition, counted ? { count } : {}, dtype, undefined, traced));
  const constants: Record<string, number> = {};
  const columns: Record<string, Float32Array<ArrayBuffer> | Float64Array<ArrayBuffer>> = {};
  if (!counted) return { constants: at(0), columns, settle: 0 };
  const final = at(INT32_MAX);
  const settle = settleCount(adapter, name, definition, tx, at, final);
  const all: Record<string, Float32Array<ArrayBuffer> | Float64Array<ArrayBuffer>> = {};
  for (const k of Object.keys(final)) all[k] = dtype === 'float64' ? new Float64Array(settle + 1) : new Float32Array(settle + 1);
  for (let c = 0; c <= settle; c++) {
    const row = at(c);
    for (const k of Object.keys(final)) all[k][c] = row[k];
  }
  for (const [k, col] of Object.entries(all)) {
    if (!Object.is(col[settle], final[k]) && !(Number.isNaN(col[settle]) && Number.isNaN(final[k]))) {
      throw new OptaxError(`${adapter}: ${name}: its '${k}' at step ${settle} (${col[settle]}) differs from its final value (${final[k]}): it does not settle, so it cannot be tabulated`);
    }
    if (col.every((x) => Object.is(x, col[0]))) constants[k] = col[0];
    else columns[k] = col;
  }
  return { constants, columns, settle };
}

/** The scalars as numbers, or an OptaxError for an array hyperparameter (not tabulated). */
export function numbers(adapter: string, name: string, scalars: Readonly<Record<string, KernelScalar>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(scalars)) {
    if (typeof v !== 'number') throw new OptaxError(`${adapter}: ${name}: hyperparameter '${k}' is an array; the ${adapterName(adapter)} takes number hyperparameters only (not supported yet)`);
    out[k] = v;
  }
  return out;
}

const adapterName = (adapter: string): string => (adapter === 'toJaxJs' ? 'jax-js adapter' : adapter === 'toTfjs' ? 'TensorFlow.js adapter' : adapter);

/**
 * A count from which the scalars keep their final value. Adamax's only count-dependent scalar is its
 * bias correction `1 - b1^t`, which grows towards 1 as `b1^t` shrinks: the first count where it equals
 * its saturated value is where it settles. A schedule's is read from its spec: the end of its last
 * transition (an upper bound; the table is checked against the final value).
 */
function settleCount(adapter: string, name: string, definition: ElementwiseDefinition<any>, tx: object, at: (c: number) => Record<string, number>, final: Record<string, number>): number {
  const who = adapterName(adapter);
  if (definition.name === 'scale_by_adamax') {
    const keys = Object.keys(final);
    for (let c = 0; c <= MAX_TABLE_STEPS; c++) {
      const row = at(c);
      if (keys.every((k) => Object.is(row[k], final[k]))) return c;
    }
    throw new OptaxError(`${adapter}: ${name}: b1 is so close to 1 that the bias correction takes more than ${MAX_TABLE_STEPS} steps to settle; not supported by the ${who}`);
  }
  const schedule = recordedCall(tx)?.args[0];
  if (typeof schedule !== 'function') throw new OptaxError(`${adapter}: ${name}: a count-dependent transformation the ${who} cannot evaluate in the graph (not supported yet)`);
  let spec: Spec;
  try {
    spec = toSpec(schedule as (count: number) => number);
  } catch {
    throw new OptaxError(`${adapter}: ${name}: its schedule is a function optax-ts did not build; the ${who} evaluates only the library's schedules in the graph`);
  }
  const steps = scheduleSettle(spec);
  if (steps === undefined) throw new OptaxError(`${adapter}: ${name}: the schedule ${spec.name} never settles to a final value (or its end is unknown); not supported by the ${who} yet`);
  if (steps > MAX_TABLE_STEPS) throw new OptaxError(`${adapter}: ${name}: the schedule ${spec.name} settles after ${steps} steps, more than the ${MAX_TABLE_STEPS} the ${who} tabulates`);
  return steps;
}

const int = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? Math.max(0, Math.ceil(x)) : 0);

/** An upper bound of the count after which a schedule (as a spec) is constant, or undefined when it never is. */
export function scheduleSettle(spec: Spec): number | undefined {
  const a = (spec.args ?? {}) as Record<string, unknown>;
  const boundaries = (): number => {
    const b = a.boundaries_and_scales;
    if (b === undefined || b === null) return 0;
    if (typeof b !== 'object') return 0;
    return Math.max(0, ...Object.keys(b).map((k) => int(Number(k))));
  };
  switch (spec.name) {
    case 'constant_schedule': return 0;
    case 'linear_schedule':
    case 'polynomial_schedule': return int(a.transition_begin) + int(a.transition_steps);
    case 'cosine_decay_schedule': return int(a.decay_steps);
    case 'warmup_cosine_decay_schedule': return int(a.warmup_steps) + int(a.decay_steps);
    case 'warmup_constant_schedule': return int(a.warmup_steps);
    case 'piecewise_constant_schedule':
    case 'piecewise_interpolate_schedule': return boundaries();
    case 'cosine_onecycle_schedule':
    case 'linear_onecycle_schedule': return int(a.transition_steps);
    case 'sgdr_schedule': {
      const cycles = a.cosine_kwargs as Record<string, unknown>[] | undefined;
      if (!Array.isArray(cycles)) return undefined;
      return cycles.reduce((sum, c) => sum + int(c?.warmup_steps) + int(c?.decay_steps), 0);
    }
    case 'join_schedules': {
      const parts = a.schedules as Spec[] | undefined;
      const bounds = a.boundaries as number[] | undefined;
      if (!Array.isArray(parts) || parts.length === 0) return undefined;
      const tail = scheduleSettle(parts[parts.length - 1]);
      if (tail === undefined) return undefined;
      return (Array.isArray(bounds) && bounds.length > 0 ? int(bounds[bounds.length - 1]) : 0) + tail;
    }
    default: return undefined;
  }
}

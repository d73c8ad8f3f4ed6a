import { numpy as np } from '@jax-js/jax';
import type { Dtype } from '../core/dtype.js';
import type { ElementwiseDefinition } from '../kernel/elementwise.js';
import { MAX_TABLE_STEPS, scheduleSettle } from '../kernel/count-table.js';
import { OptaxError } from '../core/errors.js';
import { INT32_MAX } from '../core/numerics.js';
import { type KernelScalar, definitionScalars } from '../kernel/elementwise.js';
import { recordedCall } from '../spec/record.js';
import { type Spec, toSpec } from '../spec/spec.js';
import type { JaxArray } from './leaf.js';
import { ShapedArray } from '../tree/leaf.js';
import { float64Array } from './constants.js';
import type { JaxValue } from './kernel.js';

/**
 * The per-step scalars of one elementwise transformation, as a function of its int32 count *in the
 * graph*: each scalar that depends on the count is a table of the exact values the pure path computes
 * (`definition.scalars` itself, at count 0, 1, ..., S), read with `take(table, min(count, S))`, where S
 * is a count from which every scalar keeps its final value. So the step never reads the count back to
 * JavaScript, and the scalars are bit-identical to the pure path's, transcendentals (`powf` in the bias
 * correction, `cos` in a cosine schedule) included. Scalars that do not depend on the count are
 * constants of the graph.
 *
 * A number's table is one-dimensional, read with `take(table, index)` straight to a 0-d array:
 * inside `jit` the gather is one kernel, where a view of it (a reshape) that several kernels read
 * would be copied by a kernel of its own.
 */
export class CountScalars {
  private readonly constants: Record<string, HostScalar> = {};
  private readonly tables: Record<string, { table: JaxArray; shape: readonly number[] | null }> = {};
  /** The count from which every scalar keeps its value (the last table index). */
  readonly settle: number;

  /**
   * `only`: tabulate just these scalars (the others are the caller's); default all. `limit`: the
   * longest table built (an OptaxError when the scalars settle later). `traced`: the values optax
   * computes inside `lax.cond` (apply_if_finite, MultiSteps: the pure path's traced ones).
   */
  constructor(name: string, definition: ElementwiseDefinition<any>, tx: object, dtype: Dtype, only?: readonly string[], limit = MAX_TABLE_STEPS, traced = false) {
    const counted = Object.hasOwn(definition.initControl(), 'count');
    const pick = (r: Record<string, HostScalar>): Record<string, HostScalar> => (only ? Object.fromEntries(only.map((k) => [k, r[k]])) : r);
    const at = (count: number): Record<string, HostScalar> => pick(hostScalars(definitionScalars(definition, counted ? { count } : {}, dtype, undefined, traced)));
    if (!counted) {
      this.settle = 0;
      Object.assign(this.constants, at(0));
      return;
    }
    const final = at(INT32_MAX);
    this.settle = settleCount(name, definition, tx, at, final, limit);
    const keys = Object.keys(final);
    const sizes = keys.map((k) => (typeof final[k] === 'number' ? 1 : (final[k] as ShapedArray).data.length));
    const columns: (Float32Array<ArrayBuffer> | Float64Array<ArrayBuffer>)[] = keys.map((_, j) => (dtype === "float64" ? new Float64Array((this.settle + 1) * sizes[j]) : new Float32Array((this.settle + 1) * sizes[j])));
    for (let c = 0; c <= this.settle; c++) {
      const row = at(c);
      keys.forEach((k, j) => {
        const v = row[k];
        if (typeof v === 'number') columns[j][c] = v;
        else columns[j].set(v.data, c * sizes[j]);
      });
    }
    keys.forEach((k, j) => {
      const col = columns[j], n = sizes[j];
      const last = col.subarray(this.settle * n, (this.settle + 1) * n);
      if (!sameValues(last, final[k])) {
        throw new OptaxError(`toJaxJs: ${name}: its '${k}' at step ${this.settle} differs from its final value: it does not settle, so it cannot be tabulated`);
      }
      if (sameRows(col, n)) this.constants[k] = final[k];
      else {
        // A number: one value per count. An array hyperparameter's: a row per count, reshaped.
        const shape = typeof final[k] === 'number' ? null : (final[k] as ShapedArray).shape;
        const dims = shape === null ? [this.settle + 1] : [this.settle + 1, n];
        this.tables[k] = { table: dtype === 'float64' ? float64Array(col, dims) : np.reshape(np.array(col as Float32Array<ArrayBuffer>), dims), shape };
      }
    });
  }

  /** Whether any scalar depends on the count. */
  get dynamic(): boolean {
    return Object.keys(this.tables).length > 0;
  }

  /**
   * The scalars at `count` (an int32 scalar array, consumed; pass `.ref` to keep it). The arrays
   * returned are owned by the caller.
   */
  at(count: JaxArray | null): Record<string, JaxValue> {
    const out: Record<string, JaxValue> = { ...this.constants };
    if (count === null) return out;
    const index = np.minimum(count, this.settle);
    for (const [k, { table, shape }] of Object.entries(this.tables)) {
      const row = np.take(table.ref, index.ref, 0);
      out[k] = shape === null ? row : np.reshape(row, [...shape]);
    }
    index.dispose();
    return out;
  }

  /**
   * `1 / float64(s)` for the tabulated float32 number `name` at `count` (borrowed), or undefined: one
   * gather of the table's reciprocals (inside `jit`, the reciprocal is computed in the gather's kernel,
   * for the one element read).
   */
  reciprocalAt(name: string, count: JaxArray): JaxArray | undefined {
    const t = this.tables[name];
    if (!t || t.shape !== null || t.table.dtype !== 'float32') return undefined;
    return np.take(np.reciprocal(t.table.ref.astype(np.float64)), np.minimum(count.ref, this.settle), 0);
  }

  /** Frees the tables. */
  dispose(): void {
    for (const t of Object.values(this.tables)) t.table.dispose();
  }
}

/** A per-step scalar known on the host: a number, or an array hyperparameter's values (broadcast per leaf). */
export type HostScalar = number | ShapedArray;

/** A definition's scalars as host values (arrays of one element are numbers already: hyperScalar). */
export function hostScalars(scalars: Readonly<Record<string, KernelScalar>>): Record<string, HostScalar> {
  return { ...scalars };
}

function sameValues(a: ArrayLike<number>, b: HostScalar): boolean {
  const bs: ArrayLike<number> = typeof b === 'number' ? [b] : b.data;
  if (a.length !== bs.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], bs[i]) && !(Number.isNaN(a[i]) && Number.isNaN(bs[i]))) return false;
  return true;
}

/** Whether every row of `n` values equals the first. */
function sameRows(col: ArrayLike<number>, n: number): boolean {
  for (let i = n; i < col.length; i++) if (!Object.is(col[i], col[i % n])) return false;
  return true;
}

/**
 * A count from which the scalars keep their final value. Adamax's only count-dependent scalar is its
 * bias correction `1 - b1^t`, which grows towards 1 as `b1^t` shrinks: the first count where it equals
 * its saturated value is where it settles. A schedule's is read from its spec: the end of its last
 * transition (an upper bound; the table is checked against the final value).
 */
function settleCount(name: string, definition: ElementwiseDefinition<any>, tx: object, at: (c: number) => Record<string, HostScalar>, final: Record<string, HostScalar>, limit: number): number {
  if (definition.name === 'scale_by_adamax' || definition.name === 'ema') {
    // A bias correction 1 - decay^t: it settles where it first equals its saturated value.
    const keys = Object.keys(final);
    for (let c = 0; c <= limit; c++) {
      const row = at(c);
      if (keys.every((k) => sameValues(typeof row[k] === 'number' ? [row[k] as number] : (row[k] as ShapedArray).data, final[k]))) return c;
    }
    throw new OptaxError(`toJaxJs: ${name}: the decay is so close to 1 that the bias correction takes more than ${limit} steps to settle; not supported by the jax-js adapter`);
  }
  const schedule = recordedCall(tx)?.args[0];
  if (typeof schedule !== 'function') throw new OptaxError(`toJaxJs: ${name}: a count-dependent transformation the jax-js adapter cannot evaluate in the graph (not supported yet)`);
  let spec: Spec;
  try {
    spec = toSpec(schedule as (count: number) => number);
  } catch {
    throw new OptaxError(`toJaxJs: ${name}: its schedule is a function optax-ts did not build; the jax-js adapter evaluates only the library's schedules in the graph`);
  }
  const steps = scheduleSettle(spec);
  if (steps === undefined) throw new OptaxError(`toJaxJs: ${name}: the schedule ${spec.name} never settles to a final value (or its end is unknown); not supported by the jax-js adapter yet`);
  if (steps > limit) throw new OptaxError(`toJaxJs: ${name}: the schedule ${spec.name} settles after ${steps} steps, more than the ${limit} the jax-js adapter tabulates`);
  return steps;
}

export { MAX_TABLE_STEPS, numbers, scheduleSettle } from '../kernel/count-table.js';

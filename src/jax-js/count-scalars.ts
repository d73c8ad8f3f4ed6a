import { numpy as np } from '@jax-js/jax';
import type { Dtype } from '../core/dtype.js';
import type { ElementwiseDefinition } from '../kernel/elementwise.js';
import { countTable } from '../kernel/count-table.js';
import type { JaxArray } from './leaf.js';
import type { JaxValue } from './kernel.js';

/**
 * The per-step scalars of one elementwise transformation, as a function of its int32 count *in the
 * graph*: each scalar that depends on the count is a table of the exact values the pure path computes
 * (`definition.scalars` itself, at count 0, 1, ..., S), read with `take(table, min(count, S))`, where S
 * is a count from which every scalar keeps its final value. So the step never reads the count back to
 * JavaScript, and the scalars are bit-identical to the pure path's, transcendentals (`powf` in the bias
 * correction, `cos` in a cosine schedule) included. Scalars that do not depend on the count are
 * constants of the graph.
 */
export class CountScalars {
  private readonly constants: Record<string, number> = {};
  private readonly tables: Record<string, JaxArray> = {};
  /** The count from which every scalar keeps its value (the last table index). */
  readonly settle: number;

  constructor(name: string, definition: ElementwiseDefinition<any>, tx: object, dtype: Dtype) {
    const table = countTable('toJaxJs', name, definition, tx, dtype);
    this.settle = table.settle;
    Object.assign(this.constants, table.constants);
    for (const [k, col] of Object.entries(table.columns)) this.tables[k] = np.array(col, { dtype: dtype === 'float64' ? np.float64 : np.float32 });
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
    for (const [k, table] of Object.entries(this.tables)) out[k] = np.take(table.ref, index.ref);
    index.dispose();
    return out;
  }

  /** Frees the tables. */
  dispose(): void {
    for (const t of Object.values(this.tables)) t.dispose();
  }
}

export { MAX_TABLE_STEPS, numbers, scheduleSettle } from '../kernel/count-table.js';

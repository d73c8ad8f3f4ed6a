import type { Dtype } from '../../src/core/dtype.js';
import type { TimingBudget } from '../config.js';
import type { Problem } from '../problem.js';

/** An implementation set up on one problem, ready to take steps. */
export interface Runner {
  /**
   * Takes `steps` adamax steps with the fixed gradients, and returns once their results are really
   * computed (lazy libraries are synchronised here).
   */
  run(steps: number): void | Promise<void>;
  dispose(): void | Promise<void>;
  /** A remark on this cell (e.g. the engine ran fewer threads than asked), shown under the table. */
  readonly note?: string;
}

/** A cell of the table: ns per parameter per step, or why there is no number. */
export type CellResult = { readonly ns: number; readonly steps: number; readonly note?: string } | { readonly na: string };

/** One column of the table. */
export interface Implementation {
  /** Stable id, used by `--only` and in the ratios (e.g. `fused-wasm-1`). */
  readonly id: string;
  /** Column header. */
  readonly label: string;
  /** The dtypes it runs; a row of another dtype shows "—". */
  readonly dtypes: readonly Dtype[];
  /**
   * Prepares the implementation once (load a library, compile a binary); returns `null` when ready,
   * or the reason the column is "n/a".
   */
  prepare(): Promise<string | null>;
  /** Sets up a runner (timed by the harness). Absent when `measure` is given. */
  setup?(problem: Problem): Promise<Runner>;
  /** Measures a cell itself (the C kernel times itself in a subprocess). */
  measure?(problem: Problem, budget: TimingBudget): Promise<CellResult>;
  /** Facts for the notes under the table, known after `prepare` (threads really used, ...). */
  notes?(): string[];
  /** Releases what `prepare` acquired. */
  close?(): void | Promise<void>;
}

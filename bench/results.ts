import type { HeapResult } from './heap.js';
import type { CheckResult } from './check.js';
import type { Machine } from './machine.js';
import type { BenchConfig } from './config.js';
import type { CellResult } from './impls/types.js';
import type { LayoutCostResult } from './layout-cost.js';
import type { VersusCResult } from './interleaved-c.js';
import type { GuardedResult } from './guarded.js';
import type { CombinatorResult } from './combinators.js';
import type { TfjsAdapterRow } from './tfjs-adapter.js';
import type { JaxJsAdapterRow } from './jaxjs-adapter.js';
import type { CompileTimeResult } from './compile-time.js';

/** A cell that was not run because the implementation does not take that dtype. */
export const UNSUPPORTED = { na: '—' } as const;

/** Everything one run measured. */
export interface BenchResults {
  readonly config: BenchConfig;
  readonly machine: Machine;
  /** Column ids and headers, in table order. */
  readonly columns: readonly { id: string; label: string }[];
  /** Row labels, in table order. */
  readonly rows: readonly string[];
  /** cells[row][columnId]. */
  readonly cells: Readonly<Record<string, Readonly<Record<string, CellResult>>>>;
  readonly heap: readonly (HeapResult | { label: string; na: string })[];
  /** The interleaved leaf-layout measurement, per fused backend (or why it is missing). */
  readonly layoutCost: readonly (LayoutCostResult | { label: string; na: string })[];
  /** The fused WASM path against C, in alternation (interleaved-c.ts); undefined when not run. */
  readonly versusC?: readonly (VersusCResult | { layout: string; threads: number; na: string })[];
  /** applyIfFinite(adamax) next to adamax, per fused backend, and on the reference path (guarded.ts). */
  readonly guarded: { readonly fused: readonly GuardedResult[]; readonly reference: number } | { readonly na: string } | undefined;
  /** Each combinator next to plain adamax, per tree and fused backend (combinators.ts). */
  readonly combinators: readonly CombinatorResult[] | { readonly na: string } | undefined;
  /** compile() time of clipByGlobalNorm + adamax next to adamax's on a large tree (compile-time.ts), or why not measured. */
  readonly compileTime?: CompileTimeResult | { readonly na: string };
  /** optax-ts/tfjs against tfjs's own Adamax on the same models (tfjs-adapter.ts), or why not measured. */
  readonly tfjsAdapter?: readonly TfjsAdapterRow[] | { readonly na: string };
  /** optax-ts/jax-js against hand-written jitted adamax steps (jaxjs-adapter.ts), or why not measured. */
  readonly jaxjsAdapter?: readonly JaxJsAdapterRow[] | { readonly na: string };
  readonly checks: readonly CheckResult[];
  readonly notes: readonly string[];
  readonly seconds: number;
  /** Average CPU use of other processes during the run, in cores (undefined off Linux). */
  readonly foreignLoad: number | undefined;
}

/** The ns/param of a cell, or undefined when it has no number. */
export function nsOf(results: BenchResults, row: string, column: string): number | undefined {
  const cell = results.cells[row]?.[column];
  return cell && 'ns' in cell ? cell.ns : undefined;
}

/** The fastest of several columns in a row, with its id. */
export function bestOf(results: BenchResults, row: string, columns: readonly string[]): { id: string; ns: number } | undefined {
  let best: { id: string; ns: number } | undefined;
  for (const id of columns) {
    const ns = nsOf(results, row, id);
    if (ns !== undefined && (!best || ns < best.ns)) best = { id, ns };
  }
  return best;
}

/** Formats ns/param with about three significant digits. */
export function formatNs(ns: number): string {
  if (ns >= 100) return ns.toFixed(0);
  if (ns >= 10) return ns.toFixed(1);
  if (ns >= 1) return ns.toFixed(2);
  return ns.toFixed(3);
}

/** Formats a ratio, e.g. `1.18x`. */
export function formatRatio(r: number): string {
  return r >= 100 ? `${r.toFixed(0)}x` : r >= 10 ? `${r.toFixed(1)}x` : `${r.toFixed(2)}x`;
}

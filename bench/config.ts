import { availableParallelism } from 'node:os';
import type { Dtype } from '../src/core/dtype.js';

/** The adamax step every implementation runs: optax's defaults, lr = 1e-3. */
export const HYPER = { learningRate: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8 } as const;

/** A parameter tree shape: `leaves` leaves of `leafSize` elements each, of one dtype. */
export interface Layout {
  /** Row label in the table, e.g. `1e6` or `2000×500`. */
  readonly label: string;
  readonly leaves: number;
  readonly leafSize: number;
  readonly dtype: Dtype;
}

/** Total number of parameters of a layout. */
export function paramCount(layout: Layout): number {
  return layout.leaves * layout.leafSize;
}

/** How long and how often each cell is timed. */
export interface TimingBudget {
  /** Time spent warming up (after the first, compiling step). */
  readonly warmupSeconds: number;
  /** Total timed seconds aimed at per cell (split over `repeats`). */
  readonly cellSeconds: number;
  /** Repeats per cell; the best (minimum) ns/param is kept, which is robust to a noisy neighbour. */
  readonly repeats: number;
  /**
   * A cell whose steps are slow (TensorFlow.js cpu at 1e7, ...) gets fewer repeats so that it spends at
   * most this many seconds; it still runs at least 2 timed repeats of 1 step.
   */
  readonly maxCellSeconds: number;
  /** Rounds over each row; a cell keeps its best round (noise on a shared machine comes in bursts). */
  readonly rounds: number;
  /** Only cells whose step is faster than this are measured again in later rounds. */
  readonly repeatBelowSeconds: number;
}

/** Everything a run depends on, from the command line. */
export interface BenchConfig {
  readonly quick: boolean;
  /** Write BENCHMARKS.md (full runs only, unless --no-write). */
  readonly write: boolean;
  /** Also write the Markdown report to this file (`--md=FILE`, any run). */
  readonly markdownFile: string | undefined;
  /** Only run the implementations whose id starts with one of these (empty: all). */
  readonly only: readonly string[];
  /** Threads of the "all threads" columns. */
  readonly allThreads: number;
  /** The rows of the main table (float32), then the float64 row. */
  readonly layouts: readonly Layout[];
  readonly float64Layout: Layout;
  /** The rows the targets read: the large one-leaf row (1e7), the medium one (1e6, the one-leaf
   * comparator of the many-leaf row), and the many-leaf row (2000×500, as many params as medium). */
  readonly largeLabel: string;
  readonly mediumLabel: string;
  readonly manyLeavesLabel: string;
  /**
   * The trees of the interleaved layout measurement (layout-cost.ts): as many params in one leaf,
   * two leaves (optax's many-leaf numerics, as many leaves) and many leaves; `seconds` of sampling
   * per fused backend.
   */
  readonly layoutCost: { readonly one: Layout; readonly two: Layout; readonly many: Layout; readonly seconds: number };
  readonly budget: TimingBudget;
  /** Steps per window of the heap-growth measurement (3 windows, after 2 windows' worth of warm-up). */
  readonly heapSteps: number;
  /** The many-leaf tree of the heap measurement of the plain-JS path (fewer params: it is slower). */
  readonly heapJsLayout: Layout;
}

/** Parses `--quick`, `--no-write`, `--only=a,b`, `--md=FILE`. */
export function parseConfig(argv: readonly string[]): BenchConfig {
  const quick = argv.includes('--quick');
  const onlyArg = argv.find((a) => a.startsWith('--only='));
  const only = onlyArg ? onlyArg.slice('--only='.length).split(',').filter((s) => s.length > 0) : [];
  const layout = (label: string, leaves: number, leafSize: number, dtype: Dtype = 'float32'): Layout => ({ label, leaves, leafSize, dtype });
  const markdownFile = argv.find((a) => a.startsWith('--md='))?.slice('--md='.length);
  const common = { quick, only, markdownFile, allThreads: Math.max(1, availableParallelism()) };
  if (quick) {
    return {
      ...common,
      write: false,
      layouts: [layout('1e4', 1, 1e4), layout('1e5', 1, 1e5), layout('200×500', 200, 500)],
      float64Layout: layout('1e5 f64', 1, 1e5, 'float64'),
      largeLabel: '1e5',
      mediumLabel: '1e5',
      manyLeavesLabel: '200×500',
      layoutCost: { one: layout('1e5', 1, 1e5), two: layout('2×5e4', 2, 5e4), many: layout('200×500', 200, 500), seconds: 0.2 },
      budget: { warmupSeconds: 0.005, cellSeconds: 0.02, repeats: 3, maxCellSeconds: 1, rounds: 1, repeatBelowSeconds: 0 },
      heapSteps: 50,
      heapJsLayout: layout('200×50', 200, 50),
    };
  }
  return {
    ...common,
    write: !argv.includes('--no-write') && only.length === 0,
    layouts: [layout('1e5', 1, 1e5), layout('1e6', 1, 1e6), layout('1e7', 1, 1e7), layout('2000×500', 2000, 500)],
    float64Layout: layout('1e6 f64', 1, 1e6, 'float64'),
    largeLabel: '1e7',
    mediumLabel: '1e6',
    manyLeavesLabel: '2000×500',
    layoutCost: { one: layout('1e6', 1, 1e6), two: layout('2×5e5', 2, 5e5), many: layout('2000×500', 2000, 500), seconds: 4 },
    budget: { warmupSeconds: 0.1, cellSeconds: 0.4, repeats: 8, maxCellSeconds: 8, rounds: 3, repeatBelowSeconds: 0.25 },
    heapSteps: 1000,
    heapJsLayout: layout('2000×50', 2000, 50),
  };
}

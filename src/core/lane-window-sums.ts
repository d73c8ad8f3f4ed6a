import type { Dtype } from './dtype.js';
import { XLA_REDUCE_WINDOW, XLA_ROW_LANES } from './xla-reduce-sum.js';

/**
 * The tensor operations {@link laneWindowSums} is built from: what an adapter supplies (tfjs tensors,
 * jax-js arrays) so that the lane order is written once. Each operand is used once, so an instance
 * whose operations consume their operands (jax-js) needs no `.ref`. @internal
 */
export interface LaneWindowOps<T> {
  /** Zeros of shape `[count, 1]`, of the windows' dtype. */
  zeros(count: number): T;
  /** `t` (`[count, 1]`) padded with `n` zeros after its one column. */
  padColumns(t: T, n: number): T;
  reshape(t: T, shape: number[]): T;
  /** `t` split into `n` equal pieces along `axis`, each with that axis squeezed away. */
  split(t: T, axis: number, n: number): T[];
  /** Elementwise `x + y`, rounded once in the dtype. */
  add(x: T, y: T): T;
  /** The two halves of `t` (`[count, 2h]`) along axis 1, `[count, h]` each. */
  halves(t: T): [T, T];
}

/**
 * The window sums of `windows` (`[count, rows, 32]`: each window's rows of 32 positions, padding 0) as
 * `laneRowSum` adds them (xla-reduce-sum.ts), all windows side by side with elementwise additions:
 * row after row, from the previous row's sum in lane 0 of part 0, each part's lanes adding their
 * positions in order (position `j = (k * parts + p) * lanes + l`), the parts added to part 0 in turn,
 * the lanes halved. A zero of the padding stands for a skipped position: with terms that are squares
 * (never -0) the bits are the same. Shape `[count]`. @internal
 */
export function laneWindowSums<T>(o: LaneWindowOps<T>, windows: T, count: number, rows: number, dtype: Dtype): T {
  const { lanes, parts } = XLA_ROW_LANES[dtype], runs = XLA_REDUCE_WINDOW / (lanes * parts);
  let acc = o.zeros(count);
  for (const row of o.split(windows, 1, rows)) {
    // The parts' lanes, [count, parts, lanes]: lane 0 of part 0 starts from the sum so far, the others from 0.
    let part = o.reshape(o.padColumns(acc, parts * lanes - 1), [count, parts, lanes]);
    for (const run of o.split(o.reshape(row, [count, runs, parts, lanes]), 1, runs)) part = o.add(part, run);
    const [first, ...rest] = o.split(part, 1, parts);
    let sums = first;
    for (const p of rest) sums = o.add(p, sums);
    for (let half = lanes / 2; half >= 1; half /= 2) {
      const [low, high] = o.halves(sums);
      sums = o.add(low, high);
    }
    acc = sums;
  }
  return o.reshape(acc, [count]);
}

import type { Dtype } from '../../core/dtype.js';
import { XLA_REDUCE_WINDOW, XLA_ROW_LANES } from '../../core/xla-reduce-sum.js';
import { FLAG_ACCUMULATE, FLAG_LANES, FLAG_SQUARES, HEADER_WORDS } from '../norm-plan.js';
import { MIN_NORMAL } from '../subnormals.js';
import { FUSED_EXPORT } from './fused-module.js';
import { FunctionBuilder, countedLoop } from './function-builder.js';
import { type MemoryImportOptions, assembleModule } from './module.js';
import { type FloatOps, Op, SimdOp, ValType, floatOps } from './opcodes.js';

/** The export of {@link emitNormModule}: the fused kernels' name, which the worker threads call. */
export const NORM_EXPORT = FUSED_EXPORT;

/**
 * Vectors of windows summed side by side: `GROUP * lanes` windows (8 float32, 4 float64), each vector
 * its own chain of additions. Measured (one float32 leaf of 1e6, one thread): 1 and 2 vectors run
 * alike (0.095 ms a pass, near the memory's bandwidth), 4 slower (0.110 ms), 8 slower still (0.128 ms,
 * more vectors than registers).
 */
const GROUP = 2;

/**
 * Emits a module exporting `norm(n: i32, table: i32)`: runs the `n` operations of a norm table
 * (src/engine/norm-plan.ts: the format and what one operation computes) at byte offset `table`, in
 * order, each addition rounded to the dtype; with `flush` (XLA's subnormal mode) a square below the
 * dtype's smallest normal counts as 0.
 *
 * Windows are independent, so lane `j` of a vector accumulator sums window `j` of a batch: for every
 * run of `lanes` consecutive elements of a row, one vector is loaded per window, squared, and the
 * vectors are transposed with shuffles (float32: the 4x4 transpose, 32-bit then 64-bit interleaves;
 * float64: one 64-bit interleave), so that vector `e` holds element `e` of every window; these are
 * added to the accumulator in order `e = 0, 1, ...`. Each lane's chain of additions is exactly its
 * window's in-order chain. The elements of a row past its last whole vector are gathered one per
 * lane and added in the same order; windows past the last whole vector of windows are summed one at
 * a time with scalar additions.
 *
 * Operations with `FLAG_LANES` (rows of a padded window, added as `laneRowSum` adds them:
 * core/xla-reduce-sum.ts) run one window at a time, each row as XLA's vectorized loop runs it: the
 * model's `lanes`-wide parts are held in v128s, window position `j` (a run of v128 lanes at a time)
 * added to its part, the parts added to part 0, then the lanes halved. Positions outside the row
 * (the padding) are -0, the identity, in a vector that straddles the row's edge.
 */
export function emitNormModule(dtype: Dtype, flush: boolean, memory: MemoryImportOptions): Uint8Array<ArrayBuffer> {
  return assembleModule(memory, [normFunction(floatOps(dtype), XLA_ROW_LANES[dtype], flush ? MIN_NORMAL[dtype] : undefined)]);
}

/** Little-endian byte indices of an `i8x16.shuffle` picking lanes of `bytes` bytes (16 + i: the second operand's). */
function laneBytes(lanes: readonly number[], bytes: number): number[] {
  return lanes.flatMap((l) => Array.from({ length: bytes }, (_, b) => l * bytes + b));
}

function normFunction(ops: FloatOps, order: { readonly lanes: number; readonly parts: number }, min: number | undefined): FunctionBuilder {
  const i32 = ValType.i32, v128 = ValType.v128;
  const f = new FunctionBuilder(NORM_EXPORT, [i32, i32], []);
  const N = 0, TABLE = 1;
  const L = ops.lanes, size = ops.bytes, W = GROUP * L;
  const flags = f.local(i32), count = f.local(i32), rows = f.local(i32), rs = f.local(i32), len = f.local(i32), first = f.local(i32);
  const batches = f.local(i32), rowsLeft = f.local(i32), row = f.local(i32), off = f.local(i32), n = f.local(i32);
  const minVector = f.local(v128), x = f.local(ops.valType), s = f.local(ops.valType);
  // The source and destination pointers of the windows of a batch.
  const src = Array.from({ length: W }, () => f.local(i32));
  const dst = Array.from({ length: W }, () => f.local(i32));
  const acc = Array.from({ length: GROUP }, () => f.local(v128));
  const v = Array.from({ length: L }, () => f.local(v128));
  const mixed = Array.from({ length: L }, () => f.local(v128));
  const replaceLane = size === 4 ? SimdOp.f32x4ReplaceLane : SimdOp.f64x2ReplaceLane;
  const constant = (value: number): void => { (size === 4 ? f.f32Const(value) : f.f64Const(value)); };
  if (min !== undefined) { constant(min); f.simd(ops.splat).localSet(minVector); }

  /** Pushes the element at `pointer + offset` (i32 locals). */
  const load = (pointer: number, offset?: number): void => {
    f.localGet(pointer);
    if (offset !== undefined) f.localGet(offset).op(Op.i32Add);
    f.memory(ops.load, ops.alignLog2, 0);
  };
  /** The value on the stack squared, and flushed in subnormal mode: select(0, q, q < min). */
  const squareScalar = (): void => {
    f.localTee(x).localGet(x).op(ops.scalar.mul);
    if (min === undefined) return;
    f.localSet(x);
    constant(0);
    f.localGet(x).localGet(x);
    constant(min);
    f.op(ops.lt).op(Op.select);
  };
  /** The vector on the stack squared lane by lane, and flushed: andnot(q, q < min). */
  const squareVector = (local: number): void => {
    f.localTee(local).localGet(local).simd(ops.vector.mul);
    if (min === undefined) return;
    f.localTee(local).localGet(local).localGet(minVector).simd(ops.vectorLt).simd(SimdOp.v128AndNot);
  };
  /** Pushes a vector whose lane l is the element at `pointers[first + l] + offset`. */
  const gather = (pointers: readonly number[], first: number, offset?: number): void => {
    load(pointers[first], offset);
    f.simd(ops.splat);
    for (let l = 1; l < L; l++) {
      load(pointers[first + l], offset);
      f.simdLane(replaceLane, l);
    }
  };
  /** Reads the pointer pairs of `width` windows from TABLE into src/dst and moves TABLE past them. */
  const readPointers = (width: number): void => {
    for (let j = 0; j < width; j++) {
      f.localGet(TABLE).memory(Op.i32Load, 2, 8 * j).localSet(src[j]);
      f.localGet(TABLE).memory(Op.i32Load, 2, 8 * j + 4).localSet(dst[j]);
    }
    f.addToLocal(TABLE, 8 * width);
  };
  /** The rows of the windows of a batch or of one window, `element(r)` adding one element of each. */
  const rowLoop = (vectorBody: (() => void) | undefined, elementBody: () => void): void => {
    f.localGet(rows).localSet(rowsLeft);
    f.i32Const(0).localSet(row);
    countedLoop(f, rowsLeft, () => {
      f.localGet(row).localSet(off);
      if (vectorBody) {
        f.localGet(len).i32Const(Math.log2(L)).op(Op.i32ShrU).localSet(n);
        countedLoop(f, n, () => {
          vectorBody();
          f.addToLocal(off, L * size);
        });
        f.localGet(len).i32Const(L - 1).op(Op.i32And).localSet(n);
      } else f.localGet(len).localSet(n);
      countedLoop(f, n, () => {
        elementBody();
        f.addToLocal(off, size);
      });
      f.localGet(row).localGet(rs).op(Op.i32Add).localSet(row);
    });
  };

  /** Sums the `width * L` windows of a batch (width: GROUP or 1); the terms are squares when `squares`. */
  const batch = (width: number, squares: boolean): void => {
    readPointers(width * L);
    // Each accumulator starts at 0, or at its windows' current sums (ACCUMULATE).
    f.localGet(flags).i32Const(FLAG_ACCUMULATE).op(Op.i32And).if();
    for (let u = 0; u < width; u++) { gather(dst, u * L); f.localSet(acc[u]); }
    f.else();
    for (let u = 0; u < width; u++) { constant(0); f.simd(ops.splat).localSet(acc[u]); }
    f.end();
    rowLoop(() => {
      // Whole vectors of each window's row: load, square, transpose, add in element order.
      for (let u = 0; u < width; u++) {
        for (let l = 0; l < L; l++) {
          f.localGet(src[u * L + l]).localGet(off).op(Op.i32Add).simdMemory(SimdOp.v128Load, 0, 0);
          if (squares) squareVector(v[l]);
          f.localSet(v[l]);
        }
        if (L === 4) {
          // a = (v0[0], v1[0], v0[1], v1[1]), b = (v0[2], v1[2], v0[3], v1[3]); c, d likewise of v2, v3.
          f.localGet(v[0]).localGet(v[1]).shuffle(laneBytes([0, 4, 1, 5], 4)).localSet(mixed[0]);
          f.localGet(v[0]).localGet(v[1]).shuffle(laneBytes([2, 6, 3, 7], 4)).localSet(mixed[1]);
          f.localGet(v[2]).localGet(v[3]).shuffle(laneBytes([0, 4, 1, 5], 4)).localSet(mixed[2]);
          f.localGet(v[2]).localGet(v[3]).shuffle(laneBytes([2, 6, 3, 7], 4)).localSet(mixed[3]);
          // Element e of every window: the low, then high halves of (a, c), then of (b, d).
          const halves: [number, number, number[]][] = [[0, 2, [0, 1, 4, 5]], [0, 2, [2, 3, 6, 7]], [1, 3, [0, 1, 4, 5]], [1, 3, [2, 3, 6, 7]]];
          for (const [a, b, lanes] of halves) {
            f.localGet(acc[u]).localGet(mixed[a]).localGet(mixed[b]).shuffle(laneBytes(lanes, 4)).simd(ops.vector.add).localSet(acc[u]);
          }
        } else {
          for (const lanes of [[0, 2], [1, 3]]) {
            f.localGet(acc[u]).localGet(v[0]).localGet(v[1]).shuffle(laneBytes(lanes, 8)).simd(ops.vector.add).localSet(acc[u]);
          }
        }
      }
    }, () => {
      // The rest of the row, one element of every window at a time.
      for (let u = 0; u < width; u++) {
        f.localGet(acc[u]);
        gather(src, u * L, off);
        if (squares) squareVector(v[0]);
        f.simd(ops.vector.add).localSet(acc[u]);
      }
    });
    for (let u = 0; u < width; u++) {
      for (let l = 0; l < L; l++) {
        f.localGet(dst[u * L + l]).localGet(acc[u]).simdLane(ops.extractLane, l).memory(ops.store, ops.alignLog2, 0);
      }
    }
  };

  /** Sums one window with scalar additions. */
  const single = (squares: boolean): void => {
    readPointers(1);
    f.localGet(flags).i32Const(FLAG_ACCUMULATE).op(Op.i32And).if(ops.valType);
    load(dst[0]);
    f.else();
    constant(0);
    f.end();
    f.localSet(s);
    rowLoop(undefined, () => {
      f.localGet(s);
      load(src[0], off);
      if (squares) squareScalar();
      f.op(ops.scalar.add).localSet(s);
    });
    f.localGet(dst[0]).localGet(s).memory(ops.store, ops.alignLog2, 0);
  };

  /** Every window of the operation: batches of GROUP * L, then of L, then one at a time. */
  const windows = (squares: boolean): void => {
    f.localGet(count).i32Const(Math.log2(W)).op(Op.i32ShrU).localSet(batches);
    countedLoop(f, batches, () => batch(GROUP, squares));
    f.localGet(count).i32Const(Math.log2(L)).op(Op.i32ShrU).i32Const(GROUP - 1).op(Op.i32And).localSet(batches);
    countedLoop(f, batches, () => batch(1, squares));
    f.localGet(count).i32Const(L - 1).op(Op.i32And).localSet(batches);
    countedLoop(f, batches, () => single(squares));
  };

  // The lane model's parts, `lanes / L` v128s each (part p, v128 h: model lanes h*L .. h*L + L - 1).
  const { lanes: VF, parts: IC } = order, H = VF / L;
  if (!Number.isInteger(H) || H < 1 || (VF & (VF - 1)) !== 0) throw new Error(`lane model ${VF}x${IC} does not fit ${L}-lane vectors`);
  // Two windows at a time (their rows' chains of additions overlap), each with its parts, sum and row pointer.
  const part = [0, 1].map(() => Array.from({ length: IC }, () => Array.from({ length: H }, () => f.local(v128))));
  const sum = [s, f.local(ops.valType)], rowAt = [row, f.local(i32)];
  const term = f.local(v128), firstBytes = f.local(i32);
  const negativeZero = (): void => { constant(-0); f.simd(ops.splat); };
  /** Pushes `(position - first) <u len`: window position `position` holds an element of the row. */
  const inRow = (position: number): void => {
    f.i32Const(position).localGet(first).op(Op.i32Sub).localGet(len).op(Op.i32LtU);
  };
  /** Pushes the terms at window positions `jb .. jb + L - 1` of the row at `at` (its first element at position `first`). */
  const termVector = (at: number, jb: number, squares: boolean, full: boolean): void => {
    const loadVector = (): void => {
      if (full) f.localGet(at).simdMemory(SimdOp.v128Load, ops.alignLog2, jb * size);
      else f.localGet(at).i32Const(jb * size).op(Op.i32Add).localGet(firstBytes).op(Op.i32Sub).simdMemory(SimdOp.v128Load, ops.alignLog2, 0);
      if (squares) squareVector(term);
    };
    if (full) { loadVector(); return; }
    inRow(jb);
    inRow(jb + L - 1);
    f.op(Op.i32And).if(v128);
    loadVector();
    f.else();
    negativeZero();
    f.localSet(term);
    for (let i = 0; i < L; i++) {
      inRow(jb + i);
      f.if();
      f.localGet(term);
      f.localGet(at).i32Const((jb + i) * size).op(Op.i32Add).localGet(firstBytes).op(Op.i32Sub).memory(ops.load, ops.alignLog2, 0);
      if (squares) squareScalar();
      f.simdLane(replaceLane, i).localSet(term);
      f.end();
    }
    f.localGet(term);
    f.end();
  };
  /** `width` (1 or 2) windows of a lanes operation, row after row (`full`: every row spans the whole window). */
  const laneWindow = (squares: boolean, full: boolean, width: number): void => {
    readPointers(width);
    const us = Array.from({ length: width }, (_, u) => u);
    for (const u of us) {
      f.localGet(flags).i32Const(FLAG_ACCUMULATE).op(Op.i32And).if(ops.valType);
      load(dst[u]);
      f.else();
      constant(0);
      f.end();
      f.localSet(sum[u]);
      f.localGet(src[u]).localSet(rowAt[u]);
    }
    f.localGet(rows).localSet(rowsLeft);
    countedLoop(f, rowsLeft, () => {
      // Position j goes to part (j / VF) mod IC, lane j mod VF: a run of L positions to one v128.
      // Each lane's chain starts at -0 (lane 0 of part 0 at the sum so far), and -0 + t is t for
      // every t: a v128's first run of positions is its value, no addition; part 0's first v128
      // adds the sum so far in lane 0 (and -0 in the others).
      const written = new Set<number>();
      for (let jb = 0; jb < XLA_REDUCE_WINDOW; jb += L) {
        for (const u of us) {
          const target = part[u][Math.floor(jb / VF) % IC][(jb % VF) / L];
          const first = !written.has(target);
          written.add(target);
          if (first && target === part[u][0][0]) {
            negativeZero();
            f.localGet(sum[u]).simdLane(replaceLane, 0);
          } else if (!first) f.localGet(target);
          termVector(rowAt[u], jb, squares, full);
          if (!first || target === part[u][0][0]) f.simd(ops.vector.add);
          f.localSet(target);
        }
      }
      // Every v128 was set in this row (none keeps the previous row's value).
      if (written.size !== width * IC * H) throw new Error(`lane model ${VF}x${IC}: a row of ${XLA_REDUCE_WINDOW} positions does not reach every part`);
      for (const u of us) {
        const q = part[u];
        for (let p = 1; p < IC; p++) for (let h = 0; h < H; h++) f.localGet(q[p][h]).localGet(q[0][h]).simd(ops.vector.add).localSet(q[0][h]);
        // Halving: lane l plus lane l + half, first across the v128s, then inside the first.
        for (let half = H >> 1; half >= 1; half >>= 1) for (let h = 0; h < half; h++) f.localGet(q[0][h]).localGet(q[0][h + half]).simd(ops.vector.add).localSet(q[0][h]);
        for (let half = L >> 1; half >= 2; half >>= 1) {
          const moved = Array.from({ length: L }, (_, l) => (l + half) % L);
          f.localGet(q[0][0]).localGet(q[0][0]).localGet(q[0][0]).shuffle(laneBytes(moved, size)).simd(ops.vector.add).localSet(q[0][0]);
        }
        f.localGet(q[0][0]).simdLane(ops.extractLane, 0).localGet(q[0][0]).simdLane(ops.extractLane, 1).op(ops.scalar.add).localSet(sum[u]);
        f.localGet(rowAt[u]).localGet(rs).op(Op.i32Add).localSet(rowAt[u]);
      }
    });
    for (const u of us) f.localGet(dst[u]).localGet(sum[u]).memory(ops.store, ops.alignLog2, 0);
  };
  /** Every window of a lanes operation, two at a time; rows spanning the whole window need no bounds checks. */
  const laneWindows = (squares: boolean): void => {
    f.localGet(first).i32Const(size).op(Op.i32Mul).localSet(firstBytes);
    for (const full of [true, false]) {
      if (full) f.localGet(len).i32Const(XLA_REDUCE_WINDOW).op(Op.i32Eq).if();
      else f.else();
      f.localGet(count).i32Const(1).op(Op.i32ShrU).localSet(batches);
      countedLoop(f, batches, () => laneWindow(squares, full, 2));
      f.localGet(count).i32Const(1).op(Op.i32And).if();
      laneWindow(squares, full, 1);
      f.end();
    }
    f.end();
  };

  countedLoop(f, N, () => {
    [flags, count, rows, rs, len, first].forEach((local, word) => {
      f.localGet(TABLE).memory(Op.i32Load, 2, word * 4).localSet(local);
    });
    f.addToLocal(TABLE, HEADER_WORDS * 4);
    f.localGet(flags).i32Const(FLAG_LANES).op(Op.i32And).if();
    f.localGet(flags).i32Const(FLAG_SQUARES).op(Op.i32And).if();
    laneWindows(true);
    f.else();
    laneWindows(false);
    f.end();
    f.else();
    f.localGet(flags).i32Const(FLAG_SQUARES).op(Op.i32And).if();
    windows(true);
    f.else();
    windows(false);
    f.end();
    f.end();
  });
  return f;
}

import type { Dtype, FloatArray } from '../core/dtype.js';
import { dtypeOfArray, roundTo } from '../core/dtype.js';
import { type GlobalNorm, sumOfSquares } from '../transforms/clip-by-global-norm.js';
import type { EngineMemory } from './memory.js';
import { SQUARES_BLOCK, blockedSquares, blockedSquaresName, interleavedLeaves, interleavedSquares, interleavedSquaresName } from './wasm/blocked-squares.js';
import { assembleModule } from './wasm/module.js';

/**
 * The global norm of the gradients for `clipByGlobalNorm` at the start of a chain, bit-exact to
 * `globalNorm` (src/transforms/clip-by-global-norm.ts): each leaf's sum of squares accumulated
 * sequentially in the leaf's dtype (XLA CPU's order), the leaf sums added in flattening order with
 * float64 promotion, the square root rounded once.
 *
 * The sequential sum is latency-bound: each addition waits for the previous one (in JS also for a
 * `Math.fround` round trip). The WebAssembly backend computes the same sums without that wait, bit for
 * bit: a long leaf block by block in SIMD lanes, short leaves several at once, each in its own lane
 * (wasm/blocked-squares.ts explains why both give the same bits).
 */

/**
 * Computes the sum of squares of every gradient leaf (by flattening index) into the array it returns
 * (the same array each call: a step allocates nothing).
 */
export type LeafSums = () => Float64Array;

/** Combines the leaf sums exactly as `globalNorm` does. */
export function combineLeafSums(dtypes: readonly Dtype[], sums: ArrayLike<number>): GlobalNorm {
  // optax starts from the Python int 0, which takes the first sum's dtype (float32 when there is none).
  let dtype: Dtype | undefined;
  let total = 0;
  for (let i = 0; i < dtypes.length; i++) {
    dtype = dtype === 'float64' || dtypes[i] === 'float64' ? 'float64' : 'float32';
    total = roundTo(dtype, total + sums[i]);
  }
  dtype ??= 'float32';
  return { value: roundTo(dtype, Math.sqrt(total)), dtype };
}

/** Leaf sums in JS: the reference `sumOfSquares` itself. */
export function jsLeafSums(grads: readonly FloatArray[]): LeafSums {
  const sums = new Float64Array(grads.length);
  return () => {
    for (let i = 0; i < grads.length; i++) sums[i] = sumOfSquares(grads[i]);
    return sums;
  };
}

/** Bytes of scratch memory {@link wasmLeafSums} needs (where interleaved sums are stored). */
export const LEAF_SUMS_SCRATCH_BYTES = 8 * Math.max(interleavedLeaves('float32'), interleavedLeaves('float64'));

/** Leaves at least this long are summed alone (blocked); shorter ones, interleaved with their neighbours. */
const LONG_LEAF = 16 * SQUARES_BLOCK;

/** At most this many distinct leaf strides get an interleaved function (others are summed alone). */
const MAX_STRIDES = 16;

/**
 * Leaf sums in WebAssembly, over the gradient views (which must lie in `memory`), with
 * {@link LEAF_SUMS_SCRATCH_BYTES} bytes at byte offset `scratch` (8-byte aligned) of it to spare. A long
 * leaf is summed alone by the blocked sum; runs of short leaves of one dtype and length lying at equal
 * distances (the arena lays a group's leaves back to back) are summed together, interleaved.
 */
export function wasmLeafSums(grads: readonly FloatArray[], memory: EngineMemory, scratch: number): LeafSums {
  const wasm = memory.wasm;
  if (!wasm) throw new Error('WebAssembly.Memory is unavailable');
  const strides = new Map<string, { dtype: Dtype; stride: number }>();
  const plan: { first: number; count: number; n: number; pointer: number; key?: string }[] = [];
  for (let i = 0; i < grads.length;) {
    const g = grads[i], dtype = dtypeOfArray(g), width = interleavedLeaves(dtype);
    const stride = i + 1 < grads.length ? grads[i + 1].byteOffset - g.byteOffset : 0;
    const run = g.length < LONG_LEAF && i + width <= grads.length && stride > 0 && grads.slice(i, i + width).every((h, k) => dtypeOfArray(h) === dtype && h.length === g.length && h.byteOffset === g.byteOffset + k * stride);
    const key = `${dtype}:${stride}`;
    if (run && (strides.has(key) || strides.size < MAX_STRIDES)) {
      strides.set(key, { dtype, stride });
      plan.push({ first: i, count: width, n: g.length, pointer: g.byteOffset, key });
      i += width;
    } else {
      plan.push({ first: i, count: 1, n: g.length, pointer: g.byteOffset });
      i += 1;
    }
  }
  const functions = [blockedSquares('float32'), blockedSquares('float64'), ...[...strides.values()].map((s) => interleavedSquares(s.dtype, s.stride))];
  const bytes = assembleModule({ shared: memory.shared, initialPages: memory.pages, maximumPages: memory.pages }, functions);
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: wasm } }).exports;
  type Blocked = (n: number, pointer: number) => number;
  type Interleaved = (n: number, pointer: number, out: number) => void;
  const calls = plan.map((p) => ({
    ...p,
    blocked: p.key ? undefined : exports[blockedSquaresName(dtypeOfArray(grads[p.first]))] as Blocked,
    interleaved: p.key ? exports[interleavedSquaresName(strides.get(p.key)!.dtype, strides.get(p.key)!.stride)] as Interleaved : undefined,
  }));
  const out = new Float64Array(memory.buffer, scratch, LEAF_SUMS_SCRATCH_BYTES / 8);
  const sums = new Float64Array(grads.length);
  return () => {
    for (const c of calls) {
      if (c.blocked) sums[c.first] = c.blocked(c.n, c.pointer);
      else {
        c.interleaved!(c.n, c.pointer, scratch);
        for (let k = 0; k < c.count; k++) sums[c.first + k] = out[k];
      }
    }
    return sums;
  };
}

import type { FusedProgram } from '../program.js';
import { FunctionBuilder, countedLoop } from './function-builder.js';
import { type LoweredNode, lowerProgram } from './lowering.js';
import { MAX_FUNCTION_PARAMS, type MemoryImportOptions, assembleModule } from './module.js';
import { type FloatOps, Op, SimdOp, V128_ALIGN_LOG2, ValType, floatOps } from './opcodes.js';

/**
 * The WebAssembly SIMD generator of fused elementwise kernels.
 *
 * The module imports `env.memory` and exports `run(n, ptr_0, ..., ptr_k, scalar_0, ..., scalar_m)`,
 * which computes elements `[0, n)` of every output stream of the program:
 *
 * 1. Uniform values (scalars and nodes of scalars only) are computed once and splatted to v128.
 * 2. Main loop, `unroll` vectors (f32x4 or f64x2) per stream per iteration: every load of the
 *    iteration, then every op (node by node, each unrolled copy in turn, all in locals), then every
 *    store; then each pointer moves on by `16 * unroll` bytes. Loads before stores is what lets an
 *    output overwrite the stream it reads (params and state are updated in place).
 * 3. A one-vector loop for the remaining whole vectors, then a scalar loop for the last
 *    `n mod lanes` elements, both with the same ops.
 *
 * Every op is the IEEE op of the dtype (`f32x4.add`, `f32.sqrt`, ...; `min`/`max` are the
 * NaN-propagating ones), lane by lane: the same bits as the reference interpreter, which rounds each op
 * to the dtype. Only NaN payloads and signs may differ. WebAssembly keeps subnormals (no flush to
 * zero), like the reference path in its default mode.
 */

/** Options of {@link emitFusedModule}. */
export interface FusedModuleOptions extends MemoryImportOptions {
  /** Vectors per stream per main-loop iteration: 1, 2 or 4. Default {@link DEFAULT_UNROLL}. */
  readonly unroll?: 1 | 2 | 4;
}

/** The main-loop unrolling used when none is given: the fastest (or tied) for float32 and float64 on x64 (AMD Zen 3), see bench/wasm-kernel.ts. */
export const DEFAULT_UNROLL = 2;

/** The name of the exported kernel function. */
export const FUSED_EXPORT = 'run';

/**
 * The alignment, in bytes, stream pointers of `run` should have: v128 accesses are declared 16-byte
 * aligned. WebAssembly alignment is only a hint, so other element-aligned pointers give the same
 * results, more slowly on some CPUs.
 */
export const STREAM_ALIGNMENT = 16;

/** Where the value of a node lives: a local of each unrolled vector copy, and a scalar local for the tail. */
interface NodeLocals {
  /** v128 local per unrolled copy (one shared local for a uniform node, which is the same in all copies). */
  readonly vector: number[];
  /** Scalar local (a parameter for a scalar leaf). */
  scalar: number;
}

/**
 * Emits the WebAssembly module of `program`.
 *
 * `run(n: i32, ...streamPointers: i32, ...scalars: f32 | f64): void`: pointers are byte offsets into
 * the memory, in `program.streams` order, each a multiple of 16; scalars are in `program.scalars`
 * order, of the program's dtype. Streams must be identical (same pointer) or not overlap at all, and
 * lie inside the memory (else `run` traps with a RuntimeError, possibly after storing some elements).
 * `n` must be in `[0, 2^31)`. A range can be split between threads at any element (advance every
 * pointer by the same number of elements); split at multiples of 16 bytes to keep pointers aligned.
 *
 * @param options - `shared` (import a shared memory), `initialPages` (default 0), `maximumPages` (the
 *   imported memory must declare a maximum of at most this), `unroll` (default {@link DEFAULT_UNROLL}).
 *
 * @internal
 */
export function emitFusedModule(program: FusedProgram, options: FusedModuleOptions): Uint8Array<ArrayBuffer> {
  const unroll = options.unroll ?? DEFAULT_UNROLL;
  if (unroll !== 1 && unroll !== 2 && unroll !== 4) throw new RangeError(`unroll must be 1, 2 or 4, got ${String(unroll)}`);
  if (program.outputs.length === 0) throw new Error('fused program has no outputs');
  const ops = floatOps(program.dtype);
  const paramCount = 1 + program.streams.length + program.scalars.length;
  if (paramCount > MAX_FUNCTION_PARAMS) {
    throw new RangeError(`fused program needs ${paramCount} parameters; a WebAssembly function takes at most ${MAX_FUNCTION_PARAMS}`);
  }
  const { nodes, stores } = lowerProgram(program);
  const f = new FunctionBuilder(FUSED_EXPORT, [
    ValType.i32,
    ...program.streams.map(() => ValType.i32),
    ...program.scalars.map(() => ops.valType),
  ], []);
  const N = 0;
  const pointer = (stream: number): number => 1 + stream;
  const scalarParam = (scalar: number): number => 1 + program.streams.length + scalar;

  // Which uniform nodes the vector code reads (they get a splatted v128 local).
  const splatted = new Set<number>();
  for (const node of nodes) {
    if (node.uniform || node.kind === 'load') continue;
    if (nodes[node.a].uniform) splatted.add(node.a);
    if (node.kind === 'binary' && nodes[node.b].uniform) splatted.add(node.b);
  }
  for (const s of stores) if (nodes[s.node].uniform) splatted.add(s.node);

  const locals: NodeLocals[] = nodes.map((node, id) => {
    if (node.uniform) {
      const scalar = node.kind === 'scalar' ? scalarParam(node.scalar) : f.local(ops.valType);
      const shared = splatted.has(id) ? f.local(ValType.v128) : -1;
      return { vector: Array.from({ length: unroll }, () => shared), scalar };
    }
    return { vector: Array.from({ length: unroll }, () => f.local(ValType.v128)), scalar: f.local(ops.valType) };
  });
  const count = f.local(ValType.i32);

  // 1. Uniform values, once per call.
  nodes.forEach((node, id) => {
    if (!node.uniform) return;
    if (node.kind !== 'scalar') {
      emitOperands(f, node, (operand) => locals[operand].scalar);
      f.op(ops.scalar[node.op]).localSet(locals[id].scalar);
    }
    if (splatted.has(id)) f.localGet(locals[id].scalar).simd(ops.splat).localSet(locals[id].vector[0]);
  });

  const emitVectorBody = (copies: number): void => {
    nodes.forEach((node, id) => {
      if (node.kind !== 'load') return;
      for (let u = 0; u < copies; u++) {
        f.localGet(pointer(node.stream)).simdMemory(SimdOp.v128Load, V128_ALIGN_LOG2, 16 * u).localSet(locals[id].vector[u]);
      }
    });
    nodes.forEach((node, id) => {
      if (node.uniform || node.kind === 'load') return;
      for (let u = 0; u < copies; u++) {
        emitOperands(f, node, (operand) => locals[operand].vector[u]);
        f.simd(ops.vector[node.op]).localSet(locals[id].vector[u]);
      }
    });
    for (let u = 0; u < copies; u++) {
      for (const s of stores) {
        f.localGet(pointer(s.stream)).localGet(locals[s.node].vector[u]).simdMemory(SimdOp.v128Store, V128_ALIGN_LOG2, 16 * u);
      }
    }
    program.streams.forEach((_, k) => f.addToLocal(pointer(k), 16 * copies));
  };

  const lanesLog2 = Math.log2(ops.lanes);
  // 2. Main loop: n >> log2(lanes * unroll) iterations.
  f.localGet(N).i32Const(lanesLog2 + Math.log2(unroll)).op(Op.i32ShrU).localSet(count);
  countedLoop(f, count, () => emitVectorBody(unroll));
  // 3a. The remaining whole vectors, one at a time.
  if (unroll > 1) {
    f.localGet(N).i32Const(lanesLog2).op(Op.i32ShrU).i32Const(unroll - 1).op(Op.i32And).localSet(count);
    countedLoop(f, count, () => emitVectorBody(1));
  }
  // 3b. The last n mod lanes elements, one at a time.
  f.localGet(N).i32Const(ops.lanes - 1).op(Op.i32And).localSet(count);
  countedLoop(f, count, () => emitScalarBody(f, ops, nodes, stores, locals, pointer, program.streams.length));
  return assembleModule(options, [f]);
}

/** Pushes the operands of an op node, each from the local `where(operand)`. */
function emitOperands(f: FunctionBuilder, node: LoweredNode, where: (operand: number) => number): void {
  if (node.kind === 'unary') f.localGet(where(node.a));
  else if (node.kind === 'binary') f.localGet(where(node.a)).localGet(where(node.b));
}

/** One element with scalar ops: loads, ops, stores, then every pointer moves on by one element. */
function emitScalarBody(
  f: FunctionBuilder,
  ops: FloatOps,
  nodes: readonly LoweredNode[],
  stores: readonly { stream: number; node: number }[],
  locals: readonly NodeLocals[],
  pointer: (stream: number) => number,
  streamCount: number,
): void {
  nodes.forEach((node, id) => {
    if (node.uniform) return;
    if (node.kind === 'load') f.localGet(pointer(node.stream)).memory(ops.load, ops.alignLog2, 0);
    else {
      emitOperands(f, node, (operand) => locals[operand].scalar);
      f.op(ops.scalar[node.op]);
    }
    f.localSet(locals[id].scalar);
  });
  for (const s of stores) f.localGet(pointer(s.stream)).localGet(locals[s.node].scalar).memory(ops.store, ops.alignLog2, 0);
  for (let k = 0; k < streamCount; k++) f.addToLocal(pointer(k), ops.bytes);
}

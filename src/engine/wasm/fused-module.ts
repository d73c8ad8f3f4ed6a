import { CAP_CONSTANT, type FusedProgram, ZERO_CONSTANT, checkStreamDtypes, isNarrowStream } from '../program.js';
import type { Expr } from '../../kernel/expr.js';
import { FunctionBuilder, countedLoop } from './function-builder.js';
import { type LoweredNode, type LoweredProgram, lowerProgram, neverNegativeZero } from './lowering.js';
import { MAX_FUNCTION_PARAMS, type MemoryImportOptions, assembleModule } from './module.js';
import { type FloatOps, Op, SimdOp, V128_ALIGN_LOG2, ValType, floatOps } from './opcodes.js';
import { FMA64_IMPORT, FmaEmitter, type LoadAddress, type WideOperands } from './fma.js';
import { VectorOpEmitter, laneMasks } from './vector-ops.js';
import { LaneFailures } from './lane-failures.js';
import { type SubnormalMode, canMakeSubnormal } from '../subnormals.js';
import { SubnormalFlush } from './subnormal-flush.js';

/**
 * The WebAssembly SIMD generator of fused elementwise kernels.
 *
 * The module imports `env.memory` and exports `run(n, ptr_0, ..., ptr_k, scalar_0, ..., scalar_m)`
 * (or `run(n, ptr_0, ..., ptr_k)`, reading the scalars from memory: `scalarOffsets`), which computes
 * elements `[0, n)` of every output stream of the program:
 *
 * 1. Uniform values (scalars and nodes of scalars only) are computed once and splatted to v128.
 * 2. Main loop, `unroll` vectors (f32x4 or f64x2) per stream per iteration, one after the other:
 *    the vector's loads, then every op (node by node, in locals), then its stores; then the streams
 *    move on by `16 * unroll` bytes. Loads before stores is what lets an output overwrite the stream
 *    it reads (params and state are updated in place).
 * 3. A one-vector loop for the remaining whole vectors, then a scalar loop for the last
 *    `n mod lanes` elements, both with the same ops.
 *
 * A float32 program whose fmas all have a per-call multiplicand (the traced numerics of adamax and
 * MultiSteps) gets main-loop copies made for the call's case instead, one vector per iteration:
 * their common path has no exact emulation in it, and a vector that needs one leaves it (see
 * `bailingLoop` below).
 *
 * Every op is the IEEE op of the dtype (`f32x4.add`, `f32.sqrt`, ...; `min`/`max` are the
 * NaN-propagating ones, in vectors as the shorter sequences of {@link VectorOpEmitter}), lane by
 * lane: the same bits as the reference interpreter, which rounds each op to the dtype. Only NaN payloads and signs may differ. WebAssembly keeps subnormals (no flush to
 * zero), like the reference path in its default mode; with `subnormals: 'flush'` the kernel flushes
 * them as XLA:CPU does and as the interpreter does inside `withFlushedSubnormals` (every load and
 * scalar, and the result of every op that can make one: see engine/subnormals.ts, wasm/subnormal-flush.ts).
 */

/** Options of {@link emitFusedModule}. */
export interface FusedModuleOptions extends MemoryImportOptions {
  /**
   * Vectors per stream per main-loop iteration: 1, 2 or 4. Default {@link DEFAULT_UNROLL}. (The
   * versioned copies of a program with fmas run one vector per iteration whatever this is.)
   */
  readonly unroll?: 1 | 2 | 4;
  /**
   * The byte offset of element 0 of each stream, in `program.streams` order, when the caller knows its
   * layout when it emits the kernel (the engine does): the kernel then addresses every stream from one
   * moving byte index plus a constant offset, which x64 folds into each load and store, instead of
   * moving one pointer per stream. Measured with bench/wasm-kernel.ts, that integer bookkeeping was
   * about half the instructions of an adamax loop. `run` keeps its signature; its pointers must all be
   * these offsets advanced by the same number of bytes, else it traps before touching memory.
   */
  readonly streamOffsets?: readonly number[];
  /**
   * The byte offset, in the memory, of each scalar of the program (in `program.scalars` order), stored
   * as a float64 (rounded to the program's dtype already): `run` then reads its scalars there, once per
   * call, and takes only `(n, ...pointers)`. The engine keeps a step's scalars in such a block: calling
   * a kernel with integers only allocates nothing, where passing doubles through `apply` boxes each.
   */
  readonly scalarOffsets?: readonly number[];
  /** `'ieee'` (default: subnormals kept) or `'flush'` (XLA's FTZ/DAZ, see engine/subnormals.ts). */
  readonly subnormals?: SubnormalMode;
  /**
   * Compute vector fmas with `f32x4.relaxed_madd` / `f64x2.relaxed_madd` (relaxed SIMD, the
   * program's dtype) instead of the exact emulation: only where `relaxedMaddFused(dtype)`
   * (relaxed-madd.ts) has shown it fused (the module then uses relaxed SIMD, and only such a runtime
   * can compile it): the same bits, the emulation being correctly rounded. Default false.
   */
  readonly relaxedMadd?: boolean;
}

/** The most per-call powers of two whose combinations get their own main-loop copy (2^3 copies). */
const MAX_VERSIONED_POWERS = 3;

/**
 * The main-loop unrolling used when none is given. One vector per stream per iteration ties with two
 * and four for adamax (float32 and float64), and V8's code for two is twice as slow on some chains:
 * measured (one pass over 1e6 float32 params, one thread, best of 300, AMD EPYC, Node 20), unroll 2 /
 * 1: adamax 0.487 / 0.490 ms, adamaxw 0.495 / 0.484, chain(ema, adamax) 0.612 / 0.605,
 * chain(clipByGlobalNorm, adamax) 0.893 / 0.479, multiSteps(adamax) 0.856 / 0.798; float64 all
 * within 3%. bench/wasm-kernel.ts measures adamax at each unrolling.
 */
export const DEFAULT_UNROLL = 1;

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
  const scalarOffsets = options.scalarOffsets;
  if (scalarOffsets && (scalarOffsets.length !== program.scalars.length || scalarOffsets.some((o) => !Number.isInteger(o) || o < 0 || o >= 2 ** 32 || o % 8 !== 0))) {
    throw new RangeError(`scalarOffsets must be ${program.scalars.length} multiples of 8 in [0, 2^32), got [${scalarOffsets.join(', ')}]`);
  }
  // Scalars read from memory are not parameters.
  const paramCount = 1 + program.streams.length + (scalarOffsets ? 0 : program.scalars.length);
  if (paramCount > MAX_FUNCTION_PARAMS) {
    throw new RangeError(`fused program needs ${paramCount} parameters; a WebAssembly function takes at most ${MAX_FUNCTION_PARAMS}`);
  }
  checkStreamDtypes(program);
  // float32 streams of a float64 program (MultiSteps' accumulator): two elements per vector are
  // 8 bytes, loaded into the low half and widened (f64x2.promote_low_f32x4, exact), and stored
  // rounded (f32x4.demote_f64x2_zero, then the low 8 bytes).
  const narrow = program.streams.map((s) => isNarrowStream(program, s));
  const f = new FunctionBuilder(FUSED_EXPORT, [
    ValType.i32,
    ...program.streams.map(() => ValType.i32),
    ...(scalarOffsets ? [] : program.scalars.map(() => ops.valType)),
  ], []);
  const N = 0;
  // Each scalar: a parameter, or a local loaded from its float64 slot (exactly: it is of the dtype).
  const scalarLocals = program.scalars.map((_, k) => {
    if (!scalarOffsets) return 1 + program.streams.length + k;
    const local = f.local(ops.valType);
    f.i32Const(0).memory(Op.f64Load, 3, scalarOffsets[k]);
    if (ops.lanes === 4) f.op(Op.f32DemoteF64);
    f.localSet(local);
    return local;
  });
  const flush = options.subnormals === 'flush' ? new SubnormalFlush(f, ops) : undefined;
  // Denormals-are-zero: each scalar is flushed once, before anything reads it.
  if (flush) for (const local of scalarLocals) { f.localGet(local); flush.scalar(); f.localSet(local); }
  const scalarParam = (scalar: number): number => scalarLocals[scalar];
  const lowered = lowerProgram(program);
  const { nodes, stores } = lowered;
  const relaxedMadd = options.relaxedMadd === true;
  // The fast variant (program.ts, engine/fast-accumulate.ts), in IEEE mode only, and only where
  // fmas are emulated: it exists to skip them, and its checks cost more than fmas of one instruction
  // (measured on MultiSteps' accumulating pass, float32 in cache: 0.55-0.59 ns/element with it,
  // 0.33-0.38 without, with relaxed_madd; emulated, 0.77-0.96 with it, 0.81-1.04 without).
  const fast = flush || relaxedMadd ? undefined : lowered.fast;
  // With relaxed_madd, the fast variant's capped checks alone (a few comparisons per vector, no
  // arithmetic): in calls where their per-call checks hold, a vector whose checks all hold stores
  // the fast outputs, and skips the inner update it needs only for its sign and finiteness. Measured
  // on MultiSteps(adamax, k=4), float32, one thread, Node 24, both kernels and plain adamax stepped in
  // turn (medians of 300 steps): a mini-step over 1e5 elements (in cache) 1.39-1.40x a plain adamax
  // step computing the update, 0.77-0.83x with these checks (k = 4 cycle 1.34x -> 0.89x); over 1e6,
  // 1.13-1.25x -> 0.92-1.18x (cycle 1.15x -> 1.03x). The general bound checks above measured slower
  // than computing the update (best of 300: 1.86x against 1.50x at 1e5).
  const cappedOnly = relaxedMadd && !flush && lowered.fast?.capped ? lowered.fast : undefined;
  const streams = streamAddressing(f, narrow, options.streamOffsets);

  // Which uniform nodes the vector code reads (they get a splatted v128 local).
  const splatted = new Set<number>();
  for (const node of nodes) {
    if (node.uniform || node.kind === 'load') continue;
    if (nodes[node.a].uniform) splatted.add(node.a);
    if ((node.kind === 'binary' || node.kind === 'fma') && nodes[node.b].uniform) splatted.add(node.b);
    if (node.kind === 'fma' && nodes[node.c].uniform) splatted.add(node.c);
  }
  for (const s of [...stores, ...(fast?.stores ?? []), ...(cappedOnly?.stores ?? [])]) if (nodes[s.node].uniform) splatted.add(s.node);
  for (const c of fast?.below ?? []) for (const x of c.b === undefined ? [c.a] : [c.a, c.b]) if (nodes[x].uniform) splatted.add(x);
  for (const x of [...(fast?.notNegativeZero ?? []), ...(cappedOnly?.notNegativeZero ?? [])]) if (nodes[x].uniform) splatted.add(x);

  const locals: NodeLocals[] = nodes.map((node, id) => {
    if (node.uniform) {
      const scalar = node.kind === 'scalar' ? scalarParam(node.scalar) : f.local(ops.valType);
      const shared = splatted.has(id) ? f.local(ValType.v128) : -1;
      return { vector: Array.from({ length: unroll }, () => shared), scalar };
    }
    return { vector: Array.from({ length: unroll }, () => f.local(ValType.v128)), scalar: f.local(ops.valType) };
  });
  const count = f.local(ValType.i32);
  const vectorOps = new VectorOpEmitter(f, ops);
  vectorOps.prepare(new Set(nodes.flatMap((node) => (node.uniform || node.kind === 'load' || node.kind === 'fma' ? [] : [node.op]))));
  // A float64 fma calls the reference for its rare edge inputs (wasm/fma.ts): the module imports it.
  const importsFma64 = ops.lanes === 2 && nodes.some((node) => node.kind === 'fma');
  const fma = new FmaEmitter(f, ops, relaxedMadd, importsFma64 ? 0 : -1);
  if (nodes.some((node) => node.kind === 'fma' && !node.uniform)) fma.prepare();
  flush?.prepare();
  const flushes = nodes.map((node) => flush !== undefined && canMakeSubnormal(node));

  // 1. Uniform values, once per call.
  nodes.forEach((node, id) => {
    if (!node.uniform) return;
    if (node.kind === 'fma') fma.scalar(locals[node.a].scalar, locals[node.b].scalar, locals[node.c].scalar);
    else if (node.kind !== 'scalar') emitOperands(f, node, (operand) => locals[operand].scalar).op(ops.scalar[node.op]);
    if (flushes[id]) flush!.scalar();
    if (node.kind !== 'scalar') f.localSet(locals[id].scalar);
    if (splatted.has(id)) f.localGet(locals[id].scalar).simd(ops.splat).localSet(locals[id].vector[0]);
  });

  // float32 fma operands that are per-call scalars, widened once to f64x2 splats (the emulation's
  // float64 products would otherwise widen them again for every vector).
  const wide = new Map<number, number>();
  const wideOperands = (node: LoweredNode & { kind: 'fma' }): WideOperands => {
    const at = (operand: number): number | undefined => {
      if (ops.lanes !== 4 || !nodes[operand].uniform) return undefined;
      let local = wide.get(operand);
      if (local === undefined) {
        wide.set(operand, (local = f.local(ValType.v128)));
        f.localGet(locals[operand].scalar).op(Op.f64PromoteF32).simd(SimdOp.f64x2Splat).localSet(local);
      }
      return local;
    };
    // A float32 per-call multiplicand may be a power of two (MultiSteps' 1 / (n + 1)): tested once
    // per call. (Not float64, so far: its shortcut's `fl(x * r) + c` would need the same checks.)
    const multiplicand = ops.lanes !== 4 ? undefined : nodes[node.b].uniform ? 'b' : nodes[node.a].uniform ? 'a' : undefined;
    const multiplicandLocal = multiplicand && locals[multiplicand === 'a' ? node.a : node.b].scalar;
    const powerOfTwo = multiplicand && fma.powerOfTwo(multiplicandLocal!, multiplicand);
    // And it may make every float32 sum below 2^-126 exact: the vectors are then checked by bits.
    const fineGrid = multiplicand ? fma.fineGrid(multiplicandLocal!) : undefined;
    return { a: at(node.a), b: at(node.b), c: at(node.c), ...(powerOfTwo ? { powerOfTwo } : {}), ...(fineGrid !== undefined ? { fineGrid } : {}) };
  };
  // (One fused instruction needs none of it.)
  const fmaWide = nodes.map((node) => (node.kind === 'fma' && !node.uniform && !relaxedMadd ? wideOperands(node) : {}));
  // When every vector fma's per-call multiplicand is on the fine grid (adamax's 1 - b1 and b1,
  // MultiSteps' 1 / (n + 1)), the main loop runs a copy made for the call's case: each fma by the
  // shortcut of a power of two where its multiplicand is one, else by the bits check; no per-call
  // branches and no other fma paths in the loop, which cost registers (measured with the traced
  // adamax kernel in cache: about a tenth of its time). One copy per combination of powers of two.
  const vectorFmas = nodes.flatMap((node, id) => (node.kind === 'fma' && !node.uniform ? [id] : []));
  const powerOfTwoFmas = vectorFmas.filter((id) => fmaWide[id].powerOfTwo !== undefined);
  const versioned = vectorFmas.length > 0 && vectorFmas.every((id) => fmaWide[id].fineGrid !== undefined) && powerOfTwoFmas.length <= MAX_VERSIONED_POWERS;
  let allOnGrid = -1, whichPowers = -1;
  if (versioned) {
    allOnGrid = f.local(ValType.i32);
    f.i32Const(1);
    for (const id of vectorFmas) f.localGet(fmaWide[id].fineGrid!).op(Op.i32And);
    f.localSet(allOnGrid);
    // Bit j: powerOfTwoFmas[j]'s multiplicand is a power of two.
    whichPowers = f.local(ValType.i32);
    f.i32Const(0);
    powerOfTwoFmas.forEach((id, j) => f.localGet(fmaWide[id].powerOfTwo!.flag).i32Const(j).op(Op.i32Shl).op(Op.i32Or));
    f.localSet(whichPowers);
  }
  // Divisions by a per-call scalar (a bias correction 1 - b^t, which is exactly 1 once b^t is below
  // half an ulp of 1: from step 165 for b = 0.9 in float32): where the divisor is a normal power of
  // two, 1 / b is exact, so x / b and x * (1 / b) are the same real number rounded once, the same
  // bits for every x (zeros, infinities, subnormal and overflowing results; 1 / b may be subnormal,
  // it is not read from memory, so no flush applies to it). Calls where every such divisor is one
  // run a main-loop copy that multiplies: a vector division costs several multiplications'
  // throughput (measured, 2000 leaves of 500, one thread: adamax, which divides twice per element,
  // 0.415 -> 0.348 ns/param; chain(ema, adamax), three times, 0.69 -> 0.57). Not in programs with
  // versioned fma copies, whose loops are already copies.
  const divisors = versioned ? [] : [...new Set(nodes.flatMap((node) => (node.kind === 'binary' && node.op === 'div' && !node.uniform && nodes[node.b].uniform ? [node.b] : [])))];
  /** The splatted reciprocal of each divisor, and whether every divisor is a normal power of two (an i32 local). */
  const reciprocals = new Map<number, number>();
  const divisorsArePowers = divisors.length ? f.local(ValType.i32) : -1;
  if (divisors.length) {
    f.i32Const(1);
    for (const d of divisors) {
      normalPowerOfTwo(f, ops, locals[d].scalar);
      f.op(Op.i32And);
      const reciprocal = f.local(ValType.v128);
      (ops.lanes === 4 ? f.f32Const(1) : f.f64Const(1)).localGet(locals[d].scalar).op(ops.scalar.div).simd(ops.splat).localSet(reciprocal);
      reciprocals.set(d, reciprocal);
    }
    f.localSet(divisorsArePowers);
  }
  /**
   * What the main loop's copy being emitted assumes of the call: `multiplying`, it multiplies by the
   * reciprocals instead of dividing; `powers`, which fmas take the shortcut of a power of two
   * (undefined: the general copy); `capped`, it runs the capped checks. Set only by `inCopy`.
   */
  let copy: { readonly multiplying: boolean; readonly powers: Set<number> | undefined; readonly capped: boolean } = { multiplying: false, powers: undefined, capped: false };
  /** Emits `body` (a loop copy, or part of one) assuming `assume` besides what the enclosing copy assumes. */
  const inCopy = (assume: Partial<typeof copy>, body: () => void): void => {
    const enclosing = copy;
    copy = { ...enclosing, ...assume };
    body();
    copy = enclosing;
  };
  /** `if (condition) { body in a copy assuming `assume` } else { body }`: `condition`, an i32 local set once per call. */
  const specialized = (condition: number, assume: Partial<typeof copy>, body: () => void): void => {
    f.localGet(condition).if();
    inCopy(assume, body);
    f.else();
    body();
    f.end();
  };
  /** In such a copy, where its fmas add the lanes they do not settle (see bailingLoop). */
  let copyFailures: LaneFailures | undefined;

  // Each unrolled copy is a separate block of elements: loads, ops and stores of one copy, then the
  // next (an output may overwrite the stream it reads: every load of a copy comes before its stores).
  // Keeping a copy's values live only during its own code spares registers (x64 has 16 vector
  // registers, and the splatted scalars hold several of them for the whole loop).
  const notNegativeZero = neverNegativeZero(nodes, flush !== undefined);
  /**
   * In a versioned copy's common path, the loads not made yet (each is made just before the first
   * code that reads it, see bailingLoop); undefined elsewhere (every load first).
   */
  let pendingLoads: Set<number> | undefined;
  /** The v128 local of node `id` in copy `u`, its load made first if it is pending. */
  const vectorOf = (id: number, u: number): number => {
    if (pendingLoads?.delete(id)) emitLoad(id, u);
    return locals[id].vector[u];
  };
  /**
   * In a versioned copy's common path, the operands of a float32 fma that are loads, widened from
   * memory by the fma (FmaEmitter's WideOperands.loaded: one instruction per half), not loaded here
   * first; not where loads are flushed (subnormals), which the widening from memory would skip.
   */
  const loadedOperands = (node: LoweredNode & { kind: 'fma' }, u: number): WideOperands['loaded'] => {
    if (!pendingLoads || flush || ops.lanes !== 4) return undefined;
    const at = (operand: number): LoadAddress | undefined => {
      const load = nodes[operand];
      return load.kind === 'load' && !narrow[load.stream] ? { pointer: streams.local(load.stream), offset: streams.offset(load.stream) + 16 * u } : undefined;
    };
    return { a: at(node.a), b: at(node.b), c: at(node.c) };
  };
  const emitVectorNode = (id: number, u: number): void => {
    const node = nodes[id];
    if (node.uniform || node.kind === 'load') return;
    // (The shortcut by a power of two reads the float32 vectors; the bits check only their halves.)
    const fromMemory = node.kind === 'fma' && copy.powers && !copy.powers.has(id) ? loadedOperands(node, u) : undefined;
    if (pendingLoads) {
      const operands = node.kind === 'unary' ? [node.a] : node.kind === 'binary' ? [node.a, node.b] : [node.a, node.b, node.c];
      const widened = node.kind === 'fma' && fromMemory ? [fromMemory.a && node.a, fromMemory.b && node.b, fromMemory.c && node.c] : [];
      for (const operand of operands) if (!widened.includes(operand)) vectorOf(operand, u);
    }
    if (node.kind === 'fma' && copy.powers) fma.vectorOnFineGrid(locals[node.a].vector[u], locals[node.b].vector[u], locals[node.c].vector[u], { ...fmaWide[id], ...(fromMemory ? { loaded: fromMemory } : {}) }, copy.powers.has(id), copyFailures!);
    else if (node.kind === 'fma') fma.vector(locals[node.a].vector[u], locals[node.b].vector[u], locals[node.c].vector[u], fmaWide[id]);
    else if (node.kind === 'unary') vectorOps.emit(node.op, locals[node.a].vector[u]);
    else if (copy.multiplying && node.op === 'div' && reciprocals.has(node.b)) f.localGet(locals[node.a].vector[u]).localGet(reciprocals.get(node.b)!).simd(ops.vector.mul);
    else vectorOps.emit(node.op, locals[node.a].vector[u], locals[node.b].vector[u], { aNotNegativeZero: notNegativeZero[node.a], bNotNegativeZero: notNegativeZero[node.b] });
    if (flushes[id]) flush!.vector();
    f.localSet(locals[id].vector[u]);
  };
  // Where the fast variant is dropped for relaxed_madd, the streams it leaves as they are (MultiSteps'
  // params: p + 0 * y is p but for a non-finite y or a -0 p) are stored only where a lane's bits
  // changed: the same memory afterwards, without writing it back on almost every vector.
  const keptStreams = new Set(relaxedMadd && lowered.fast && !flush ? stores.filter((st) => !lowered.fast!.stores.some((q) => q.stream === st.stream)).map((st) => st.stream) : []);
  const loadOf = new Map(nodes.flatMap((node, id) => (node.kind === 'load' ? [[node.stream, id] as const] : [])));
  const emitStores = (list: readonly { stream: number; node: number }[], u: number): void => {
    // Every load the stores read comes before the first store (an output may overwrite a stream).
    for (const s of list) {
      vectorOf(s.node, u);
      const old = keptStreams.has(s.stream) ? loadOf.get(s.stream) : undefined;
      if (old !== undefined) vectorOf(old, u);
    }
    for (const s of list) {
      const old = keptStreams.has(s.stream) ? loadOf.get(s.stream) : undefined;
      if (old !== undefined) f.localGet(locals[s.node].vector[u]).localGet(locals[old].vector[u]).simd(SimdOp.i32x4Ne).simd(SimdOp.i32x4Bitmask).if();
      f.localGet(streams.local(s.stream)).localGet(locals[s.node].vector[u]);
      if (narrow[s.stream]) f.simd(SimdOp.f32x4DemoteF64x2Zero).simdMemoryLane(SimdOp.v128Store64Lane, 3, streams.offset(s.stream) + 8 * u, 0);
      else f.simdMemory(SimdOp.v128Store, V128_ALIGN_LOG2, streams.offset(s.stream) + 16 * u);
      if (old !== undefined) f.end();
    }
  };
  // With a fast variant: the nodes its checks read are computed first; a vector where every check
  // holds in every lane computes and stores the fast outputs, any other vector the exact ones.
  const fastPlan = fast && planFastVariant(f, ops, nodes, stores, fast);
  // Its capped checks (program.ts CappedChecks), for calls whose per-call checks hold: main-loop
  // copies of their own (only with the versioned copies, which the programs that have them get).
  const cappedPlan = fast?.capped && versioned ? planCappedChecks(f, ops, nodes, stores, fast, fast.capped)
    : cappedOnly ? planCappedChecks(f, ops, nodes, stores, cappedOnly, cappedOnly.capped!) : undefined;
  const capped = (fast ?? cappedOnly)?.capped;
  let cappedHolds = -1;
  if (cappedPlan) {
    cappedHolds = f.local(ValType.i32);
    emitUniformChecks(f, ops, capped!, (name) => {
      const k = program.scalars.indexOf(name);
      if (k < 0) throw new Error(`capped check reads scalar '${name}', which is not in the program's scalars`);
      return scalarParam(k);
    });
    f.localSet(cappedHolds);
  }
  const emitLoad = (id: number, u: number): void => {
    const node = nodes[id] as LoweredNode & { kind: 'load' };
    if (narrow[node.stream]) {
      f.localGet(streams.local(node.stream)).simdMemory(SimdOp.v128Load64Zero, 3, streams.offset(node.stream) + 8 * u).simd(SimdOp.f64x2PromoteLowF32x4);
    } else {
      f.localGet(streams.local(node.stream)).simdMemory(SimdOp.v128Load, V128_ALIGN_LOG2, streams.offset(node.stream) + 16 * u);
    }
    flush?.vector();
    f.localSet(locals[id].vector[u]);
  };
  const emitLoads = (u: number): void => {
    nodes.forEach((node, id) => { if (node.kind === 'load') emitLoad(id, u); });
  };
  /** `copies` vectors per stream, each computed exactly (its fast variant, where its checks hold). */
  const emitVectorBody = (copies: number): void => {
    // The relaxed_madd copy for calls whose capped checks hold uses those (see cappedOnly).
    const plan = copy.capped && cappedOnly ? cappedPlan : fastPlan;
    const fastStores = (fast ?? cappedOnly)?.stores;
    for (let u = 0; u < copies; u++) {
      emitLoads(u);
      if (!plan) {
        nodes.forEach((_, id) => emitVectorNode(id, u));
        emitStores(stores, u);
        continue;
      }
      for (const id of plan.checkNodes) emitVectorNode(id, u);
      if (plan.emitFailMask((id) => locals[id].vector[u])) f.simd(SimdOp.i32x4Bitmask);
      else f.i32Const(0);
      f.if();
      for (const id of plan.exactNodes) emitVectorNode(id, u);
      emitStores(stores, u);
      f.else();
      for (const id of plan.fastNodes) emitVectorNode(id, u);
      emitStores(fastStores!, u);
      f.end();
    }
    streams.advance(16 * copies);
  };
  /**
   * A versioned copy's loop over `count` vectors, one per iteration. Its common path (the hot loop)
   * holds only the code of a vector whose fmas settle by the copy's shortcuts and whose fast
   * variant's checks hold (then its outputs); any other vector (rare) branches out of it, to code
   * after it that computes that vector by the general exact code (emitVectorBody), then goes back
   * in. The rare code out of the hot loop leaves the registers to the common path (see
   * FmaEmitter.vectorOnFineGrid). A vector's checks (its fmas', its fast variant's) gather their
   * lanes (LaneFailures) for one branch, taken before the vector stores anything, so the exact code
   * reads the same inputs.
   */
  const failures = new LaneFailures(f);
  const bailingLoop = (): void => {
    f.block();
    const done = f.label();
    f.loop();
    const outer = f.label();
    f.localGet(count).op(Op.i32Eqz).brIfTo(done);
    f.block();
    const slow = f.label();
    f.loop();
    const hot = f.label();
    copyFailures = failures;
    // Each load just before the first code that reads it: a value loaded at the top and read only at
    // the end (the params, in the emitting pass) held a register all along, and V8 spilled it.
    pendingLoads = new Set(nodes.flatMap((node, id) => (node.kind === 'load' ? [id] : [])));
    const plan = fastPlan && (copy.capped ? cappedPlan! : fastPlan);
    if (plan) {
      for (const id of plan.checkNodes) emitVectorNode(id, 0);
      if (plan.emitFailMask((id) => vectorOf(id, 0))) failures.add();
      for (const id of plan.fastNodes) emitVectorNode(id, 0);
    } else {
      nodes.forEach((_, id) => emitVectorNode(id, 0));
    }
    failures.any();
    f.brIfTo(slow);
    emitStores(plan ? fast!.stores : stores, 0);
    pendingLoads = undefined;
    copyFailures = undefined;
    streams.advance(16);
    f.localGet(count).i32Const(1).op(Op.i32Sub).localTee(count).brIfTo(hot);
    f.end();
    f.brTo(done);
    f.end();
    // A vector off the common path: the general code (no shortcut assumed), exactly.
    inCopy({ powers: undefined }, () => emitVectorBody(1));
    f.localGet(count).i32Const(1).op(Op.i32Sub).localSet(count);
    f.brTo(outer);
    f.end();
    f.end();
  };

  const lanesLog2 = Math.log2(ops.lanes);
  // 2. Main loop: n >> log2(lanes * unroll) iterations, then (3a) the remaining whole vectors, one at a time.
  const mainLoop = (): void => {
    f.localGet(N).i32Const(lanesLog2 + Math.log2(unroll)).op(Op.i32ShrU).localSet(count);
    countedLoop(f, count, () => emitVectorBody(unroll));
    if (unroll > 1) {
      f.localGet(N).i32Const(lanesLog2).op(Op.i32ShrU).i32Const(unroll - 1).op(Op.i32And).localSet(count);
      countedLoop(f, count, () => emitVectorBody(1));
    }
  };
  if (versioned) {
    // The versioned copies: every whole vector, one per iteration (bailingLoop).
    f.localGet(allOnGrid).if();
    f.localGet(N).i32Const(lanesLog2).op(Op.i32ShrU).localSet(count);
    const copies = (): void => {
      for (let mask = 0; mask < 2 ** powerOfTwoFmas.length; mask++) {
        f.localGet(whichPowers).i32Const(mask).op(Op.i32Eq).if();
        inCopy({ powers: new Set(powerOfTwoFmas.filter((_, j) => (mask >> j) & 1)) }, bailingLoop);
        f.end();
      }
    };
    if (cappedPlan) specialized(cappedHolds, { capped: true }, copies);
    else copies();
    f.else();
    mainLoop();
    f.end();
  } else {
    const mainLoops = (): void => {
      if (divisors.length) specialized(divisorsArePowers, { multiplying: true }, mainLoop);
      else mainLoop();
    };
    if (cappedOnly && cappedPlan) specialized(cappedHolds, { capped: true }, mainLoops);
    else mainLoops();
  }
  // 3b. The last n mod lanes elements, one at a time.
  f.localGet(N).i32Const(ops.lanes - 1).op(Op.i32And).localSet(count);
  countedLoop(f, count, () => emitScalarBody(f, ops, nodes, stores, locals, streams, fma, flush, flushes, narrow));
  return assembleModule(options, [f], importsFma64 ? [FMA64_IMPORT] : []);
}

/**
 * Pushes an i32: 1 when the scalar in local `x` (of the dtype of `ops`) is a normal power of two
 * (either sign), whose reciprocal is then exact and finite; else 0 (zeros, subnormals, infinities,
 * NaN, and every other number).
 */
export function normalPowerOfTwo(f: FunctionBuilder, ops: FloatOps, x: number): void {
  // No fraction bits, and a biased exponent in [1, max - 1]: shifted out of the way as integers.
  if (ops.lanes === 4) {
    f.localGet(x).op(Op.i32ReinterpretF32).i32Const(9).op(Op.i32Shl).op(Op.i32Eqz);
    f.localGet(x).op(Op.i32ReinterpretF32).i32Const(23).op(Op.i32ShrU).i32Const(0xff).op(Op.i32And);
    f.i32Const(1).op(Op.i32Sub).i32Const(0xfe).op(Op.i32LtU);
  } else {
    f.localGet(x).op(Op.i64ReinterpretF64).i64Const(12).op(Op.i64Shl).op(Op.i64Eqz);
    f.localGet(x).op(Op.i64ReinterpretF64).i64Const(52).op(Op.i64ShrU).op(Op.i32WrapI64).i32Const(0x7ff).op(Op.i32And);
    f.i32Const(1).op(Op.i32Sub).i32Const(0x7fe).op(Op.i32LtU);
  }
  f.op(Op.i32And);
}

/** Pushes the operands of a unary or binary node, each from the local `where(operand)`. */
function emitOperands(f: FunctionBuilder, node: LoweredNode, where: (operand: number) => number): FunctionBuilder {
  if (node.kind === 'unary') f.localGet(where(node.a));
  else if (node.kind === 'binary') f.localGet(where(node.a)).localGet(where(node.b));
  return f;
}

/** One element with scalar ops: loads, ops, stores, then every pointer moves on by one element. */
function emitScalarBody(
  f: FunctionBuilder,
  ops: FloatOps,
  nodes: readonly LoweredNode[],
  stores: readonly { stream: number; node: number }[],
  locals: readonly NodeLocals[],
  streams: StreamAddressing,
  fma: FmaEmitter,
  flush: SubnormalFlush | undefined,
  flushes: readonly boolean[],
  narrow: readonly boolean[],
): void {
  nodes.forEach((node, id) => {
    if (node.uniform) return;
    if (node.kind === 'load' && narrow[node.stream]) f.localGet(streams.local(node.stream)).memory(Op.f32Load, 2, streams.offset(node.stream)).op(Op.f64PromoteF32);
    else if (node.kind === 'load') f.localGet(streams.local(node.stream)).memory(ops.load, ops.alignLog2, streams.offset(node.stream));
    else if (node.kind === 'fma') fma.scalar(locals[node.a].scalar, locals[node.b].scalar, locals[node.c].scalar);
    else emitOperands(f, node, (operand) => locals[operand].scalar).op(ops.scalar[node.op]);
    if (flush && (node.kind === 'load' || flushes[id])) flush.scalar();
    f.localSet(locals[id].scalar);
  });
  for (const s of stores) {
    f.localGet(streams.local(s.stream)).localGet(locals[s.node].scalar);
    if (narrow[s.stream]) f.op(Op.f32DemoteF64).memory(Op.f32Store, 2, streams.offset(s.stream));
    else f.memory(ops.store, ops.alignLog2, streams.offset(s.stream));
  }
  streams.advance(ops.bytes);
}

/** How the kernel addresses element i of stream k: `local(k)` plus the constant `offset(k)`. */
interface StreamAddressing {
  local(stream: number): number;
  offset(stream: number): number;
  /** Moves every stream on by `bytes` elements' worth of the program's dtype (half that for a narrow stream). */
  advance(bytes: number): void;
}

/**
 * Without known offsets: each stream's pointer parameter moves on by itself. With them: one byte
 * index, `pointer_0 - offset_0`, after a check that every pointer is its offset plus that index.
 */
function streamAddressing(f: FunctionBuilder, narrow: readonly boolean[], offsets: readonly number[] | undefined): StreamAddressing {
  const streamCount = narrow.length;
  const pointer = (stream: number): number => 1 + stream;
  if (!offsets) {
    return {
      local: pointer,
      offset: () => 0,
      advance: (bytes) => {
        for (let k = 0; k < streamCount; k++) f.addToLocal(pointer(k), narrow[k] ? bytes / 2 : bytes);
      },
    };
  }
  if (offsets.length !== streamCount || offsets.some((o) => !Number.isInteger(o) || o < 0 || o >= 2 ** 32 || o % STREAM_ALIGNMENT !== 0)) {
    throw new RangeError(`streamOffsets must be ${streamCount} multiples of ${STREAM_ALIGNMENT} in [0, 2^32), got [${offsets.join(', ')}]`);
  }
  // The first stream of the program's dtype gives the byte index (a program always writes params).
  const base = narrow.indexOf(false);
  if (base < 0) throw new Error('fused program has no stream of its own dtype');
  const index = f.local(ValType.i32);
  // A narrow stream's index is half the byte index (its elements are half as wide).
  const half = narrow.some(Boolean) ? f.local(ValType.i32) : -1;
  // index = pointer_base - offset_base, which must not wrap below 0 ...
  f.localGet(pointer(base)).i32Const(offsets[base] | 0).op(Op.i32LtU).if().unreachable().end();
  f.localGet(pointer(base)).i32Const(offsets[base] | 0).op(Op.i32Sub).localSet(index);
  if (half >= 0) f.localGet(index).i32Const(1).op(Op.i32ShrU).localSet(half);
  // ... and every other pointer must be at the same index.
  for (let k = 0; k < streamCount; k++) {
    if (k === base) continue;
    f.localGet(pointer(k)).localGet(narrow[k] ? half : index).i32Const(offsets[k] | 0).op(Op.i32Add).op(Op.i32Ne).if().unreachable().end();
  }
  return {
    local: (k) => (narrow[k] ? half : index),
    offset: (k) => offsets[k],
    advance: (bytes) => {
      f.addToLocal(index, bytes);
      if (half >= 0) f.addToLocal(half, bytes / 2);
    },
  };
}

/** The code of a {@link FusedProgram.fast} variant: which nodes run where, and the checks. */
interface FastPlan {
  /** The nodes the checks read, computed before the branch (operands first). */
  readonly checkNodes: readonly number[];
  /** The further nodes of the exact outputs, and of the fast ones. */
  readonly exactNodes: readonly number[];
  readonly fastNodes: readonly number[];
  /**
   * Leaves a lane mask on the stack, all ones in each lane of the vector where a check fails
   * (`vector(id)`: a node's v128 local), and returns true; or returns false, leaving nothing, where
   * there is no per-vector check.
   */
  emitFailMask(vector: (id: number) => number): boolean;
}

/**
 * Plans the code of a fast variant's capped checks (program.ts {@link CappedChecks}) and makes their
 * constants: per vector, `|x| < cap` for each cap, `x == x` for each NaN check, and not -0 for each
 * of `notNegativeZero`, all lanes.
 */
function planCappedChecks(f: FunctionBuilder, ops: FloatOps, nodes: readonly LoweredNode[], stores: readonly { node: number }[], fast: NonNullable<LoweredProgram['fast']>, capped: NonNullable<NonNullable<LoweredProgram['fast']>['capped']>): FastPlan {
  const plan = planNodes(nodes, stores, fast, [...capped.caps, ...capped.notNaN, ...fast.notNegativeZero]);
  const masks = laneMasks(ops);
  const magnitude = f.local(ValType.v128), sign = f.local(ValType.v128), atCap = f.local(ValType.v128);
  f.v128Const(masks.magnitude).localSet(magnitude);
  f.v128Const(masks.sign).localSet(sign);
  // The bits of the largest magnitude below the cap: |x| < cap exactly where the bits of |x|, as
  // integers (not negative), are not above them; NaN's are.
  const f32 = ops.lanes === 4;
  const capBits = f32 ? new Int32Array(new Float32Array([2 ** capped.capLog2]).buffer)[0] - 1 : new BigInt64Array(new Float64Array([2 ** capped.capLog2]).buffer)[0] - 1n;
  // A v128.const, not an i32x4.splat: V8 keeps the former in a register through the loop, but
  // rebuilds the latter (mov, movd, pshufd) at every use.
  const capLanes = f32 ? new Int32Array(4).fill(capBits as number) : new BigInt64Array(2).fill(capBits as bigint);
  f.v128Const([...new Uint8Array(capLanes.buffer)]).localSet(atCap);
  return {
    ...plan,
    emitFailMask(vector) {
      // fails = a cap exceeded (float32: the largest magnitude bits of the caps, i32x4.max_s) ...
      let first = true;
      const or = (): void => { if (!first) f.simd(SimdOp.v128Or); first = false; };
      if (f32 && capped.caps.length > 0) {
        capped.caps.forEach((x, j) => {
          f.localGet(vector(x)).localGet(magnitude).simd(SimdOp.v128And);
          if (j > 0) f.simd(SimdOp.i32x4MaxS);
        });
        f.localGet(atCap).simd(SimdOp.i32x4GtS);
        first = false;
      } else {
        for (const x of capped.caps) { f.localGet(vector(x)).localGet(magnitude).simd(SimdOp.v128And).localGet(atCap).simd(SimdOp.i64x2GtS); or(); }
      }
      // ... or a NaN (x != x), or a -0 (its bits are the sign bit).
      for (const x of capped.notNaN) { f.localGet(vector(x)).localGet(vector(x)).simd(ops.vectorNe); or(); }
      for (const x of fast.notNegativeZero) { f.localGet(vector(x)).localGet(sign).simd(f32 ? SimdOp.i32x4Eq : SimdOp.i64x2Eq); or(); }
      return !first;
    },
  };
}

/**
 * Leaves an i32 on the stack: 1 when every per-call check of `capped` holds, evaluated with the
 * scalar ops of the dtype (`scalar(name)`: the local of a scalar of the program).
 */
function emitUniformChecks(f: FunctionBuilder, ops: FloatOps, capped: NonNullable<NonNullable<LoweredProgram['fast']>['capped']>, scalar: (name: string) => number): void {
  const constant = (x: number): void => { if (ops.lanes === 4) f.f32Const(x); else f.f64Const(x); };
  const emit = (e: Expr): void => {
    switch (e.kind) {
      case 'scalar':
        if (e.name === CAP_CONSTANT) constant(2 ** capped.capLog2);
        else if (e.name === ZERO_CONSTANT) constant(0);
        else f.localGet(scalar(e.name));
        return;
      case 'unary':
        if (e.op === 'sqrt') break;
        emit(e.a);
        f.op(ops.scalar[e.op]);
        return;
      case 'binary':
        if (e.op === 'sub' || e.op === 'min') break;
        emit(e.a);
        emit(e.b);
        f.op(ops.scalar[e.op]);
        return;
      default:
        break;
    }
    throw new Error(`capped check: unexpected ${e.kind} in a per-call bound`);
  };
  f.i32Const(1);
  for (const c of capped.uniform) {
    emit(c.a);
    if (c.b) { emit(c.b); constant(2 ** c.k); f.op(ops.scalar.mul); } else constant(2 ** c.k);
    f.op(ops.lt).op(Op.i32And);
  }
}

/** The nodes a fast variant's checks (whose values are `checkRoots`) read, and the further nodes of its exact and fast outputs. */
function planNodes(nodes: readonly LoweredNode[], stores: readonly { node: number }[], fast: NonNullable<LoweredProgram['fast']>, checkRoots: readonly number[]): Omit<FastPlan, 'emitFailMask'> {
  const closure = (roots: readonly number[]): Set<number> => {
    const seen = new Set<number>();
    const visit = (id: number): void => {
      if (seen.has(id)) return;
      seen.add(id);
      const n = nodes[id];
      if (n.kind === 'unary') visit(n.a);
      else if (n.kind === 'binary') { visit(n.a); visit(n.b); }
      else if (n.kind === 'fma') { visit(n.a); visit(n.b); visit(n.c); }
    };
    roots.forEach(visit);
    return seen;
  };
  const computed = (set: Set<number>, except?: Set<number>): number[] => nodes.flatMap((n, id) => (set.has(id) && !n.uniform && n.kind !== 'load' && !except?.has(id) ? [id] : []));
  const checked = closure(checkRoots);
  return {
    checkNodes: computed(checked),
    exactNodes: computed(closure(stores.map((s) => s.node)), checked),
    fastNodes: computed(closure(fast.stores.map((s) => s.node)), checked),
  };
}

/** Plans a fast variant's code and makes its constants (call before the loops). */
function planFastVariant(f: FunctionBuilder, ops: FloatOps, nodes: readonly LoweredNode[], stores: readonly { node: number }[], fast: NonNullable<LoweredProgram['fast']>): FastPlan {
  const plan = planNodes(nodes, stores, fast, [...fast.below.flatMap((c) => (c.b === undefined ? [c.a] : [c.a, c.b])), ...fast.notNegativeZero]);
  const limits = new Map<number, number>();
  for (const c of fast.below) {
    if (limits.has(c.k)) continue;
    const local = f.local(ValType.v128);
    (ops.lanes === 4 ? f.f32Const(2 ** c.k) : f.f64Const(2 ** c.k)).simd(ops.splat).localSet(local);
    limits.set(c.k, local);
  }
  const sign = f.local(ValType.v128);
  f.v128Const(Array.from({ length: 16 }, (_, i) => ops.signBit[i % ops.bytes])).localSet(sign);
  return {
    ...plan,
    emitFailMask(vector) {
      // ok = every `a < b * 2^k` (false for NaN); fails = !ok, or a lane that is -0 (its bits are the sign bit).
      let first = true;
      for (const c of fast.below) {
        f.localGet(vector(c.a));
        if (c.b === undefined) f.localGet(limits.get(c.k)!);
        else f.localGet(vector(c.b)).localGet(limits.get(c.k)!).simd(ops.vector.mul);
        f.simd(ops.vectorLt);
        if (!first) f.simd(SimdOp.v128And);
        first = false;
      }
      if (!first) f.simd(SimdOp.v128Not);
      for (const x of fast.notNegativeZero) {
        f.localGet(vector(x)).localGet(sign).simd(ops.lanes === 4 ? SimdOp.i32x4Eq : SimdOp.i64x2Eq);
        if (!first) f.simd(SimdOp.v128Or);
        first = false;
      }
      return !first; // masks: a lane is all ones where a check fails
    },
  };
}

/**
 * The WebAssembly opcodes the kernel emitters use (core spec section 5.4, and the fixed-width SIMD
 * proposal, merged into WebAssembly 2.0). SIMD instructions are the prefix byte {@link SIMD_PREFIX}
 * followed by their sub-opcode as an unsigned LEB128.
 *
 * `pmin`/`pmax` (which return an operand as is, NaN or not) are listed only as building blocks of the
 * exact `min`/`max` sequences of `vector-ops.ts`; nothing uses them alone.
 */

/** Value types. */
export const ValType = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const;
export type ValType = (typeof ValType)[keyof typeof ValType];

/** Block type of a block/loop/if without a result. */
export const BLOCK_EMPTY = 0x40;
/** Type constructor of a function type. */
export const FUNC_TYPE = 0x60;

/** Section ids. */
export const Section = { type: 1, import: 2, function: 3, export: 7, code: 10 } as const;

/** Import/export kinds. */
export const ExternalKind = { function: 0x00, memory: 0x02 } as const;

/** Core (one-byte) opcodes. */
export const Op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  call: 0x10,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  f32Load: 0x2a,
  f64Load: 0x2b,
  f32Store: 0x38,
  f64Store: 0x39,
  i32Const: 0x41,
  f32Const: 0x43,
  f64Const: 0x44,
  f32DemoteF64: 0xb6,
  f64PromoteF32: 0xbb,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtU: 0x49,
  f32Eq: 0x5b,
  f32Lt: 0x5d,
  f32Ge: 0x60,
  f64Ge: 0x66,
  f64Lt: 0x63,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Or: 0x72,
  select: 0x1b,
  i64Const: 0x42,
  i64Eqz: 0x50,
  f64Eq: 0x61,
  f64Ne: 0x62,
  f64Gt: 0x64,
  i64Add: 0x7c,
  i64And: 0x83,
  i64Or: 0x84,
  i64Xor: 0x85,
  i64ShrS: 0x87,
  f64Abs: 0x99,
  f64Trunc: 0x9d,
  f64Add: 0xa0,
  f64Sub: 0xa1,
  f64Mul: 0xa2,
  f64Div: 0xa3,
  i64ReinterpretF64: 0xbd,
  f64ReinterpretI64: 0xbf,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  i32ReinterpretF32: 0xbc,
  i64Shl: 0x86,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
} as const;

/** The prefix byte of every SIMD instruction. */
export const SIMD_PREFIX = 0xfd;

/** SIMD sub-opcodes (after {@link SIMD_PREFIX}). */
export const SimdOp = {
  v128Load: 0x00,
  v128Store: 0x0b,
  v128Const: 0x0c,
  i8x16Shuffle: 0x0d,
  i32x4Splat: 0x11,
  i32x4Eq: 0x37,
  f32x4Splat: 0x13,
  f64x2Splat: 0x14,
  f32x4ExtractLane: 0x1f,
  f32x4ReplaceLane: 0x20,
  f64x2ExtractLane: 0x21,
  f64x2ReplaceLane: 0x22,
  i32x4Ne: 0x38,
  i32x4GtS: 0x3b,
  i32x4MaxS: 0xb8,
  f32x4Lt: 0x43,
  f64x2Lt: 0x49,
  f64x2Eq: 0x47,
  f64x2Ne: 0x48,
  f64x2Gt: 0x4a,
  f64x2Ge: 0x4c,
  v128Not: 0x4d,
  v128And: 0x4e,
  v128AndNot: 0x4f,
  v128Or: 0x50,
  v128Xor: 0x51,
  v128Bitselect: 0x52,
  v128AnyTrue: 0x53,
  v128Store64Lane: 0x5b,
  v128Load64Zero: 0x5d,
  f32x4DemoteF64x2Zero: 0x5e,
  f64x2PromoteLowF32x4: 0x5f,
  i32x4AllTrue: 0xa3,
  i32x4Shl: 0xab,
  /**
   * The lanes' top bits as an i32. On masks (lanes all ones or all zeros) a test for any set lane, as
   * `v128.any_true`, which V8 lowers to `ptest` + `setnz` + `test` before the branch; this is one
   * `movmskps` (measured: the traced adamax kernel in cache, 2.13x -> 2.08x plain adamax).
   */
  i32x4Bitmask: 0xa4,
  i32x4LeU: 0x3e,
  i32x4MaxU: 0xb9,
  i64x2Add: 0xce,
  i64x2Eq: 0xd6,
  i64x2GtS: 0xd9,
  f64x2Abs: 0xec,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
  /** Relaxed SIMD: `a * b + c`, fused or not at the engine's choice (see relaxed-madd.ts). */
  f32x4RelaxedMadd: 0x105,
  /** Relaxed SIMD: `a * b + c` of f64x2, fused or not at the engine's choice (see relaxed-madd.ts). */
  f64x2RelaxedMadd: 0x107,
} as const;

/** Scalar and SIMD opcodes of one float type: what the emitters need to generate arithmetic. */
export interface FloatOps {
  /** Bytes per element. */
  readonly bytes: 4 | 8;
  /** log2 of the bytes per element (natural alignment of a scalar access). */
  readonly alignLog2: 2 | 3;
  /** Elements per v128. */
  readonly lanes: 4 | 2;
  readonly valType: ValType;
  readonly load: number;
  readonly store: number;
  readonly lt: number;
  readonly splat: number;
  readonly extractLane: number;
  readonly vectorLt: number;
  /** `ne` lane by lane (all-ones where the lanes differ or either is NaN). */
  readonly vectorNe: number;
  /** `pmin(a, b) = b < a ? b : a` and `pmax(a, b) = a < b ? b : a`, lane by lane. */
  readonly vectorPmin: number;
  readonly vectorPmax: number;
  /** One lane's sign bit, as little-endian bytes (the mask of `neg`; its complement is the mask of `abs`). */
  readonly signBit: readonly number[];
  /** Scalar opcodes of the kernel ops (one byte). */
  readonly scalar: Readonly<Record<'abs' | 'neg' | 'sqrt' | 'add' | 'sub' | 'mul' | 'div' | 'min' | 'max', number>>;
  /** SIMD sub-opcodes of the kernel ops. */
  readonly vector: Readonly<Record<'abs' | 'neg' | 'sqrt' | 'add' | 'sub' | 'mul' | 'div' | 'min' | 'max', number>>;
}

/** The opcodes of float32 (`f32`, `f32x4`). */
export const F32: FloatOps = {
  bytes: 4,
  alignLog2: 2,
  lanes: 4,
  valType: ValType.f32,
  load: Op.f32Load,
  store: Op.f32Store,
  lt: Op.f32Lt,
  splat: SimdOp.f32x4Splat,
  extractLane: SimdOp.f32x4ExtractLane,
  vectorLt: SimdOp.f32x4Lt,
  vectorNe: 0x42,
  vectorPmin: 0xea,
  vectorPmax: 0xeb,
  signBit: [0, 0, 0, 0x80],
  scalar: { abs: 0x8b, neg: 0x8c, sqrt: 0x91, add: 0x92, sub: 0x93, mul: 0x94, div: 0x95, min: 0x96, max: 0x97 },
  vector: { abs: 0xe0, neg: 0xe1, sqrt: 0xe3, add: 0xe4, sub: 0xe5, mul: 0xe6, div: 0xe7, min: 0xe8, max: 0xe9 },
};

/** The opcodes of float64 (`f64`, `f64x2`). */
export const F64: FloatOps = {
  bytes: 8,
  alignLog2: 3,
  lanes: 2,
  valType: ValType.f64,
  load: Op.f64Load,
  store: Op.f64Store,
  lt: Op.f64Lt,
  splat: SimdOp.f64x2Splat,
  extractLane: SimdOp.f64x2ExtractLane,
  vectorLt: SimdOp.f64x2Lt,
  vectorNe: 0x48,
  vectorPmin: 0xf6,
  vectorPmax: 0xf7,
  signBit: [0, 0, 0, 0, 0, 0, 0, 0x80],
  scalar: { abs: 0x99, neg: 0x9a, sqrt: 0x9f, add: 0xa0, sub: 0xa1, mul: 0xa2, div: 0xa3, min: 0xa4, max: 0xa5 },
  vector: { abs: 0xec, neg: 0xed, sqrt: 0xef, add: 0xf0, sub: 0xf1, mul: 0xf2, div: 0xf3, min: 0xf4, max: 0xf5 },
};

/** The opcodes of a dtype. */
export function floatOps(dtype: 'float32' | 'float64'): FloatOps {
  return dtype === 'float32' ? F32 : F64;
}

/** log2 of the natural alignment of a v128 access (16 bytes). */
export const V128_ALIGN_LOG2 = 4;

import { ByteWriter } from './encoder.js';
import { BLOCK_EMPTY, Op, SIMD_PREFIX, SimdOp, type ValType } from './opcodes.js';

/**
 * Builds the body of one WebAssembly function: declares its locals and writes its instructions.
 * Parameters are locals `0 .. params.length - 1`; {@link FunctionBuilder.local} adds locals after them.
 * The methods are the instructions the kernel emitters need, named after their text format.
 */
export class FunctionBuilder {
  readonly code = new ByteWriter();
  private readonly extraLocals: ValType[] = [];
  /** How many blocks (`block`, `loop`, `if`) enclose the next instruction. */
  private depth = 0;

  constructor(
    /** Exported name. */
    readonly name: string,
    readonly params: readonly ValType[],
    readonly results: readonly ValType[],
  ) {}

  /** Declares a new local of `type` and returns its index. */
  local(type: ValType): number {
    this.extraLocals.push(type);
    return this.params.length + this.extraLocals.length - 1;
  }

  /** A one-byte instruction without immediates (arithmetic, `end`, ...). */
  op(opcode: number): this {
    this.code.byte(opcode);
    return this;
  }

  /** A SIMD instruction without immediates. */
  simd(subOpcode: number): this {
    this.code.byte(SIMD_PREFIX).u32(subOpcode);
    return this;
  }

  /** `v128.const` with its 16 bytes (little-endian lanes). */
  v128Const(bytes: readonly number[]): this {
    if (bytes.length !== 16) throw new RangeError(`v128.const takes 16 bytes, got ${bytes.length}`);
    this.code.byte(SIMD_PREFIX).u32(SimdOp.v128Const).bytes(bytes);
    return this;
  }

  /** `i8x16.shuffle` with its 16 lane indices (0-15 pick from the first operand, 16-31 from the second). */
  shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16 || lanes.some((l) => !Number.isInteger(l) || l < 0 || l > 31)) throw new RangeError(`i8x16.shuffle takes 16 lane indices in [0, 32), got [${lanes.join(', ')}]`);
    this.code.byte(SIMD_PREFIX).u32(SimdOp.i8x16Shuffle).bytes(lanes);
    return this;
  }

  /** A SIMD lane instruction (`extract_lane`) with its lane index. */
  simdLane(subOpcode: number, lane: number): this {
    this.code.byte(SIMD_PREFIX).u32(subOpcode).byte(lane);
    return this;
  }

  /** A SIMD memory instruction (`v128.load/store`) with its alignment hint (log2) and constant offset. */
  simdMemory(subOpcode: number, alignLog2: number, offset: number): this {
    this.code.byte(SIMD_PREFIX).u32(subOpcode).u32(alignLog2).u32(offset);
    return this;
  }

  /** A SIMD lane memory instruction (`v128.store64_lane`) with its alignment hint, offset and lane. */
  simdMemoryLane(subOpcode: number, alignLog2: number, offset: number, lane: number): this {
    this.code.byte(SIMD_PREFIX).u32(subOpcode).u32(alignLog2).u32(offset).byte(lane);
    return this;
  }

  /** A scalar memory instruction (`f32.load`, ...) with its alignment hint (log2) and constant offset. */
  memory(opcode: number, alignLog2: number, offset: number): this {
    this.code.byte(opcode).u32(alignLog2).u32(offset);
    return this;
  }

  /** `call` of the function with this index (the module's imported functions come first). */
  call(index: number): this {
    this.code.byte(Op.call).u32(index);
    return this;
  }

  localGet(index: number): this {
    this.code.byte(Op.localGet).u32(index);
    return this;
  }

  localSet(index: number): this {
    this.code.byte(Op.localSet).u32(index);
    return this;
  }

  localTee(index: number): this {
    this.code.byte(Op.localTee).u32(index);
    return this;
  }

  i32Const(value: number): this {
    this.code.byte(Op.i32Const).s32(value);
    return this;
  }

  /** `i64.const` of a small integer (|value| < 2^31). */
  i64Const(value: number): this {
    this.code.byte(Op.i64Const).s32(value);
    return this;
  }

  f32Const(value: number): this {
    this.code.byte(Op.f32Const).f32(value);
    return this;
  }

  f64Const(value: number): this {
    this.code.byte(Op.f64Const).f64(value);
    return this;
  }

  /** `block` without a result; close it with {@link FunctionBuilder.end}. */
  block(): this {
    this.code.byte(Op.block).byte(BLOCK_EMPTY);
    this.depth++;
    return this;
  }

  /**
   * The label of the innermost open block (call right after opening it): {@link FunctionBuilder.brTo}
   * and {@link FunctionBuilder.brIfTo} branch to it from any depth inside it.
   */
  label(): number {
    return this.depth;
  }

  /** `br` to a {@link FunctionBuilder.label} (a block: past its end; a loop: to its start). */
  brTo(label: number): this {
    this.code.byte(Op.br).u32(this.relativeDepth(label));
    return this;
  }

  /** `br_if` to a {@link FunctionBuilder.label}. */
  brIfTo(label: number): this {
    this.code.byte(Op.brIf).u32(this.relativeDepth(label));
    return this;
  }

  private relativeDepth(label: number): number {
    if (!Number.isInteger(label) || label < 1 || label > this.depth) throw new Error(`branch to label ${label} from depth ${this.depth}: that block is not open`);
    return this.depth - label;
  }

  /**
   * `if` (on the i32 on the stack), without a result or with one value of type `result`; close it
   * with {@link FunctionBuilder.end} (after {@link FunctionBuilder.else} when it has a result).
   */
  if(result?: ValType): this {
    this.code.byte(Op.if).byte(result ?? BLOCK_EMPTY);
    this.depth++;
    return this;
  }

  /** `else` of an {@link FunctionBuilder.if}. */
  else(): this {
    this.code.byte(Op.else);
    return this;
  }

  /** `unreachable`: traps. */
  unreachable(): this {
    this.code.byte(Op.unreachable);
    return this;
  }

  /** `loop` without a result; close it with {@link FunctionBuilder.end}. */
  loop(): this {
    this.code.byte(Op.loop).byte(BLOCK_EMPTY);
    this.depth++;
    return this;
  }

  brIf(depth: number): this {
    this.code.byte(Op.brIf).u32(depth);
    return this;
  }

  end(): this {
    if (this.depth === 0) throw new Error('end: no block is open');
    this.code.byte(Op.end);
    this.depth--;
    return this;
  }

  /** `local[index] += delta` for an i32 local. */
  addToLocal(index: number, delta: number): this {
    return this.localGet(index).i32Const(delta).op(Op.i32Add).localSet(index);
  }

  /** The function's entry in the code section: its size, locals (run-length encoded), body and `end`. */
  encodeBody(): ByteWriter {
    if (this.depth !== 0) throw new Error(`function ${this.name}: ${this.depth} block(s) left open`);
    const body = new ByteWriter();
    const runs: { type: ValType; count: number }[] = [];
    for (const type of this.extraLocals) {
      const last = runs[runs.length - 1];
      if (last && last.type === type) last.count++;
      else runs.push({ type, count: 1 });
    }
    body.u32(runs.length);
    for (const run of runs) body.u32(run.count).byte(run.type);
    body.bytes(this.code.toBytes()).byte(Op.end);
    return body;
  }
}

/**
 * A counted loop: runs `emitBody` `count` times, where `count` is an i32 local that the loop consumes
 * (it ends at 0). Nothing runs when `count` is 0 on entry. Counting down avoids comparing pointers,
 * which could wrap at the top of a 4 GiB memory.
 */
export function countedLoop(f: FunctionBuilder, count: number, emitBody: () => void): void {
  f.block();
  f.localGet(count).op(Op.i32Eqz).brIf(0);
  f.loop();
  emitBody();
  f.localGet(count).i32Const(1).op(Op.i32Sub).localTee(count).brIf(0);
  f.end();
  f.end();
}

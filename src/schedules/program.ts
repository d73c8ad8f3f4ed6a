/**
 * A schedule compiled to a flat program over registers, for the fused engine's per-step evaluation.
 *
 * A schedule's formula (written once against {@link ScheduleArith}) evaluated on numbers creates
 * closures (`select`'s branches) and passes doubles through calls V8 does not inline (glibc's pow),
 * each a new heap object: a step that evaluates a schedule then allocates (issue 10). Here the formula
 * runs once, at compile time, against a recording interpretation whose values are registers: every
 * operation on a count-dependent value becomes an instruction, every operation on constants is
 * evaluated then and there by the number interpretation (the same functions: the same bits), and a
 * `select` becomes a conditional jump, so that only the branch jnp.where selects runs (as eagerly).
 * The rewrites traced XLA applies are the same code as the number interpretation's (arith.ts's
 * `eagerOps`/`tracedOps`, over this recorder's primitives). Running the program reads and writes a
 * Float64Array only: nothing is allocated per step.
 *
 * A schedule without a formula (a user's function) is called as it is, from an instruction.
 *
 * @internal
 */
import type { Dtype } from '../core/dtype.js';
import type { Schedule } from '../core/schedule.js';
import { callSchedule } from '../core/schedule.js';
import { safeIncrement } from '../core/numerics.js';
import { type ArithPrimitives, type ScheduleArith, eagerArith, eagerOps, fma, tracedArith, tracedFormLookup, tracedOps } from './arith.js';
import { add, cos, cosAt, div, fromInt, mul, powAt, res, sub, subInt32, toDtype } from './float.js';
import { scheduleFormula, tracedSchedule } from './typed.js';

/** A value of the recording interpretation: the register that holds it. */
class Reg {
  constructor(readonly index: number) {}
}
type Operand = Reg | number | boolean;

// Instructions: [op, dtype (0 float32, 1 float64), a, b, c, out], registers by index.
const ADD = 0, SUB = 1, MUL = 2, DIV = 3, NEG = 4, MIN = 5, MAX = 6, FLOOR = 7, COS = 8, POW = 9, FROM_INT = 10,
  CONVERT = 11, CAST = 12, INCREMENT = 13, SUB_INT = 14, CLAMP_INT = 15, LE = 16, LT = 17, AND = 18, FMA = 19,
  CALL = 20, JUMP_UNLESS = 21, JUMP = 22, MOVE = 23;
const WIDTH = 6;
/** Register 0 holds the count. */
const COUNT = 0;

const dtypeOf = (code: number): Dtype => (code === 0 ? 'float32' : 'float64');

/**
 * The arithmetic instructions, by opcode: each reads its operands from registers and writes its result
 * to one, so that no double crosses a call. V8 inlines only so much into one function; a double
 * returned by a call it did not inline is a new heap number, while these calls pass only registers'
 * indices (each function inlines its own small callees: ./float.ts's).
 */
type Instruction = (d: Dtype, r: Float64Array, a: number, b: number, c: number, o: number) => void;
const OPS: readonly Instruction[] = [
  (d, r, a, b, _c, o) => { r[o] = add(d, r[a], r[b]); },
  (d, r, a, b, _c, o) => { r[o] = sub(d, r[a], r[b]); },
  (d, r, a, b, _c, o) => { r[o] = mul(d, r[a], r[b]); },
  (d, r, a, b, _c, o) => { r[o] = div(d, r[a], r[b]); },
  (_d, r, a, _b, _c, o) => { r[o] = eagerArith.neg(r[a]) as number; },
  (_d, r, a, b, _c, o) => { r[o] = eagerArith.min(r[a], r[b]) as number; },
  (_d, r, a, b, _c, o) => { r[o] = eagerArith.max(r[a], r[b]) as number; },
  (_d, r, a, _b, _c, o) => { r[o] = eagerArith.floor(r[a]) as number; },
  (d, r, a, _b, _c, o) => { cosAt(d, r, a, o); },
  (d, r, a, b, _c, o) => { powAt(d, r, a, b, o); },
  (d, r, a, _b, _c, o) => { r[o] = fromInt(d, r[a]); },
  (d, r, a, _b, _c, o) => { r[o] = res(d, r[a]); },
  (d, r, a, _b, _c, o) => { r[o] = toDtype(d, r[a]); },
  (_d, r, a, _b, _c, o) => { r[o] = safeIncrement(r[a]); },
  (_d, r, a, b, _c, o) => { r[o] = subInt32(r[a], r[b]); },
  (_d, r, a, b, c, o) => { r[o] = eagerArith.clampInt(r[a], r[b], r[c]) as number; },
  (_d, r, a, b, _c, o) => { r[o] = eagerArith.le(r[a], r[b]) ? 1 : 0; },
  (_d, r, a, b, _c, o) => { r[o] = eagerArith.lt(r[a], r[b]) ? 1 : 0; },
  (_d, r, a, b, _c, o) => { r[o] = r[a] !== 0 && r[b] !== 0 ? 1 : 0; },
  (d, r, a, b, c, o) => { r[o] = fma(d, r[a], r[b], r[c]); },
];

/** Records a formula's operations on the count (see the module comment). */
class Recorder implements ScheduleArith<Reg, Reg>, ArithPrimitives<Reg> {
  readonly code: number[] = [];
  readonly initial: number[] = [0];
  readonly calls: Schedule[] = [];
  readonly base: ScheduleArith<number, boolean>;
  readonly divConst: ScheduleArith<Reg, Reg>['divConst'];
  readonly scaleDivConst: ScheduleArith<Reg, Reg>['scaleDivConst'];
  readonly oneMinusDivConst: ScheduleArith<Reg, Reg>['oneMinusDivConst'];
  readonly mulAdd: ScheduleArith<Reg, Reg>['mulAdd'];
  readonly powConst: ScheduleArith<Reg, Reg>['powConst'];
  readonly mulDivConst: ScheduleArith<Reg, Reg>['mulDivConst'];
  readonly mulDivConstAdd: ScheduleArith<Reg, Reg>['mulDivConstAdd'];
  readonly constSub: ScheduleArith<Reg, Reg>['constSub'];
  readonly constMul: ScheduleArith<Reg, Reg>['constMul'];
  readonly constDiv: ScheduleArith<Reg, Reg>['constDiv'];

  constructor(readonly traced: boolean) {
    this.base = traced ? tracedArith : eagerArith;
    const ops = (traced ? tracedOps : eagerOps)<Reg>(this);
    this.divConst = ops.divConst; this.scaleDivConst = ops.scaleDivConst; this.oneMinusDivConst = ops.oneMinusDivConst;
    this.mulAdd = ops.mulAdd; this.powConst = ops.powConst; this.mulDivConst = ops.mulDivConst;
    this.mulDivConstAdd = ops.mulDivConstAdd; this.constSub = ops.constSub; this.constMul = ops.constMul; this.constDiv = ops.constDiv;
  }

  readonly count = new Reg(COUNT);

  /** A value given at each run (a formula's input), in a register of its own. */
  input(): Reg {
    return new Reg(this.register());
  }

  private register(value = 0): number {
    this.initial.push(value);
    return this.initial.length - 1;
  }
  /** The register of an operand (a constant gets one of its own, holding it from the start). */
  private at(x: Operand): number {
    if (x instanceof Reg) return x.index;
    return this.register(typeof x === 'boolean' ? (x ? 1 : 0) : x);
  }
  private emit(op: number, d: Dtype | undefined, a: Operand, b: Operand = 0, c: Operand = 0): Reg {
    const out = this.register();
    this.code.push(op, d === 'float64' ? 1 : 0, this.at(a), this.at(b), this.at(c), out);
    return new Reg(out);
  }
  private static constant(...xs: unknown[]): boolean {
    return xs.every((x) => !(x instanceof Reg));
  }

  add(d: Dtype, a: Reg | number, b: Reg | number): Reg | number { return Recorder.constant(a, b) ? add(d, a as number, b as number) : this.emit(ADD, d, a, b); }
  sub(d: Dtype, a: Reg | number, b: Reg | number): Reg | number { return Recorder.constant(a, b) ? sub(d, a as number, b as number) : this.emit(SUB, d, a, b); }
  mul(d: Dtype, a: Reg | number, b: Reg | number): Reg | number { return Recorder.constant(a, b) ? mul(d, a as number, b as number) : this.emit(MUL, d, a, b); }
  div(d: Dtype, a: Reg | number, b: Reg | number): Reg | number { return Recorder.constant(a, b) ? div(d, a as number, b as number) : this.emit(DIV, d, a, b); }
  neg(x: Reg | number): Reg | number { return Recorder.constant(x) ? this.base.neg(x as number) : this.emit(NEG, undefined, x); }
  min(a: Reg | number, b: Reg | number): Reg | number { return Recorder.constant(a, b) ? this.base.min(a as number, b as number) : this.emit(MIN, undefined, a, b); }
  max(a: Reg | number, b: Reg | number): Reg | number { return Recorder.constant(a, b) ? this.base.max(a as number, b as number) : this.emit(MAX, undefined, a, b); }
  floor(x: Reg | number): Reg | number { return Recorder.constant(x) ? this.base.floor(x as number) : this.emit(FLOOR, undefined, x); }
  cos(d: Dtype, x: Reg | number): Reg | number { return Recorder.constant(x) ? cos(d, x as number) : this.emit(COS, d, x); }
  pow(d: Dtype, x: Reg | number, y: Reg | number): Reg | number { return Recorder.constant(x, y) ? this.base.pow(d, x as number, y as number) : this.emit(POW, d, x, y); }
  fma(d: Dtype, a: Reg | number, b: Reg | number, c: Reg | number): Reg | number { return Recorder.constant(a, b, c) ? fma(d, a as number, b as number, c as number) : this.emit(FMA, d, a, b, c); }
  fromInt(d: Dtype, n: Reg | number): Reg | number { return Recorder.constant(n) ? fromInt(d, n as number) : this.emit(FROM_INT, d, n); }
  convert(d: Dtype, x: Reg | number): Reg | number { return Recorder.constant(x) ? res(d, x as number) : this.emit(CONVERT, d, x); }
  cast(d: Dtype, x: Reg | number): Reg | number { return Recorder.constant(x) ? toDtype(d, x as number) : this.emit(CAST, d, x); }
  increment(x: Reg | number): Reg | number { return Recorder.constant(x) ? safeIncrement(x as number) : this.emit(INCREMENT, undefined, x); }
  subInt(a: Reg | number, b: Reg | number): Reg | number { return Recorder.constant(a, b) ? subInt32(a as number, b as number) : this.emit(SUB_INT, undefined, a, b); }
  clampInt(x: Reg | number, lo: number, hi: number): Reg | number { return Recorder.constant(x) ? this.base.clampInt(x as number, lo, hi) : this.emit(CLAMP_INT, undefined, x, lo, hi); }
  le(a: Reg | number, b: Reg | number): Reg | boolean { return Recorder.constant(a, b) ? (a as number) <= (b as number) : this.emit(LE, undefined, a, b); }
  lt(a: Reg | number, b: Reg | number): Reg | boolean { return Recorder.constant(a, b) ? (a as number) < (b as number) : this.emit(LT, undefined, a, b); }
  and(a: Reg | boolean, b: Reg | boolean): Reg | boolean {
    if (typeof a === 'boolean') return a ? b : false;
    if (typeof b === 'boolean') return b ? a : false;
    return this.emit(AND, undefined, a, b);
  }
  indicator(_d: Dtype, c: Reg | boolean): Reg | number {
    // Registers hold a condition as 1 or 0 already.
    return typeof c === 'boolean' ? (c ? 1 : 0) : c;
  }
  select(c: Reg | boolean, then: () => Reg | number, otherwise: () => Reg | number): Reg | number {
    if (typeof c === 'boolean') return c ? then() : otherwise();
    // JUMP_UNLESS c -> else; then; out = then's value; JUMP -> end; else: otherwise; out = its value; end.
    const out = this.register();
    const unless = this.code.length;
    this.code.push(JUMP_UNLESS, 0, c.index, 0, 0, -1);
    this.code.push(MOVE, 0, this.at(then()), 0, 0, out);
    const jump = this.code.length;
    this.code.push(JUMP, 0, 0, 0, 0, -1);
    this.code[unless + 5] = this.code.length;
    this.code.push(MOVE, 0, this.at(otherwise()), 0, 0, out);
    this.code[jump + 5] = this.code.length;
    return new Reg(out);
  }
  isValue(x: unknown): boolean {
    return x instanceof Reg || typeof x === 'number';
  }
  call(schedule: Schedule, count: Reg | number): Reg | number {
    const formula = scheduleFormula(schedule);
    // An optax-ts schedule's formula runs inline (its traced form is the same formula, traced).
    if (formula) return formula(count, this);
    // Any other function is called at each step (never now: it may have effects, or throw).
    this.calls.push(this.traced ? tracedFormLookup(schedule) : schedule);
    const out = this.register();
    this.code.push(CALL, 0, this.at(count), this.calls.length - 1, 0, out); // b: the function's index
    return new Reg(out);
  }
}

/** A recorded formula's instructions and registers, run from a count. */
class Program {
  protected readonly code: Int32Array;
  protected readonly registers: Float64Array;
  private readonly calls: readonly Schedule[];
  /** Set by {@link run} when a called function did not return a number (the program's value is then not valid). */
  protected foreignFailed = false;

  protected constructor(recorder: Recorder) {
    this.code = Int32Array.from(recorder.code);
    this.registers = Float64Array.from(recorder.initial);
    this.calls = recorder.calls.slice();
  }

  protected run(count: number): void {
    const code = this.code, r = this.registers;
    r[COUNT] = count;
    let pc = 0;
    while (pc < code.length) {
      const op = code[pc], a = code[pc + 2], b = code[pc + 3], c = code[pc + 4], o = code[pc + 5];
      const d = dtypeOf(code[pc + 1]);
      pc += WIDTH;
      if (op < CALL) OPS[op](d, r, a, b, c, o);
      else if (op === CALL) this.callForeign(r, a, b, o);
      else if (op === JUMP_UNLESS) { if (r[a] === 0) pc = o; }
      else if (op === JUMP) pc = o;
      else r[o] = r[a]; // MOVE
    }
  }

  private callForeign(r: Float64Array, a: number, b: number, o: number): void {
    const value: unknown = this.calls[b](r[a]);
    if (typeof value === 'number') r[o] = value;
    else this.foreignFailed = true;
  }
}

/** A schedule compiled to a program (see the module comment). */
export class ScheduleProgram extends Program {
  private readonly result: number;

  private constructor(recorder: Recorder, result: number) {
    super(recorder);
    this.result = result;
  }

  /**
   * The program of `schedule` (its traced form when `traced`), or undefined when its formula cannot
   * be recorded (it then runs as it is).
   */
  static compile(schedule: Schedule, traced: boolean): ScheduleProgram | undefined {
    const recorder = new Recorder(traced);
    let value: unknown;
    try {
      value = recorder.call(schedule, recorder.count);
    } catch {
      return undefined;
    }
    if (!(value instanceof Reg) && typeof value !== 'number') return undefined;
    const result = value instanceof Reg ? value.index : recorder.initial.push(value) - 1;
    return new ScheduleProgram(recorder, result);
  }

  /**
   * Writes the schedule's value at `count` (an int32) into `out[at]`; false (nothing written) when a
   * function it calls returned something other than a number: the caller then calls the schedule
   * itself, for its error.
   */
  writeInto(out: Float64Array, at: number, count: number): boolean {
    this.foreignFailed = false;
    this.run(count);
    if (this.foreignFailed) return false;
    out[at] = this.registers[this.result];
    return true;
  }
}

/**
 * A formula of the count and of inputs, written against {@link ScheduleArith} and returning named
 * values: how an `injectHyperparams` stage's scalars follow from its hyperparameters
 * (`ElementwiseDefinition.injectable`).
 */
export type ArithFormula = <V, B>(inputs: readonly (V | number)[], count: V | number, arith: ScheduleArith<V, B>) => Readonly<Record<string, V | number>>;

/**
 * A formula compiled to a program, as a schedule is (the module comment): at each step the fused
 * engine sets its inputs and count and reads its outputs, allocating nothing.
 */
export class FormulaProgram extends Program {
  private constructor(recorder: Recorder, private readonly inputs: Int32Array, private readonly outputs: Int32Array) {
    super(recorder);
  }

  /**
   * The program of `formula` over `inputs` values, its `outputs` by name (in that order), or undefined
   * when it cannot be recorded or lacks an output, or an output is not a number.
   */
  static compile(inputs: number, outputs: readonly string[], formula: ArithFormula, traced: boolean): FormulaProgram | undefined {
    const recorder = new Recorder(traced);
    const regs = Array.from({ length: inputs }, () => recorder.input());
    let values: Readonly<Record<string, unknown>>;
    try {
      values = formula<Reg, Reg>(regs, recorder.count, recorder);
    } catch {
      return undefined;
    }
    const out: number[] = [];
    for (const name of outputs) {
      const v = values[name];
      if (v instanceof Reg) out.push(v.index);
      else if (typeof v === 'number') out.push(recorder.initial.push(v) - 1);
      else return undefined;
    }
    if (recorder.calls.length > 0) return undefined;
    return new FormulaProgram(recorder, Int32Array.from(regs, (r) => r.index), Int32Array.from(out));
  }

  /** Runs the formula on `inputs` (one value per input) at `count`; writes output j to `out[slots[j]]`. */
  writeInto(inputs: Float64Array, count: number, out: Float64Array, slots: readonly number[]): void {
    const r = this.registers;
    for (let i = 0; i < this.inputs.length; i++) r[this.inputs[i]] = inputs[i];
    this.run(count);
    for (let j = 0; j < this.outputs.length; j++) out[slots[j]] = r[this.outputs[j]];
  }
}

/**
 * A schedule as the fused engine evaluates it at every step: its programs (eager and traced, each
 * compiled on first use), or the schedule itself when it has no program.
 */
export class ScheduleEvaluator {
  private eager: ScheduleProgram | undefined | null = null;
  private traced: ScheduleProgram | undefined | null = null;

  constructor(private readonly owner: string, private readonly schedule: Schedule) {}

  /** `out[at] = schedule(count)` (its traced form when `traced`), as `callSchedule` would return it. */
  writeInto(out: Float64Array, at: number, count: number, traced: boolean): void {
    let program = traced ? this.traced : this.eager;
    if (program === null) {
      program = ScheduleProgram.compile(this.schedule, traced);
      if (traced) this.traced = program;
      else this.eager = program;
    }
    if (program !== undefined && program.writeInto(out, at, count)) return;
    out[at] = callSchedule(this.owner, traced ? tracedSchedule(this.schedule) : this.schedule, count);
  }
}

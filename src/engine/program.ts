import type { Dtype } from '../core/dtype.js';
import type { Expr } from '../kernel/expr.js';

/**
 * A fused elementwise program: what one kernel call computes for every element `i` of a range.
 *
 * It is the contract between the engine (which composes the kernels of a chain into one program) and
 * the code generators (the plain-JS loop, the WebAssembly SIMD emitter, the block-wise interpreter).
 * Leaves of the output expressions read element `i` of a stream: `updates` reads stream `'updates'`,
 * `params` reads `'params'`, `state(name)` reads stream `name`; `scalar(name)` is a per-call argument.
 * Every output is computed from the values loaded *before* any store, so an output may overwrite a
 * stream the program reads (the engine updates params and state in place).
 *
 * @internal
 */
export interface FusedProgram {
  /** The dtype every op computes in, and the element type of every stream not in {@link streamDtypes}. */
  readonly dtype: Dtype;
  /**
   * Streams stored in a narrower dtype than the program's (only `float32` in a `float64` program):
   * a load widens exactly, a store rounds to the stream's dtype. MultiSteps keeps a float32
   * accumulator for float64 params, computing its running mean in float64 (as optax's promotion
   * does) and rounding it on store.
   */
  readonly streamDtypes?: Readonly<Record<string, Dtype>>;
  /** The streams, in argument order: each is passed as a byte pointer into the shared memory. */
  readonly streams: readonly string[];
  /** The per-call scalars, in argument order (after the stream pointers). */
  readonly scalars: readonly string[];
  /** What to store: `stream[i] = expr` for each output. */
  readonly outputs: readonly FusedOutput[];
  /**
   * A cheaper program that gives the same bits wherever its checks hold (engine/fast-accumulate.ts
   * derives it, with the proof): a code generator may run it on a block of elements whose every
   * element passes the checks, and `outputs` on the others. Generators that ignore it are exact.
   */
  readonly fast?: FastVariant;
}

/** See {@link FusedProgram.fast}. @internal */
export interface FastVariant {
  /** Each check holds where `a < b * 2^k` (false where either is NaN); `b` absent: `a < 2^k`. */
  readonly below: readonly { readonly a: Expr; readonly b?: Expr; readonly k: number }[];
  /** Holds where the value is not `-0`. */
  readonly notNegativeZero: readonly Expr[];
  /**
   * The outputs to store where every check holds: some of the program's streams; the others keep
   * what they hold, which is then what the program would store there (NaN payloads aside).
   */
  readonly outputs: readonly FusedOutput[];
  /**
   * Cheaper checks that imply {@link FastVariant.below} (engine/fast-accumulate.ts), for a call
   * where its `uniform` checks hold: a code generator may use them instead (with `notNegativeZero`).
   */
  readonly capped?: CappedChecks;
}

/**
 * Per-element checks of a {@link FastVariant} that bound its values by one cap, and the per-call
 * checks that make those bounds enough. @internal
 */
export interface CappedChecks {
  /** The cap is `2^capLog2`. */
  readonly capLog2: number;
  /** Per element: `|x| < 2^capLog2` (false where x is NaN). */
  readonly caps: readonly Expr[];
  /** Per element: x is not NaN. */
  readonly notNaN: readonly Expr[];
  /**
   * Per call: each `a < b * 2^k` (`b` absent: `a < 2^k`, false where either is NaN), of expressions
   * of scalars and of the constants {@link CAP_CONSTANT} (`2^capLog2`) and {@link ZERO_CONSTANT} (+0).
   */
  readonly uniform: readonly { readonly a: Expr; readonly b?: Expr; readonly k: number }[];
}

/** The name of a scalar leaf that stands for the cap in {@link CappedChecks.uniform}. @internal */
export const CAP_CONSTANT = '#cap';
/** The name of a scalar leaf that stands for +0 in {@link CappedChecks.uniform}. @internal */
export const ZERO_CONSTANT = '#zero';

/** One store of a {@link FusedProgram}. @internal */
export interface FusedOutput {
  readonly stream: string;
  readonly expr: Expr;
}

/**
 * A compiled kernel, whatever its backend: `run(n, ...bytePointers, ...scalars)` processes elements
 * `[0, n)` of the streams starting at the given byte offsets of the engine's memory. The engine
 * compiles its kernels to read the scalars from its scalar block instead (`run(n, ...bytePointers)`,
 * integers only, so that a call allocates nothing). The JS and the WebAssembly kernels share this
 * calling convention, so the dispatcher and the workers need not know which one they run.
 *
 * @internal
 */
export type KernelFunction = (...args: number[]) => void;

/** The element type of stream `stream` of `program`. @internal */
export function streamDtype(program: FusedProgram, stream: string): Dtype {
  const narrow = program.streamDtypes;
  return narrow && Object.hasOwn(narrow, stream) ? narrow[stream] : program.dtype;
}

/** Whether `program` stores `stream` narrower than it computes (float32 in float64). @internal */
export function isNarrowStream(program: FusedProgram, stream: string): boolean {
  return streamDtype(program, stream) !== program.dtype;
}

/** Throws unless every stream dtype of `program` is its own or float32 in a float64 program. @internal */
export function checkStreamDtypes(program: FusedProgram): void {
  for (const [stream, dtype] of Object.entries(program.streamDtypes ?? {})) {
    if (dtype !== program.dtype && !(dtype === 'float32' && program.dtype === 'float64')) {
      throw new Error(`fused program stores stream '${stream}' as ${dtype} in a ${program.dtype} program (only float32 streams in float64 programs are supported)`);
    }
  }
}

/** Bytes per element of a dtype. @internal */
export function bytesPerElement(dtype: Dtype): number {
  return dtype === 'float32' ? 4 : 8;
}

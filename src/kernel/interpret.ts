import { type Dtype, type FloatArray, allocate } from '../core/dtype.js';
import { fusedMultiplyAdd } from '../core/fused-multiply-add.js';
import { type BinaryOp, type Expr, type Kernel, type UnaryOp, applyBinary, applyUnary, topologicalOrder } from './expr.js';
import { expectFunction } from '../core/args.js';

/**
 * Evaluates a {@link Kernel} op by op over a range of elements, each op into its own array: the
 * reference semantics (eager optax computes one whole array per op in the same way). It needs no code
 * generation, so it also serves as the fused engine's fallback where `eval` and WebAssembly are not
 * allowed (it then runs block by block, so that the block's temporaries stay in cache).
 */

const MIN_NORMAL = { float32: 2 ** -126, float64: 2 ** -1022 } as const;
let flushSubnormals = false;

/**
 * Runs `fn` with the reference path in XLA-on-CPU's subnormal mode: every subnormal input is read as
 * zero and every subnormal result is flushed to zero (keeping its sign), as XLA's CPU backend does
 * (FTZ/DAZ). optax-ts computes IEEE subnormals by default, as JS engines do; this mode exists so that
 * results can be compared bit for bit with optax on XLA:CPU even where subnormals occur (the
 * conformance runner uses it). It applies to the reference path (pure `update` / `applyUpdates`) only.
 *
 * @example
 * ```ts
 * import { withFlushedSubnormals, scale } from 'optax-ts';
 * const tx = scale(0.5);
 * const g = { w: new Float32Array([2 ** -126]) }; // the smallest normal float32
 * console.log(tx.update(g, tx.init(g))[0].w[0] > 0); // true
 * console.log(withFlushedSubnormals(() => tx.update(g, tx.init(g))[0].w[0])); // 0
 * ```
 */
export function withFlushedSubnormals<T>(fn: () => T): T {
  return withSubnormalMode(true, fn);
}

/**
 * Runs `fn` with the reference path in XLA's subnormal mode (`flush`) or in IEEE mode, whatever the
 * caller's mode: a compiled stepper's interpreter backend and reference fallback follow the mode it
 * was compiled for. @internal
 */
export function withSubnormalMode<T>(flush: boolean, fn: () => T): T {
  expectFunction('withFlushedSubnormals', 'fn', fn);
  const before = flushSubnormals;
  flushSubnormals = flush;
  try {
    return fn();
  } finally {
    flushSubnormals = before;
  }
}

/** Whether the reference path is in XLA's subnormal mode (inside {@link withFlushedSubnormals}). @internal */
export function flushingSubnormals(): boolean {
  return flushSubnormals;
}

function flushArray(a: FloatArray, lo: number, hi: number, min: number): void {
  for (let i = lo; i < hi; i++) if (Math.abs(a[i]) < min) a[i] = a[i] * 0; // ±0, NaN stays NaN
}

function flushedCopy(a: FloatArray, lo: number, n: number, min: number): FloatArray {
  const c = a.slice(lo, lo + n);
  flushArray(c, 0, n, min);
  return c;
}

/** Where the value of a node comes from when the plan runs. */
type Source =
  | { kind: 'updates' }
  | { kind: 'params' }
  | { kind: 'state'; name: string }
  | { kind: 'scalar'; name: string }
  | { kind: 'temp'; slot: number };

type Step =
  | { kind: 'unary'; op: UnaryOp; a: Source; dst: number }
  | { kind: 'binary'; op: BinaryOp; a: Source; b: Source; dst: number }
  | { kind: 'fma'; a: Source; b: Source; c: Source; dst: number };

/** A kernel compiled to a flat list of array operations. */
export interface KernelPlan {
  readonly steps: readonly Step[];
  readonly temps: number;
  readonly updates: Source;
  readonly state: Readonly<Record<string, Source>>;
  /** The state leaves the kernel reads (old values). */
  readonly reads: readonly string[];
  /** The scalars the kernel reads. */
  readonly scalars: readonly string[];
  readonly usesParams: boolean;
}

/** Compiles a kernel into a plan (done once per transformation). */
export function planKernel(kernel: Kernel): KernelPlan {
  const stateNames = Object.keys(kernel.state);
  const roots = [kernel.updates, ...stateNames.map((k) => kernel.state[k])];
  const sources = new Map<Expr, Source>();
  const steps: Step[] = [];
  const reads = new Set<string>();
  const scalars = new Set<string>();
  let usesParams = false;
  let temps = 0;
  for (const e of topologicalOrder(roots)) {
    switch (e.kind) {
      case 'updates': sources.set(e, { kind: 'updates' }); break;
      case 'params': usesParams = true; sources.set(e, { kind: 'params' }); break;
      case 'state': reads.add(e.name); sources.set(e, { kind: 'state', name: e.name }); break;
      case 'scalar': scalars.add(e.name); sources.set(e, { kind: 'scalar', name: e.name }); break;
      case 'unary': steps.push({ kind: 'unary', op: e.op, a: sources.get(e.a)!, dst: temps }); sources.set(e, { kind: 'temp', slot: temps++ }); break;
      case 'binary': steps.push({ kind: 'binary', op: e.op, a: sources.get(e.a)!, b: sources.get(e.b)!, dst: temps }); sources.set(e, { kind: 'temp', slot: temps++ }); break;
      case 'fma': steps.push({ kind: 'fma', a: sources.get(e.a)!, b: sources.get(e.b)!, c: sources.get(e.c)!, dst: temps }); sources.set(e, { kind: 'temp', slot: temps++ }); break;
    }
  }
  const state: Record<string, Source> = {};
  for (const k of stateNames) state[k] = sources.get(kernel.state[k])!;
  return { steps, temps, updates: sources.get(kernel.updates)!, state, reads: [...reads], scalars: [...scalars], usesParams };
}

/** The inputs of one evaluation: whole-leaf arrays (indexed by absolute position) and scalars. */
export interface KernelInputs {
  readonly dtype: Dtype;
  readonly updates: FloatArray;
  readonly params?: FloatArray | null;
  readonly state: Readonly<Record<string, FloatArray>>;
  /** A number for a uniform scalar, or an array of the leaf's length for a broadcast hyperparameter. */
  readonly scalars: Readonly<Record<string, number | FloatArray>>;
}

/** Where the results go: whole-leaf arrays (may alias the inputs: results are written last). */
export interface KernelOutputs {
  readonly updates: FloatArray;
  readonly state: Readonly<Record<string, FloatArray>>;
}

/**
 * Evaluates the plan on elements `[lo, hi)`. `scratch` holds `plan.temps` arrays of at least
 * `hi - lo` elements of the dtype (allocated when omitted).
 */
export function runPlan(plan: KernelPlan, inputs: KernelInputs, outputs: KernelOutputs, lo: number, hi: number, scratch?: FloatArray[]): void {
  const n = hi - lo;
  const temps = scratch ?? Array.from({ length: plan.temps }, () => allocate(inputs.dtype, n));
  const flush = flushSubnormals ? MIN_NORMAL[inputs.dtype] : 0;
  // Resolve a source to (array, offset) or a uniform number. In flush mode, inputs are read through
  // flushed copies (XLA's denormals-are-zero).
  const input = (a: FloatArray): { arr: FloatArray; off: number } => (flush ? { arr: flushedCopy(a, lo, n, flush), off: 0 } : { arr: a, off: lo });
  const resolve = (s: Source): { arr: FloatArray; off: number } | number => {
    switch (s.kind) {
      case 'updates': return input(inputs.updates);
      case 'params': {
        if (!inputs.params) throw new Error('kernel reads params but none were given');
        return input(inputs.params);
      }
      case 'state': return input(inputs.state[s.name]);
      case 'scalar': {
        const v = inputs.scalars[s.name];
        if (v === undefined) throw new Error(`kernel scalar '${s.name}' was not provided`);
        if (typeof v === 'number') return Math.abs(v) < flush ? v * 0 : v;
        return input(v);
      }
      case 'temp': return { arr: temps[s.slot], off: 0 };
    }
  };
  for (const step of plan.steps) {
    const dst = temps[step.dst];
    if (step.kind === 'unary') {
      const a = resolve(step.a);
      if (typeof a === 'number') { const v = applyUnary(step.op, a); for (let i = 0; i < n; i++) dst[i] = v; continue; }
      unaryLoop(step.op, a.arr, a.off, dst, n);
    } else if (step.kind === 'binary') {
      binaryLoop(step.op, resolve(step.a), resolve(step.b), dst, n);
    } else {
      fmaLoop(inputs.dtype, resolve(step.a), resolve(step.b), resolve(step.c), dst, n);
    }
    if (flush) flushArray(dst, 0, n, flush);
  }
  writeOut(resolve(plan.updates), outputs.updates, lo, n);
  for (const k of Object.keys(plan.state)) writeOut(resolve(plan.state[k]), outputs.state[k], lo, n);
}

/** `d = a * b + c`, rounded once to the dtype (operands are arrays or uniform numbers). */
function fmaLoop(dtype: Dtype, a: Operand, b: Operand, c: Operand, d: FloatArray, n: number): void {
  const at = (v: Operand, i: number): number => (typeof v === 'number' ? v : v.arr[v.off + i]);
  for (let i = 0; i < n; i++) d[i] = fusedMultiplyAdd(dtype, at(a, i), at(b, i), at(c, i));
}

function writeOut(src: { arr: FloatArray; off: number } | number, dst: FloatArray, lo: number, n: number): void {
  if (typeof src === 'number') { dst.fill(src, lo, lo + n); return; }
  if (src.arr === dst && src.off === lo) return;
  if (src.arr === dst) { dst.copyWithin(lo, src.off, src.off + n); return; }
  dst.set(src.arr.subarray(src.off, src.off + n), lo);
}

function unaryLoop(op: UnaryOp, a: FloatArray, ao: number, d: FloatArray, n: number): void {
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) d[i] = -a[ao + i]; return;
    case 'abs': for (let i = 0; i < n; i++) d[i] = Math.abs(a[ao + i]); return;
    case 'sqrt': for (let i = 0; i < n; i++) d[i] = Math.sqrt(a[ao + i]); return;
  }
}

// One loop per op and operand form, with the op inlined: a switch per element (or a call through
// applyBinary) costs several times the arithmetic. Each line is the IEEE op of expr.ts's applyBinary;
// the typed-array store rounds it to the dtype.
type Operand = { arr: FloatArray; off: number } | number;

function binaryLoop(op: BinaryOp, a: Operand, b: Operand, d: FloatArray, n: number): void {
  if (typeof a === 'number' && typeof b === 'number') { d.fill(applyBinary(op, a, b), 0, n); return; }
  if (typeof a === 'number') return scalarArrayLoop(op, a, (b as { arr: FloatArray }).arr, (b as { off: number }).off, d, n);
  if (typeof b === 'number') return arrayScalarLoop(op, a.arr, a.off, b, d, n);
  const x = a.arr, xo = a.off, y = b.arr, yo = b.off;
  switch (op) {
    case 'add': for (let i = 0; i < n; i++) d[i] = x[xo + i] + y[yo + i]; return;
    case 'sub': for (let i = 0; i < n; i++) d[i] = x[xo + i] - y[yo + i]; return;
    case 'mul': for (let i = 0; i < n; i++) d[i] = x[xo + i] * y[yo + i]; return;
    case 'div': for (let i = 0; i < n; i++) d[i] = x[xo + i] / y[yo + i]; return;
    case 'max': for (let i = 0; i < n; i++) d[i] = Math.max(x[xo + i], y[yo + i]); return;
    case 'min': for (let i = 0; i < n; i++) d[i] = Math.min(x[xo + i], y[yo + i]); return;
  }
}

function scalarArrayLoop(op: BinaryOp, s: number, y: FloatArray, yo: number, d: FloatArray, n: number): void {
  switch (op) {
    case 'add': for (let i = 0; i < n; i++) d[i] = s + y[yo + i]; return;
    case 'sub': for (let i = 0; i < n; i++) d[i] = s - y[yo + i]; return;
    case 'mul': for (let i = 0; i < n; i++) d[i] = s * y[yo + i]; return;
    case 'div': for (let i = 0; i < n; i++) d[i] = s / y[yo + i]; return;
    case 'max': for (let i = 0; i < n; i++) d[i] = Math.max(s, y[yo + i]); return;
    case 'min': for (let i = 0; i < n; i++) d[i] = Math.min(s, y[yo + i]); return;
  }
}

function arrayScalarLoop(op: BinaryOp, x: FloatArray, xo: number, s: number, d: FloatArray, n: number): void {
  switch (op) {
    case 'add': for (let i = 0; i < n; i++) d[i] = x[xo + i] + s; return;
    case 'sub': for (let i = 0; i < n; i++) d[i] = x[xo + i] - s; return;
    case 'mul': for (let i = 0; i < n; i++) d[i] = x[xo + i] * s; return;
    case 'div': for (let i = 0; i < n; i++) d[i] = x[xo + i] / s; return;
    case 'max': for (let i = 0; i < n; i++) d[i] = Math.max(x[xo + i], s); return;
    case 'min': for (let i = 0; i < n; i++) d[i] = Math.min(x[xo + i], s); return;
  }
}

/**
 * Evaluates a kernel over whole leaves, out of place: fresh arrays for the new update and state.
 */
export function evaluateKernel(plan: KernelPlan, inputs: KernelInputs, stateNames: readonly string[]): KernelOutputs {
  const n = inputs.updates.length;
  const outputs: KernelOutputs = {
    updates: allocate(inputs.dtype, n),
    state: Object.fromEntries(stateNames.map((k) => [k, allocate(inputs.dtype, n)])),
  };
  runPlan(plan, inputs, outputs, 0, n);
  return outputs;
}

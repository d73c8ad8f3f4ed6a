import { type Dtype, type FloatArray, roundTo } from './dtype.js';
import { OptaxError } from './errors.js';
import { ShapedArray, isArrayLeaf, leafData, leafShape } from '../tree/leaf.js';
import type { KernelScalar, ScalarSink } from '../kernel/elementwise.js';
import { biasCorrection, writeBiasCorrectionValue } from './bias-correction.js';

/**
 * A hyperparameter that may be an array (jax.typing.ArrayLike): a number, or a typed array / ShapedArray
 * (0-d, or broadcastable against each leaf by numpy's rules). A number behaves like a python float in
 * JAX: "weakly typed", it takes the leaf's dtype where it meets the leaf.
 */
export type Hyperparam = number | FloatArray | ShapedArray;

/** Range rules for {@link checkHyperparam}. */
export interface HyperparamRange {
  min?: number;
  max?: number;
  /** Reject NaN and infinities (default true). */
  finite?: boolean;
}

/** Throws an OptaxError naming `name` when `value` (or any element of it) breaks the range. */
export function checkHyperparam(owner: string, name: string, value: unknown, range: HyperparamRange): asserts value is Hyperparam {
  const bad = (why: string): never => { throw new OptaxError(`${owner}: ${name} ${why}`); };
  let values: ArrayLike<number>;
  if (typeof value === 'number') values = [value];
  else if (isArrayLeaf(value)) values = Array.from(leafData(value));
  else return bad(`must be a number or a Float32Array/Float64Array/ShapedArray, got ${value === null ? 'null' : typeof value}`);
  for (let i = 0; i < values.length; i++) {
    const why = rangeProblemAt(values, i, range);
    if (why !== undefined) bad(why);
  }
}

/**
 * Why `values[at]` breaks the range (the end of {@link checkHyperparam}'s message), or undefined.
 * Read by index, not passed as a number: the fused engine checks a scheduled value at every step, and
 * a double passed to a call V8 does not inline is a new heap number.
 */
function rangeProblemAt(values: ArrayLike<number>, at: number, range: HyperparamRange): string | undefined {
  const v = values[at];
  if (Number.isNaN(v) || ((range.finite ?? true) && !Number.isFinite(v))) return `must be finite, got ${v}`;
  if (range.min !== undefined && v < range.min) return `must be in [${range.min}, ${range.max ?? 'inf'}], got ${v}`;
  if (range.max !== undefined && v > range.max) return `must be in [${range.min ?? '-inf'}, ${range.max}], got ${v}`;
  return undefined;
}

/**
 * {@link checkHyperparam}'s rule as an `InjectableScalars.accepts` check: whether the value at
 * `values[at]` is in the range (the message is made only for a value out of it).
 */
export function acceptsRange(range: HyperparamRange): (values: Float64Array, at: number) => boolean {
  return (values, at) => rangeProblemAt(values, at, range) === undefined;
}

/** A hyperparameter's value as one number (a one-element array's element), or undefined for a larger array. */
export function hyperNumber(value: Hyperparam): number | undefined {
  if (typeof value === 'number') return value;
  const data = leafData(value);
  return data.length === 1 ? data[0] : undefined;
}

/**
 * Computes a per-step kernel scalar from an ArrayLike hyperparameter: `f` is applied to each element
 * (in double precision) and the result rounded once to `dtype`. An array of one element is treated as
 * a scalar; a larger array stays an array, broadcast per leaf by the kernel.
 */
export function hyperScalar(value: Hyperparam, dtype: Dtype, f: (x: number) => number = (x) => x): KernelScalar {
  if (typeof value === 'number') return roundTo(dtype, f(value));
  const data = leafData(value);
  if (data.length === 1) return roundTo(dtype, f(data[0]));
  const out = dtype === 'float32' ? new Float32Array(data.length) : new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = f(data[i]);
  return new ShapedArray(out, leafShape(value));
}

/**
 * {@link hyperScalar} written into slot `j` of a definition's scalar sink: a number hyperparameter
 * costs no allocation (the fused engine computes scalars at every step), an array one is stored as
 * {@link hyperScalar} makes it. `f` must not capture per-step values (a closure made per step
 * allocates): use {@link biasCorrectionWriter} for the bias correction.
 */
export function writeHyper(sink: ScalarSink, j: number, value: Hyperparam, dtype: Dtype, f?: (x: number) => number): void {
  if (typeof value === 'number') {
    sink.values[j] = roundTo(dtype, f === undefined ? value : f(value));
    return;
  }
  const v = hyperScalar(value, dtype, f);
  if (typeof v === 'number') sink.values[j] = v;
  else sink.arrays[j] = v;
}

/**
 * Scalars that depend on no step, only on the dtype (a hyperparameter, its complement, a constant):
 * `fill` writes them once per dtype, and the returned function copies them into a sink at each step,
 * copying doubles between typed arrays (nothing allocated, whatever V8 inlines).
 */
export function constantScalars(count: number, fill: (sink: ScalarSink, dtype: Dtype) => void): (sink: ScalarSink, dtype: Dtype) => void {
  const made = (dtype: Dtype): ScalarSink => {
    const sink: ScalarSink = { values: new Float64Array(count), arrays: new Array<ShapedArray | undefined>(count).fill(undefined) };
    fill(sink, dtype);
    return sink;
  };
  const f32 = made('float32'), f64 = made('float64');
  return (sink, dtype) => {
    const from = dtype === 'float32' ? f32 : f64;
    sink.values.set(from.values);
    for (let j = 0; j < count; j++) if (from.arrays[j] !== undefined) sink.arrays[j] = from.arrays[j];
  };
}

/** `1 - x`: a hyperparameter's complement, as optax's `1 - decay` (hoisted: no closure per step). */
export const oneMinus = (x: number): number => 1 - x;

/**
 * A writer of the bias correction `1 - decay^t` of a hyperparameter `decay` (each element rounded to
 * `dtype` first, as the decay is cast) as XLA computes it in `dtype` (core/bias-correction.ts),
 * rounded, into slot `j`. Made once per transformation: a number decay is kept in a Float64Array
 * cell and copied into the slot, so that no double crosses a call at a step (V8 boxes a double
 * argument of a call it does not inline, and whether it inlines depends on the whole program).
 */
export function biasCorrectionWriter(decay: Hyperparam): (sink: ScalarSink, j: number, dtype: Dtype, t: number) => void {
  if (typeof decay === 'number') {
    const cell = Float64Array.of(decay);
    return (sink, j, dtype, t) => {
      sink.values[j] = cell[0];
      writeBiasCorrectionValue(sink.values, j, dtype, t);
    };
  }
  return (sink, j, dtype, t) => writeHyper(sink, j, decay, dtype, (x) => biasCorrection(dtype, roundTo(dtype, x), t));
}

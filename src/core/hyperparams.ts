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
  const finite = range.finite ?? true;
  for (const v of values as number[]) {
    if (Number.isNaN(v) || (finite && !Number.isFinite(v))) bad(`must be finite, got ${v}`);
    if (range.min !== undefined && v < range.min) bad(`must be in [${range.min}, ${range.max ?? 'inf'}], got ${v}`);
    if (range.max !== undefined && v > range.max) bad(`must be in [${range.min ?? '-inf'}, ${range.max}], got ${v}`);
  }
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
 * allocates): use {@link writeBiasCorrection} for the bias correction.
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
 * The bias correction `1 - decay^t` of a hyperparameter `decay` (each element rounded to `dtype`
 * first, as the decay is cast) as XLA computes it in `dtype` (core/bias-correction.ts), rounded,
 * written into slot `j`.
 */
export function writeBiasCorrection(sink: ScalarSink, j: number, decay: Hyperparam, dtype: Dtype, t: number): void {
  if (typeof decay === 'number') {
    // The decay is cast to the dtype (by writeBiasCorrectionValue): passed as it is, a number
    // already held, so nothing is boxed for the call.
    writeBiasCorrectionValue(sink.values, j, dtype, decay, t);
    return;
  }
  writeHyper(sink, j, decay, dtype, (x) => biasCorrection(dtype, roundTo(dtype, x), t));
}

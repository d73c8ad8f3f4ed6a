import * as tf from '@tensorflow/tfjs-core';
import { OptaxError } from '../core/errors.js';
import { isInt32 } from '../core/numerics.js';
import { isStepCounterKey } from '../engine/opaque-state.js';
import type { GradientTransformation } from '../core/transformation.js';
import type { InjectHyperparamsState } from '../transforms/inject-hyperparams.js';
import { ShapedArray, isArrayLeaf, leafData, leafShape } from '../tree/leaf.js';
import { describe, isDictNode } from '../tree/structure.js';

/**
 * The ops path's state: laid out as `tx.init` lays it out, with every per-element array a tfjs
 * variable, and the control values (counts, hyperparameters) host numbers, except where only the
 * device knows them: applyIfFinite's counters, and the counts inside it, are {@link DeviceValue}s.
 */

/**
 * An int32, boolean or float32 number of the state kept on the device: a scalar tfjs variable. (tfjs's
 * webgl backend keeps int32 tensors as float32, so there a count is exact up to 2^24 steps; the
 * scalars read at min(count, settle) are unaffected once settled.)
 */
export class DeviceValue {
  constructor(readonly variable: tf.Variable, readonly kind: 'int' | 'bool' | 'float') {}
}

/**
 * The state `state` (from `tx.init`) on the device: arrays become variables (pushed to `owned`),
 * applyIfFinite's counters and the counts inside it device values; the rest is kept.
 */
export function stateOnDevice(tx: GradientTransformation<any>, state: any, owned: tf.Variable[], deviceCounts = false): any {
  const variable = (values: tf.TensorLike, shape: number[], dtype: 'float32' | 'int32' | 'bool'): tf.Variable => {
    // tf.variable keeps its own reference to the initial tensor's data: the tensor itself is ours to dispose.
    const initial = tf.tensor(values, shape, dtype);
    const v = tf.variable(initial, false);
    initial.dispose();
    owned.push(v);
    return v;
  };
  const arrays = (x: unknown): unknown => {
    if (isArrayLeaf(x)) return variable(leafData(x), [...leafShape(x)], 'float32');
    if (Array.isArray(x)) return x.map(arrays);
    if (isDictNode(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, arrays(v)]));
    return x;
  };
  const device = (x: number | boolean, kind: 'int' | 'float' = 'int'): DeviceValue => (typeof x === 'boolean' ? new DeviceValue(variable([x ? 1 : 0], [], 'bool'), 'bool') : new DeviceValue(variable([x], [], kind === 'int' ? 'int32' : 'float32'), kind));
  if (tx.parts) return (state as unknown[]).map((s, i) => stateOnDevice(tx.parts![i], s, owned, deviceCounts));
  const c = tx.combinator;
  switch (c?.kind) {
    case 'masked': return { inner_state: stateOnDevice(c.inner, state.inner_state, owned, deviceCounts) };
    case 'partition': return { inner_states: Object.fromEntries(Object.keys(c.transforms).map((g) => [g, { inner_state: stateOnDevice(c.transforms[g], state.inner_states[g].inner_state, owned, deviceCounts) }])) };
    case 'injectHyperparams': return { ...state, count: deviceCounts ? device(state.count) : state.count, inner_state: stateOnDevice(c.innerFor((state as InjectHyperparamsState).hyperparams), state.inner_state, owned, deviceCounts) };
    case 'applyIfFinite': return {
      notfinite_count: device(state.notfinite_count),
      last_finite: device(state.last_finite),
      total_notfinite: device(state.total_notfinite),
      inner_state: stateOnDevice(c.inner, state.inner_state, owned, true),
    };
    case 'multiSteps': {
      const onDevice = deviceCounts || c.shouldSkip !== undefined;
      const skip = state.skip_state;
      return {
        mini_step: onDevice ? device(state.mini_step) : state.mini_step,
        gradient_step: onDevice ? device(state.gradient_step) : state.gradient_step,
        inner_opt_state: stateOnDevice(c.inner, state.inner_opt_state, owned, onDevice),
        acc_grads: arrays(state.acc_grads),
        // skipNotFinite's {should_skip, num_not_finite}, skipLargeUpdates' {should_skip, norm_squared}.
        skip_state: c.shouldSkip ? Object.fromEntries(Object.entries(skip as Record<string, number | boolean>).map(([k, v]) => [k, device(v, k === 'norm_squared' ? 'float' : 'int')])) : skip,
      };
    }
    default:
  }
  if (!tx.elementwise) return state;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(state as Record<string, unknown>)) {
    out[k] = tx.elementwise.stateLeaves.includes(k) ? arrays(v) : deviceCounts && k === 'count' ? device(v as number) : v;
  }
  return out;
}

/** Every tensor of a device state (variables and device values), in walk order. */
function tensorsOf(tree: unknown): tf.Variable[] {
  const out: tf.Variable[] = [];
  const walk = (x: unknown): void => {
    if (x instanceof tf.Variable) out.push(x);
    else if (x instanceof DeviceValue) out.push(x.variable);
    else if (Array.isArray(x)) x.forEach(walk);
    else if (isDictNode(x)) Object.values(x).forEach(walk);
  };
  walk(tree);
  return out;
}

/** The tree with every tensor replaced by its value (`values`, in {@link tensorsOf}'s order), the rest copied. */
function withValues(tree: unknown, values: readonly ArrayLike<number>[]): unknown {
  let i = 0;
  const read = (x: unknown): unknown => {
    if (x instanceof tf.Variable) return new ShapedArray(Float32Array.from(values[i++]), x.shape);
    if (x instanceof DeviceValue) {
      const v = values[i++][0];
      return x.kind === 'bool' ? v !== 0 : v;  // a float32 read is the float32's value
    }
    if (isArrayLeaf(x)) return x instanceof ShapedArray ? new ShapedArray(leafData(x).slice(), x.shape) : leafData(x).slice();
    if (Array.isArray(x)) return x.map(read);
    if (isDictNode(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, read(v)]));
    return x;
  };
  return read(tree);
}

/** The state now, read back synchronously (`dataSync`), laid out as `tx.init` lays it out. */
export function readStateSync(tree: unknown): unknown {
  return withValues(tree, tensorsOf(tree).map((t) => t.dataSync()));
}

/**
 * The state now, read back asynchronously (`data()`): on webgpu, tfjs's synchronous read goes through
 * an OffscreenCanvas, which is slow, and in headless Chromium on SwiftShader loses the device. The
 * state is taken when this is called (the reads are queued then): steps taken meanwhile do not show.
 */
export async function readState(tree: unknown): Promise<unknown> {
  const tensors = tensorsOf(tree);
  return withValues(tree, await Promise.all(tensors.map((t) => t.data())));
}

/** Loads a state of the same layout into a device state (checked leaf by leaf before anything changes). */
export function writeState(tree: unknown, state: unknown): void {
  const writes: (() => void)[] = [];
  const walk = (mine: any, theirs: unknown, at: string): void => {
    if (mine instanceof tf.Variable) {
      if (!isArrayLeaf(theirs) || leafData(theirs).length !== mine.size) throw new OptaxError(`tfjs ops: state ${at}: expected ${mine.size} elements, got ${describe(theirs)}`);
      writes.push(() => mine.assign(tf.tensor(leafData(theirs), mine.shape, 'float32')));
    } else if (Array.isArray(mine) || isDictNode(mine)) {
      if (typeof theirs !== 'object' || theirs === null) throw new OptaxError(`tfjs ops: state ${at}: expected a node, got ${describe(theirs)}`);
      for (const k of Object.keys(mine)) {
        const child = (mine as any)[k];
        const v = (theirs as any)[k];
        if (child instanceof DeviceValue) {
          const ok = child.kind === 'bool' ? typeof v === 'boolean' : child.kind === 'float' ? typeof v === 'number' : Number.isInteger(v) && v >= 0 && v <= 0x7fffffff;
          if (!ok) throw new OptaxError(`tfjs ops: state ${at}.${k}: expected ${child.kind === 'bool' ? 'a boolean' : child.kind === 'float' ? 'a number' : 'an int32 count'}, got ${describe(v)}`);
          writes.push(() => child.variable.assign(tf.scalar(v, child.kind === 'bool' ? 'bool' : child.kind === 'float' ? 'float32' : 'int32')));
        } else if (typeof child === 'number' || typeof child === 'boolean') {
          if (typeof v !== typeof child) throw new OptaxError(`tfjs ops: state ${at}.${k}: expected a ${typeof child}, got ${describe(v)}`);
          // A step counter on the host: refused here, not at the next step (which would then always throw).
          if (isStepCounterKey(k) && !(isInt32(v) && (v as number) >= 0)) throw new OptaxError(`tfjs ops: state ${at}.${k}: count must be a non-negative int32 step count, got ${describe(v)}`);
          writes.push(() => { (mine as any)[k] = v; });
        } else if (isArrayLeaf(child)) {
          // A host array (an injected hyperparameter): replaced by a copy.
          if (!isArrayLeaf(v) || leafData(v).length !== leafData(child).length) throw new OptaxError(`tfjs ops: state ${at}.${k}: expected ${leafData(child).length} elements, got ${describe(v)}`);
          writes.push(() => { (mine as any)[k] = v instanceof ShapedArray ? new ShapedArray(leafData(v).slice(), v.shape) : leafData(v).slice(); });
        } else walk(child, v, `${at}.${k}`);
      }
    }
  };
  walk(tree, state, 'state');
  tf.tidy(() => writes.forEach((w) => w()));
}

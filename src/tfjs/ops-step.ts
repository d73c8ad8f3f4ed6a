import * as tf from '@tensorflow/tfjs-core';
import { OptaxError } from '../core/errors.js';
import type { GradientTransformation } from '../core/transformation.js';
import { type Expr, type Kernel, topologicalOrder } from '../kernel/expr.js';
import { type ElementwiseDefinition, definitionScalars } from '../kernel/elementwise.js';
import { dividesByScalar, reciprocalForTree } from '../kernel/scalar-division.js';
import { roundTo } from '../core/dtype.js';
import { xlaReduceWindows } from '../core/xla-reduce-sum.js';
import type { ClipByGlobalNormTransformation, GlobalNormReduction } from '../transforms/clip-by-global-norm.js';
import { ShapedArray, isArrayLeaf, leafData, leafShape } from '../tree/leaf.js';
import { describe, isDictNode } from '../tree/structure.js';

/**
 * The optimizer step as tfjs ops, for backends whose tensors live elsewhere (webgl, webgpu): the
 * per-element rule of each transformation (its `ex.*` graph, the one the engine compiles) is lowered
 * to tfjs ops, its per-step scalars computed on the host from the control state (the step count), and
 * the state kept in tfjs variables, so a step never reads the tensors back. On the cpu backend, where
 * each op rounds to float32 as XLA does, it is bit-identical to the pure path (tested there).
 * Covered: chains of elementwise transformations (adamax, adamaxw, scale_by_learning_rate with a
 * number or a schedule, add_decayed_weights without a mask, clip, scale, ema, ...) and
 * clip_by_global_norm, whose norm is reduced on the device too; anything else (combinators) runs
 * through the engine.
 */

/**
 * One part of the chain: an elementwise transformation and its state node (control values,
 * variables), or clip_by_global_norm's reduction (it keeps no state).
 */
type Part =
  | { readonly kind: 'elementwise'; readonly def: ElementwiseDefinition<Record<string, unknown>>; readonly node: Record<string, any> }
  | { readonly kind: 'globalNorm'; readonly reduction: GlobalNormReduction };

/** The parts of `tx` in run order, or undefined when it is not a chain of supported ones. */
function flatten(tx: GradientTransformation<any>): GradientTransformation<any>[] | undefined {
  if (tx.parts) {
    const out: GradientTransformation<any>[] = [];
    for (const p of tx.parts) {
      const f = flatten(p);
      if (!f) return undefined;
      out.push(...f);
    }
    return out;
  }
  if ((tx as ClipByGlobalNormTransformation).reduction) return [tx];
  return tx.elementwise && !tx.combinator ? [tx] : undefined;
}

/** The sum of a 1-D tensor in order, each partial sum rounded to float32: tfjs's cpu cumsum does that (tf.sum adds in float64). */
function sumInOrder(x: tf.Tensor): tf.Tensor {
  return x.size === 0 ? tf.scalar(0, 'float32') : tf.reshape(tf.slice(tf.cumsum(x), [x.size - 1], [1]), []);
}

/**
 * `jnp.sum(x)` in XLA:CPU's order, with tfjs ops on the cpu backend: the windows of
 * `xlaReduceWindows` (each level pads with zeros, which add nothing to a sum of squares, groups every
 * window's elements, row-major, into one row, and sums each row in order: the last column of a
 * cumsum along the rows), then what is left summed in order, row-major.
 */
function xlaOrderedSum(x: tf.Tensor): tf.Tensor {
  let y = x;
  for (const { dims, window, out, padLow, padHigh } of xlaReduceWindows(x.shape).levels) {
    y = tf.reshape(y, [...dims]);
    if (padLow.some((p) => p) || padHigh.some((p) => p)) y = tf.pad(y, dims.map((_, k) => [padLow[k], padHigh[k]] as [number, number]));
    y = tf.reshape(y, out.flatMap((o, k) => [o, window[k]]));
    y = tf.transpose(y, [...dims.map((_, k) => 2 * k), ...dims.map((_, k) => 2 * k + 1)]);
    const count = out.reduce((a, b) => a * b, 1), width = window.reduce((a, b) => a * b, 1);
    y = tf.reshape(tf.slice(tf.cumsum(tf.reshape(y, [count, width]), 1), [0, width - 1], [count, 1]), [count]);
  }
  return sumInOrder(tf.reshape(y, [-1]));
}

/** True when {@link OpsStep} can run `tx`. */
export function opsSupported(tx: GradientTransformation<any>): boolean {
  return flatten(tx) !== undefined;
}

/** Evaluates a kernel with tfjs ops; returns the update and the new state leaves. */
export function lowerKernel(kernel: Kernel, inputs: { updates: tf.Tensor; params: tf.Tensor; state: Readonly<Record<string, tf.Tensor>>; scalars: Readonly<Record<string, tf.Tensor>> }): { updates: tf.Tensor; state: Record<string, tf.Tensor> } {
  const names = Object.keys(kernel.state);
  const roots = [kernel.updates, ...names.map((k) => kernel.state[k])];
  const value = new Map<Expr, tf.Tensor>();
  for (const e of topologicalOrder(roots)) {
    const v = (x: Expr): tf.Tensor => value.get(x)!;
    let out: tf.Tensor;
    switch (e.kind) {
      case 'updates': out = inputs.updates; break;
      case 'params': out = inputs.params; break;
      case 'state': out = inputs.state[e.name]; break;
      case 'scalar': out = inputs.scalars[e.name]; break;
      case 'unary': out = e.op === 'neg' ? tf.neg(v(e.a)) : e.op === 'abs' ? tf.abs(v(e.a)) : tf.sqrt(v(e.a)); break;
      case 'binary': {
        const f = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div, max: tf.maximum, min: tf.minimum }[e.op];
        out = f(v(e.a), v(e.b));
        break;
      }
      // Only traced (inside-cond) numerics have one; not rounded once here.
      case 'fma': out = tf.add(tf.mul(v(e.a), v(e.b)), v(e.c)); break;
    }
    if (out === undefined) throw new OptaxError(`tfjs ops: the kernel reads ${e.kind === 'state' || e.kind === 'scalar' ? `${e.kind} '${e.name}'` : e.kind}, which is not given`);
    value.set(e, out);
  }
  return { updates: value.get(kernel.updates)!, state: Object.fromEntries(names.map((k) => [k, value.get(kernel.state[k])!])) };
}

/** A compiled step over a set of variables: the state as tfjs variables, laid out as `tx.init` lays it out. */
export class OpsStep {
  private readonly tree: unknown;
  private readonly parts: Part[] = [];
  private readonly variablesOwned: tf.Variable[] = [];

  constructor(tx: GradientTransformation<any>, private readonly names: readonly string[], variables: readonly tf.Variable[]) {
    const flat = flatten(tx);
    if (!flat) throw new OptaxError('tfjs ops: this transformation is not a chain of elementwise transformations');
    const params: Record<string, ShapedArray> = {};
    names.forEach((n, i) => { params[n] = new ShapedArray(new Float32Array(variables[i].size), variables[i].shape); });
    // The layout (and the initial control values) from tx.init; arrays become variables.
    const toVariables = (x: unknown): unknown => {
      if (isArrayLeaf(x)) {
        // tf.variable keeps its own reference to the initial tensor's data: the tensor itself is ours to dispose.
        const initial = tf.tensor(leafData(x), [...leafShape(x)], 'float32');
        const v = tf.variable(initial, false);
        initial.dispose();
        this.variablesOwned.push(v);
        return v;
      }
      if (Array.isArray(x)) return x.map(toVariables);
      if (isDictNode(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, toVariables(v)]));
      return x;
    };
    this.tree = toVariables(tx.init(params));
    const bind = (t: GradientTransformation<any>, node: any): void => {
      if (t.parts) t.parts.forEach((p, i) => bind(p, node[i]));
      else if ((t as ClipByGlobalNormTransformation).reduction) this.parts.push({ kind: 'globalNorm', reduction: (t as ClipByGlobalNormTransformation).reduction });
      else this.parts.push({ kind: 'elementwise', def: t.elementwise!, node });
    };
    bind(tx, this.tree);
  }

  /** The state now (read back), laid out as `tx.init` lays it out. */
  get state(): unknown {
    return this.read((v, into) => into.set(v.dataSync() as Float32Array));
  }

  /**
   * The state now, read back asynchronously (`data()`): on webgpu, tfjs's synchronous read goes through
   * an OffscreenCanvas, which is slow, and in headless Chromium on SwiftShader loses the device. The
   * state is taken when this is called (the reads are queued then): steps taken meanwhile do not show.
   */
  async readState(): Promise<unknown> {
    const pending: Promise<void>[] = [];
    const state = this.read((v, into) => { pending.push(v.data().then((d) => into.set(d as Float32Array))); });
    await Promise.all(pending);
    return state;
  }

  /** The tree with each variable replaced by a new array that `fill` fills (now or later), the rest copied now. */
  private read(fill: (v: tf.Variable, into: Float32Array) => void): unknown {
    const read = (x: unknown): unknown => {
      if (x instanceof tf.Variable) {
        const values = new Float32Array(x.size);
        fill(x, values);
        return new ShapedArray(values, x.shape);
      }
      if (Array.isArray(x)) return x.map(read);
      if (isDictNode(x)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, read(v)]));
      return x;
    };
    return read(this.tree);
  }

  /** Loads a state of the same layout (checked leaf by leaf before anything changes). */
  setState(state: unknown): void {
    const writes: (() => void)[] = [];
    const walk = (mine: any, theirs: unknown, at: string): void => {
      if (mine instanceof tf.Variable) {
        if (!isArrayLeaf(theirs) || leafData(theirs).length !== mine.size) throw new OptaxError(`tfjs ops: state ${at}: expected ${mine.size} elements, got ${describe(theirs)}`);
        writes.push(() => mine.assign(tf.tensor(leafData(theirs), mine.shape, 'float32')));
      } else if (Array.isArray(mine) || isDictNode(mine)) {
        if (typeof theirs !== 'object' || theirs === null) throw new OptaxError(`tfjs ops: state ${at}: expected a node, got ${describe(theirs)}`);
        for (const k of Object.keys(mine)) {
          const child = (mine as any)[k];
          if (typeof child === 'number' || typeof child === 'boolean') {
            const v = (theirs as any)[k];
            if (typeof v !== typeof child) throw new OptaxError(`tfjs ops: state ${at}.${k}: expected a ${typeof child}, got ${describe(v)}`);
            writes.push(() => { (mine as any)[k] = v; });
          } else walk(child, (theirs as any)[k], `${at}.${k}`);
        }
      }
    };
    walk(this.tree, state, 'state');
    tf.tidy(() => writes.forEach((w) => w()));
  }

  /** One step: `variable <- variable + tx.update(gradient, state, variable)`, all as tfjs ops. */
  step(grads: ReadonlyMap<string, tf.Tensor>, variables: readonly tf.Variable[]): void {
    const reciprocal = reciprocalForTree(variables.map((v) => v.size));
    tf.tidy(() => {
      const u = new Map<string, tf.Tensor>(this.names.map((n) => [n, grads.get(n)!]));
      for (const part of this.parts) {
        if (part.kind === 'globalNorm') {
          this.clipByGlobalNorm(part.reduction, u, variables);
          continue;
        }
        const { def, node } = part;
        const control = Object.fromEntries(Object.keys(def.initControl()).map((k) => [k, node[k]]));
        def.checkControl(control);
        const scalars = Object.fromEntries(Object.entries(definitionScalars(def, control, 'float32', undefined)).map(([k, s]) => [k, typeof s === 'number' ? tf.scalar(s, 'float32') : tf.tensor(leafData(s), [...s.shape], 'float32')]));
        const kernel = reciprocal && def.singleLeafKernel ? def.singleLeafKernel : def.kernel;
        this.names.forEach((n, i) => {
          const state = Object.fromEntries(def.stateLeaves.map((k) => [k, node[k][n] as tf.Variable]));
          const out = lowerKernel(kernel, { updates: u.get(n)!, params: variables[i], state, scalars });
          for (const k of def.stateLeaves) state[k].assign(out.state[k]);
          u.set(n, out.updates);
        });
        Object.assign(node, def.advance(control));
      }
      this.names.forEach((n, i) => variables[i].assign(tf.add(variables[i], u.get(n)!)));
    });
  }

  /**
   * clip_by_global_norm on the device: each leaf's sum of squares, those added from 0 in flattening
   * order (the sorted names), sqrt, then the scalars of clipByGlobalNormScalars as tensors (all 1
   * below the threshold) and its kernels. On the cpu backend a leaf's sum follows XLA:CPU's order
   * (see {@link xlaOrderedSum}), so the step stays bit-identical to the pure path there; elsewhere it
   * is the backend's reduction (another order: within γ_n of the exact sum, relatively).
   */
  private clipByGlobalNorm(reduction: GlobalNormReduction, u: Map<string, tf.Tensor>, variables: readonly tf.Variable[]): void {
    const xlaOrder = tf.getBackend() === 'cpu';
    let total: tf.Tensor = tf.scalar(0, 'float32');
    for (const n of this.names) {
      const squares = tf.square(u.get(n)!);
      total = tf.add(total, xlaOrder ? xlaOrderedSum(squares) : tf.sum(squares));
    }
    const norm = tf.sqrt(total);
    const one = tf.scalar(1, 'float32');
    const trigger = tf.less(norm, tf.scalar(roundTo('float32', reduction.maxNorm), 'float32'));
    const scalars: Record<string, tf.Tensor> = {
      inv_norm: tf.where(trigger, one, tf.div(one, norm)),
      norm: tf.where(trigger, one, norm),
      max_norm: tf.where(trigger, one, tf.scalar(roundTo('float32', reduction.maxNorm), 'float32')),
    };
    this.names.forEach((n, i) => {
      const kernel = dividesByScalar(variables[i].size) ? reduction.divisionKernel : reduction.kernel;
      u.set(n, lowerKernel(kernel, { updates: u.get(n)!, params: variables[i], state: {}, scalars }).updates);
    });
  }

  dispose(): void {
    tf.dispose(this.variablesOwned);
  }
}

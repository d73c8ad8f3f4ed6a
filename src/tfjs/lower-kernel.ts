import * as tf from '@tensorflow/tfjs-core';
import { OptaxError } from '../core/errors.js';
import { type Expr, type Kernel, topologicalOrder } from '../kernel/expr.js';
import { exactFma } from './exact-fma.js';

/**
 * Evaluates a kernel (an `ex.*` graph, the one the engine compiles) with tfjs ops, one op per node:
 * on the cpu backend each rounds to float32 as one XLA op does. A fused multiply-add (the traced
 * numerics inside `applyIfFinite` and `multiSteps`) has no tfjs op: it is {@link exactFma}, rounded
 * once. Returns the update and the new state leaves.
 */
export function lowerKernel(kernel: Kernel, inputs: { updates: tf.Tensor; params?: tf.Tensor; state: Readonly<Record<string, tf.Tensor>>; scalars: Readonly<Record<string, tf.Tensor>> }): { updates: tf.Tensor; state: Record<string, tf.Tensor> } {
  const names = Object.keys(kernel.state);
  const roots = [kernel.updates, ...names.map((k) => kernel.state[k])];
  const value = new Map<Expr, tf.Tensor>();
  for (const e of topologicalOrder(roots)) {
    const v = (x: Expr): tf.Tensor => value.get(x)!;
    let out: tf.Tensor;
    switch (e.kind) {
      case 'updates': out = inputs.updates; break;
      case 'params': out = inputs.params!; break;
      case 'state': out = inputs.state[e.name]; break;
      case 'scalar': out = inputs.scalars[e.name]; break;
      case 'unary': out = e.op === 'neg' ? tf.neg(v(e.a)) : e.op === 'abs' ? tf.abs(v(e.a)) : tf.sqrt(v(e.a)); break;
      case 'binary': {
        const f = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div, max: tf.maximum, min: tf.minimum }[e.op];
        out = f(v(e.a), v(e.b));
        break;
      }
      case 'fma': out = exactFma(v(e.a), v(e.b), v(e.c)); break;
    }
    if (out === undefined) throw new OptaxError(`tfjs ops: the kernel reads ${e.kind === 'state' || e.kind === 'scalar' ? `${e.kind} '${e.name}'` : e.kind}, which is not given`);
    value.set(e, out);
  }
  return { updates: value.get(kernel.updates)!, state: Object.fromEntries(names.map((k) => [k, value.get(kernel.state[k])!])) };
}

import { defaultDevice, numpy as np } from '@jax-js/jax';
import type { Dtype } from '../core/dtype.js';
import { allocate, roundTo } from '../core/dtype.js';
import { broadcastTo } from '../tree/broadcast.js';
import { ShapedArray } from '../tree/leaf.js';
import type { TreePath } from '../tree/path.js';
import type { KernelAnchors } from './constants.js';
import { divide64 } from './float64-division.js';
import { OptaxError } from '../core/errors.js';
import { type Expr, type Kernel, applyBinary, applyUnary, topologicalOrder } from '../kernel/expr.js';
import type { JaxArray } from './leaf.js';
import { fusedMultiplyAddJax } from './fma.js';
import { cutSite } from './cut-sites.js';
import { minMaxJax, minMaxMayDropNaN } from './nan-min-max.js';

/**
 * A value while lowering: a per-step constant (already rounded to the dtype), an array hyperparameter
 * known on the host (a {@link ShapedArray} of the dtype's values, broadcast against the leaf), or a
 * jax-js array.
 */
export type JaxValue = number | ShapedArray | JaxArray;

/** The inputs of one leaf's kernel. Borrowed: the caller still owns (and disposes) every array here. */
export interface KernelInputs {
  readonly updates: JaxArray;
  readonly params: JaxArray | null;
  readonly state: Readonly<Record<string, JaxArray>>;
  readonly scalars: Readonly<Record<string, JaxValue>>;
  /**
   * `1 / float64(s)` for a 0-d float32 per-step scalar `s` (borrowed), where the caller shares one
   * among the leaves; undefined where it has none. A float32 leaf divided by `s` is then
   * `float32(float64(x) * r)`: the very operations jax-js runs for `x / s` in float64 (its division is
   * a multiplication by the reciprocal), with the reciprocal computed once per step instead of once
   * per element.
   */
  readonly reciprocal?: (name: string) => JaxArray | undefined;
}

/** The outputs of one leaf's kernel, owned by the caller. */
export interface KernelOutputs {
  readonly updates: JaxArray;
  readonly state: Record<string, JaxArray>;
}

type Host = number | ShapedArray;
const isHost = (v: JaxValue): v is Host => typeof v === 'number' || v instanceof ShapedArray;

/**
 * Evaluates a transformation's {@link Kernel} (the same `ex.*` graph the pure path interprets and the
 * fused engine compiles) as jax-js operations, one op per node, so inside `jit` it is part of the
 * traced graph. Each node is one jax-js op rounded to the leaf dtype, as one XLA op is; a node whose
 * operands are all host constants (numbers, array hyperparameters) is folded on the host with the same
 * rounding, element by element with numpy's broadcasting. A constant that meets an array is a plain
 * literal where jax-js's simplifier cannot rewrite it ({@link literalIsSafe}: adamax's moments), and
 * otherwise enters the graph through `anchors` (opaque to the simplifier, which would refold `(x * c1)
 * * c2`). `sub`, `abs`, `max`, `min` are written so that they are IEEE's (and XLA's) on every device
 * ({@link absolute}, nan-min-max.ts).
 * `dtype` is the leaf's: float32, or float64 (wasm and cpu devices), where a division is corrected to
 * the IEEE quotient ({@link divide64}).
 *
 * Ownership: the inputs are borrowed (each use takes a `.ref`); every intermediate is used by
 * reference while other nodes still need it and consumed by its last use, so nothing leaks.
 */
export function lowerKernel(name: string, kernel: Kernel, stateNames: readonly string[], inputs: KernelInputs, dtype: Dtype, anchors: KernelAnchors | null): KernelOutputs {
  const roots = [kernel.updates, ...stateNames.map((k) => kernel.state[k])];
  const order = topologicalOrder(roots);
  const uses = new Map<Expr, number>();
  const bump = (e: Expr): void => { uses.set(e, (uses.get(e) ?? 0) + 1); };
  for (const e of order) {
    if (e.kind === 'unary') bump(e.a);
    else if (e.kind === 'binary') { bump(e.a); bump(e.b); }
    else if (e.kind === 'fma') { bump(e.a); bump(e.b); bump(e.c); }
  }
  roots.forEach(bump);
  const values = new Map<Expr, JaxValue>();
  const take = (e: Expr): JaxValue => {
    const v = values.get(e)!;
    const left = uses.get(e)! - 1;
    uses.set(e, left);
    if (isHost(v)) return v;
    return left > 0 ? v.ref : v;
  };
  // Where a number may stay a plain literal (see literalIsSafe).
  const consumers = new Map<Expr, { node: Expr; first: boolean }[]>();
  for (const e of order) {
    const operands = e.kind === 'unary' ? [e.a] : e.kind === 'binary' ? [e.a, e.b] : e.kind === 'fma' ? [e.a, e.b, e.c] : [];
    operands.forEach((o, i) => { if (!consumers.has(o)) consumers.set(o, []); consumers.get(o)!.push({ node: e, first: i === 0 }); });
  }
  const rootSet = new Set(roots);
  // A host constant as a graph operand (owned by the op that consumes it).
  const operand = (v: JaxValue): JaxArray => {
    if (isHost(v) && !anchors) throw new OptaxError(`internal: toJaxJs: ${name}: a constant without anchors`);
    if (typeof v === 'number') return anchors!.literal(dtype, v);
    if (v instanceof ShapedArray) return anchors!.array(dtype, v.data, leafRank(v.shape, inputs.updates.shape.length));
    return v;
  };
  for (const e of order) {
    let v: JaxValue;
    switch (e.kind) {
      case 'updates': v = inputs.updates.ref; break;
      case 'params':
        if (!inputs.params) throw new OptaxError(`${name} needs params: call update(updates, state, params)`);
        v = inputs.params.ref;
        break;
      case 'state': {
        const s = inputs.state[e.name];
        if (!s) throw new OptaxError(`toJaxJs: ${name}: the kernel reads a state leaf '${e.name}' it does not keep`);
        v = s.ref;
        break;
      }
      case 'scalar': {
        const s = inputs.scalars[e.name];
        if (s === undefined) throw new OptaxError(`toJaxJs: ${name}: no value for the per-step scalar '${e.name}'`);
        v = isHost(s) ? s : s.ref;
        break;
      }
      case 'unary': {
        const a = take(e.a);
        if (isHost(a)) v = hostUnary(dtype, (x) => applyUnary(e.op, x), a);
        else v = e.op === 'neg' ? negate(a) : e.op === 'abs' ? absolute(a) : np.sqrt(a);
        break;
      }
      case 'binary': {
        const a = take(e.a), b = take(e.b);
        if (isHost(a) && isHost(b)) { v = hostBinary(dtype, (x, y) => applyBinary(e.op, x, y), a, b); break; }
        if (e.op === 'div') {
          const r = dtype === 'float32' && e.b.kind === 'scalar' && !isHost(a) && !isHost(b) && a.dtype === 'float32' ? inputs.reciprocal?.(e.b.name) : undefined;
          if (r) {
            (b as JaxArray).dispose();
            v = np.multiply((a as JaxArray).astype(np.float64), r.ref).astype(np.float32);
            break;
          }
          if ((isHost(a) || isHost(b)) && !anchors) throw new OptaxError(`internal: toJaxJs: ${name}: a constant without anchors`);
          v = divide(a, b, dtype, anchors!, inputs.updates.shape.length);
          break;
        }
        // A float32 number the simplifier cannot rewrite stays a literal (a constant in the kernel's
        // code); any other host value enters through the anchors.
        const plain = (v: JaxValue): JaxArray | number => (typeof v === 'number' && literalIsSafe(e, v, dtype, rootSet, consumers) ? v : operand(v));
        const x = plain(a) as JaxArray, y = plain(b) as JaxArray;
        switch (e.op) {
          case 'add': v = np.add(x, y); break;
          // jax-js's subtract(x, y) is x + (0 - y): +0 for -0 - (+0), where IEEE gives -0. x + y * -1
          // is the IEEE difference (jax-js's simplifier turns it into x - y).
          case 'sub': v = np.add(x, typeof y === 'number' ? -y : negate(y)); break;
          case 'mul': v = np.multiply(x, y); break;
          case 'max':
          case 'min': v = minMaxJax(e.op, x, y); break;
        }
        break;
      }
      case 'fma': {
        // XLA's contraction inside a traced computation (apply_if_finite, MultiSteps): jax-js has no
        // fma op; it is built exactly from other operations (fma.ts).
        const a = take(e.a), b = take(e.b), c = take(e.c);
        if (!anchors) throw new OptaxError(`internal: toJaxJs: ${name}: a fused multiply-add without anchors`);
        // Numbers go to fma.ts as they are (it places them where the simplifier leaves them alone); an
        // array hyperparameter enters through the anchors.
        const arg = (x: JaxValue): number | JaxArray => (x instanceof ShapedArray ? operand(x) : x);
        v = fusedMultiplyAddJax(dtype, arg(a), arg(b), arg(c), (k) => anchors.literal(dtype, k));
        break;
      }
      default:
        throw new OptaxError(`toJaxJs: ${name}: unsupported expression node ${(e as Expr).kind}`);
    }
    // Each node a cut site (cut-sites.ts: on WebGL inside jit, where it may be materialized; else itself).
    values.set(e, isHost(v) ? v : cutSite(v));
  }
  const out = (e: Expr): JaxArray => {
    const v = take(e);
    if (!isHost(v)) return v;
    // A root that folded to a constant still has the leaf's shape.
    if (typeof v === 'number') return np.full(inputs.updates.shape, v, { dtype: inputs.updates.dtype });
    return np.add(np.zeros(inputs.updates.shape, { dtype: inputs.updates.dtype }), operand(v));
  };
  const updates = out(kernel.updates);
  const state: Record<string, JaxArray> = {};
  for (const k of stateNames) state[k] = out(kernel.state[k]);
  return { updates, state };
}

type BinaryExpr = Extract<Expr, { kind: 'binary' }>;

/**
 * Whether the number `c`, an operand of the node `e`, can enter jax-js's graph as a plain literal
 * with every operation still rounded as one XLA operation. jax-js 0.1.25 rewrites literal constants in
 * two places (read from its source): `Jaxpr.simplify` drops `x + 0` and `x * 1` and folds literals, and
 * `AluExp.simplify`, over each fused kernel's whole expression (across transformations, into the
 * caller's own operations), drops `x + 0`, `x - 0` and `x * 1`, turns `x * 0` into 0, moves a constant
 * of `+ * max min` to the right, and reassociates through it: `(x op c1) op c2 -> x op (c1 op c2)`,
 * `(x op c) op y -> (x op y) op c`, `x op (y op c) -> (x op y) op c` (subtraction is addition of a
 * negation there, division multiplication by a reciprocal); and it folds a node whose value range
 * (computed from the constants, NaN ignored) is one point: `max(min(y, -1), 1.1)` becomes 1.1 even for
 * a NaN `y` (measured). So a literal is safe when it is a finite nonzero float32 value (a float64
 * literal reaches the graph as float32; `x * 0`, `x + 0` are rewritten; `x * 1` is dropped, which is
 * exact), and `e` is `+ - *` (never `max`/`min`, whose constants bound ranges), not a root (whose
 * consumer is unknown: the next transformation, the caller), none of whose consumers continues it (`+`
 * or the first operand of `-` after `+ -`; `*`, a dividend or a fused multiply-add after `*`), and whose
 * other operand is not such a node either: then no rule above matches, and `x + c`, `x * c` of an
 * unbounded `x` stay unbounded. Negation (`x * -1`), `abs`, `sqrt`, `max`, `min` between them are safe
 * (a negation folded into a constant is exact). Everything else is anchored (KernelAnchors). Literals cost nothing per element where a loaded
 * constant costs a load (measured: about a tenth of adamax's moment kernels' time on wasm).
 */
export function literalIsSafe(e: BinaryExpr, c: number, dtype: Dtype, roots: ReadonlySet<Expr>, consumers: ReadonlyMap<Expr, readonly { node: Expr; first: boolean }[]>): boolean {
  if (dtype !== 'float32' || !Number.isFinite(c) || c === 0 || Math.fround(c) !== c) return false;
  if (e.op === 'max' || e.op === 'min' || e.op === 'div' || roots.has(e)) return false;
  const family = e.op === 'mul' ? 'mul' : 'add';
  const continues = (node: Expr, first: boolean): boolean => {
    if (node.kind === 'fma') return true;
    if (node.kind !== 'binary') return false;
    if (family === 'add') return node.op === 'add' || (node.op === 'sub' && first);
    return node.op === 'mul' || (node.op === 'div' && first);
  };
  if ((consumers.get(e) ?? []).some((u) => continues(u.node, u.first))) return false;
  const sameFamily = (o: Expr): boolean => o.kind === 'binary' && (family === 'mul' ? o.op === 'mul' || o.op === 'div' : o.op === 'add' || o.op === 'sub');
  return !sameFamily(e.a) && !sameFamily(e.b);
}

/**
 * A hyperparameter's shape without the leading 1s beyond the leaf's rank (checked to be 1s): optax-ts,
 * as its pure path, never lets a hyperparameter grow a leaf, where jax-js would broadcast the leaf up.
 */
function leafRank(shape: readonly number[], rank: number): readonly number[] {
  return shape.length > rank ? shape.slice(shape.length - rank) : shape;
}

/** numpy's broadcast shape of two shapes (both already checked against the leaf's). */
function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    return x === 1 ? y : x;
  });
}

function hostUnary(dtype: Dtype, f: (x: number) => number, a: Host): Host {
  if (typeof a === 'number') return roundTo(dtype, f(a));
  const out = allocate(dtype, a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(a.data[i]);
  return new ShapedArray(out, a.shape);
}

/** `f(a, b)` on host constants, each result rounded to `dtype`, with numpy's broadcasting. */
function hostBinary(dtype: Dtype, f: (x: number, y: number) => number, a: Host, b: Host): Host {
  if (typeof a === 'number' && typeof b === 'number') return roundTo(dtype, f(a, b));
  const sa = typeof a === 'number' ? [] : a.shape, sb = typeof b === 'number' ? [] : b.shape;
  const shape = broadcastShape(sa, sb);
  const spread = (v: Host, from: readonly number[]): ArrayLike<number> => (typeof v === 'number' ? [v] : broadcastTo(v.data, from, shape));
  const x = spread(a, sa), y = spread(b, sb);
  const out = allocate(dtype, shape.reduce((p, d) => p * d, 1));
  for (let i = 0; i < out.length; i++) out[i] = f(x.length === 1 ? x[0] : x[i], y.length === 1 ? y[0] : y[i]);
  return new ShapedArray(out, shape);
}

/**
 * Whether a hyperparameter of shape `from` broadcasts against a leaf of shape `to` without changing
 * the leaf's shape (numpy's rules; the pure path's `broadcastTo` check), else an OptaxError naming the
 * leaf and the hyperparameter.
 */
export function checkBroadcast(from: readonly number[], to: readonly number[], path: TreePath, what: string): void {
  const fail = (): never => {
    throw new OptaxError(`${what} of shape [${from.join(', ')}] does not broadcast against the leaf's shape [${to.join(', ')}]`, path, 'grads');
  };
  if (from.length > to.length) {
    if (!from.slice(0, from.length - to.length).every((d) => d === 1)) fail();
    from = from.slice(from.length - to.length);
  }
  const f = [...Array(to.length - from.length).fill(1), ...from];
  for (let i = 0; i < to.length; i++) if (f[i] !== 1 && f[i] !== to[i]) fail();
}

/**
 * `a / b` correctly rounded to float32, as XLA's division. jax-js divides by multiplying with the
 * reciprocal (two roundings: about a quarter of float32 quotients come out one ulp off). Where the
 * device has float64 (wasm, cpu), the quotient is computed in float64 and rounded once to float32:
 * float64's reciprocal-and-multiply is within 2^-52 of the true quotient, and a quotient of two
 * float32 values is either a float32 value or at least 2^-49 (relatively) away from every float32
 * rounding boundary, so the final rounding is the correct one (checked over 200,000 random bit
 * patterns, subnormals, zeros, infinities and NaN included). WebGPU and WebGL have no float64:
 * there the division is jax-js's own. A float64 division is {@link divide64}'s. Operands are consumed
 * (host constants enter through `anchors`).
 */
export function divide(a: JaxValue, b: JaxValue, dtype: Dtype, anchors: KernelAnchors, rank: number): JaxArray {
  const operand = (v: JaxValue, d: Dtype): JaxArray => {
    if (typeof v === 'number') return anchors.literal(d, v);
    if (v instanceof ShapedArray) return anchors.array(d, v.data, leafRank(v.shape, rank));
    return d === dtype ? v : v.astype(np.float64);
  };
  if (dtype === 'float64') {
    const x = operand(a, 'float64'), y = operand(b, 'float64');
    const out = divide64(x, y, (c) => anchors.literal('float64', c));
    x.dispose();
    y.dispose();
    return out;
  }
  if (!deviceHasFloat64()) return np.trueDivide(operand(a, dtype), operand(b, dtype));
  return np.trueDivide(operand(a, 'float64'), operand(b, 'float64')).astype(np.float32);
}

/**
 * `-x` as IEEE negation (exact, flips the sign of zeros). jax-js 0.1.25's `negative(x)` is `0 - x`,
 * which gives +0 for +0 (measured); `x * -1` is the IEEE negation (and jax-js's simplifier only turns
 * `a + x * -1` into `a - x`, the same value).
 */
export function negate(x: JaxArray): JaxArray {
  return np.multiply(x, -1);
}

/**
 * `|x|` as IEEE has it (+0 for -0, NaN stays NaN). jax-js 0.1.25's `abs(x)` is `x < 0 ? -x : x`, which
 * keeps -0 (measured). Where `max` is IEEE's (wasm: NaN-propagating, -0 below +0) it is `max(x, 0 -
 * x)`, one operation fewer than jax-js's; elsewhere `0 - (x < 0 ? x : 0 - x)` (jax-js's negation `0 -
 * x` gives +0 for both zeros). Consumes x.
 */
export function absolute(x: JaxArray): JaxArray {
  if (!minMaxMayDropNaN()) return np.maximum(x.ref, np.negative(x));
  return np.negative(np.where(np.less(x.ref, 0), x.ref, np.negative(x)));
}

/** Whether the active jax-js device computes in float64 (wasm and cpu do; WebGPU and WebGL do not). */
export function deviceHasFloat64(): boolean {
  const device = defaultDevice();
  return device === 'wasm' || device === 'cpu';
}

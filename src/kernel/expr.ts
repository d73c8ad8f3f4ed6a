/**
 * The elementwise math of a transformation, written once as a small expression graph.
 *
 * Every elementwise transformation (scale_by_adamax, scale, add_decayed_weights, clip, ...) states its
 * per-element rule as an {@link Kernel}: the new update and the new per-element state, as expressions of
 * the incoming update, the parameter, the old state and per-step scalars. Every execution path derives
 * from that one description: the reference path evaluates it op by op over whole leaves (as eager optax
 * does), and the fused engine composes the kernels of a chain into one and generates its loop (plain JS
 * or WebAssembly SIMD) from the composed graph. Each operation rounds its result to the leaf's dtype,
 * exactly like one XLA op does, so every path gives the same bits.
 */

/** Operations of one operand. `abs` and `neg` are exact; `sqrt` is correctly rounded. */
export type UnaryOp = 'neg' | 'abs' | 'sqrt';

/**
 * Operations of two operands, IEEE semantics with round-to-nearest-even to the leaf dtype.
 * `max`/`min` propagate NaN and order -0 below +0 (as `Math.max`, WebAssembly `f32.max` and XLA do).
 */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min';

/** A node of the expression graph. Nodes are immutable; a node used twice is computed once. */
export type Expr =
  /** The incoming update (the gradient, for the first transformation of a chain). */
  | { readonly kind: 'updates' }
  /** The parameter. */
  | { readonly kind: 'params' }
  /** The old value of a per-element state leaf (e.g. `mu`). */
  | { readonly kind: 'state'; readonly name: string }
  /** A per-step value, the same for every element of a leaf (or a broadcast array hyperparameter). */
  | { readonly kind: 'scalar'; readonly name: string }
  | { readonly kind: 'unary'; readonly op: UnaryOp; readonly a: Expr }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly a: Expr; readonly b: Expr }
  /**
   * `a * b + c` rounded once (a fused multiply-add). No transformation's eager math has one: XLA:CPU
   * contracts a multiplication into an addition only inside a compiled computation, which is how
   * optax runs the inner optimizer of `apply_if_finite` and `MultiSteps` (see transforms/traced.ts).
   */
  | { readonly kind: 'fma'; readonly a: Expr; readonly b: Expr; readonly c: Expr };

/** The per-element rule of a transformation: its output update and its new per-element state. */
export interface Kernel {
  /** The update this transformation emits. */
  readonly updates: Expr;
  /** The new value of each per-element state leaf, by name (must cover every state leaf it reads). */
  readonly state: Readonly<Record<string, Expr>>;
}

const UPDATES: Expr = Object.freeze({ kind: 'updates' });
const PARAMS: Expr = Object.freeze({ kind: 'params' });

/**
 * Builders for {@link Expr} nodes, so kernels read like the math.
 *
 * @example
 * ```ts
 * import { ex } from 'optax-ts';
 * // optax's update_moment, mu = (1 - b1) * g + b1 * mu, as a graph:
 * const mu = ex.add(ex.mul(ex.scalar('one_minus_b1'), ex.updates), ex.mul(ex.scalar('b1'), ex.state('mu')));
 * console.log(mu.kind, JSON.stringify(ex.mul(ex.scalar('lr'), ex.updates))); // binary {"kind":"binary","op":"mul","a":{"kind":"scalar","name":"lr"},"b":{"kind":"updates"}}
 * ```
 */
export const ex = {
  updates: UPDATES,
  params: PARAMS,
  state: (name: string): Expr => ({ kind: 'state', name }),
  scalar: (name: string): Expr => ({ kind: 'scalar', name }),
  neg: (a: Expr): Expr => ({ kind: 'unary', op: 'neg', a }),
  abs: (a: Expr): Expr => ({ kind: 'unary', op: 'abs', a }),
  sqrt: (a: Expr): Expr => ({ kind: 'unary', op: 'sqrt', a }),
  add: (a: Expr, b: Expr): Expr => ({ kind: 'binary', op: 'add', a, b }),
  sub: (a: Expr, b: Expr): Expr => ({ kind: 'binary', op: 'sub', a, b }),
  mul: (a: Expr, b: Expr): Expr => ({ kind: 'binary', op: 'mul', a, b }),
  div: (a: Expr, b: Expr): Expr => ({ kind: 'binary', op: 'div', a, b }),
  max: (a: Expr, b: Expr): Expr => ({ kind: 'binary', op: 'max', a, b }),
  min: (a: Expr, b: Expr): Expr => ({ kind: 'binary', op: 'min', a, b }),
  fma: (a: Expr, b: Expr, c: Expr): Expr => ({ kind: 'fma', a, b, c }),
} as const;

/** Applies a unary op to one double; the caller rounds to the dtype. */
export function applyUnary(op: UnaryOp, a: number): number {
  switch (op) {
    case 'neg': return -a;
    case 'abs': return Math.abs(a);
    case 'sqrt': return Math.sqrt(a);
  }
}

/** Applies a binary op to two doubles; the caller rounds to the dtype. */
export function applyBinary(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case 'add': return a + b;
    case 'sub': return a - b;
    case 'mul': return a * b;
    case 'div': return a / b;
    case 'max': return Math.max(a, b);
    case 'min': return Math.min(a, b);
  }
}

/**
 * Replaces the leaves of an expression: `updates`, `params`, `state` and `scalar` nodes are mapped by
 * `leaf`; interior nodes are rebuilt (memoized, so shared subgraphs stay shared). Used to compose the
 * kernels of a chain: the second kernel's `updates` becomes the first kernel's output.
 */
export function substitute(e: Expr, leaf: (e: Expr) => Expr, memo = new Map<Expr, Expr>()): Expr {
  const hit = memo.get(e);
  if (hit) return hit;
  let out: Expr;
  if (e.kind === 'unary') out = { kind: 'unary', op: e.op, a: substitute(e.a, leaf, memo) };
  else if (e.kind === 'binary') out = { kind: 'binary', op: e.op, a: substitute(e.a, leaf, memo), b: substitute(e.b, leaf, memo) };
  else if (e.kind === 'fma') out = { kind: 'fma', a: substitute(e.a, leaf, memo), b: substitute(e.b, leaf, memo), c: substitute(e.c, leaf, memo) };
  else out = leaf(e);
  memo.set(e, out);
  return out;
}

/** The nodes reachable from `roots`, each once, operands before their users. */
export function topologicalOrder(roots: readonly Expr[]): Expr[] {
  const seen = new Set<Expr>();
  const order: Expr[] = [];
  const visit = (e: Expr): void => {
    if (seen.has(e)) return;
    seen.add(e);
    if (e.kind === 'unary') visit(e.a);
    else if (e.kind === 'binary') { visit(e.a); visit(e.b); }
    else if (e.kind === 'fma') { visit(e.a); visit(e.b); visit(e.c); }
    order.push(e);
  };
  roots.forEach(visit);
  return order;
}

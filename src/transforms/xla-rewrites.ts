import { type Dtype, type FloatArray, allocate } from '../core/dtype.js';
import { type BinaryOp, type Expr, type UnaryOp, applyBinary, applyUnary } from '../kernel/expr.js';
import { fusedMultiplyAdd } from './fused-multiply-add.js';

/**
 * The rewrites XLA (and LLVM, on XLA:CPU) apply to a traced elementwise computation, on the
 * expression graph of a composed kernel, and the evaluation of the result. Why and where these
 * rules come from: see `traced.ts`.
 */

/** A node of a traced computation: an {@link Expr}, or a fused multiply-add `a * b + c`. */
export type Node =
  | Exclude<Expr, { kind: 'unary' } | { kind: 'binary' }>
  | { readonly kind: 'unary'; readonly op: UnaryOp; readonly a: Node }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly a: Node; readonly b: Node }
  | { readonly kind: 'fma'; readonly a: Node; readonly b: Node; readonly c: Node };

/** Counts the uses of each node reachable from the roots (a root counts as one use). */
function countUses(roots: readonly Expr[]): Map<Expr, number> {
  const uses = new Map<Expr, number>();
  const visit = (e: Expr): void => {
    const n = (uses.get(e) ?? 0) + 1;
    uses.set(e, n);
    if (n > 1) return;
    if (e.kind === 'unary') visit(e.a);
    else if (e.kind === 'binary') { visit(e.a); visit(e.b); }
  };
  roots.forEach(visit);
  return uses;
}

/**
 * Applies the rewrites: `(A / B) / C` to `A / (B * C)` where `A / B` has no other use, and the
 * contraction of a single-use multiplication into the addition or subtraction using it (see
 * `traced.ts` for which of two). `computedUpdates`: the `updates` leaf is computed, not an input.
 */
export function rewrite(roots: readonly Expr[], computedUpdates: boolean): Node[] {
  const uses = countUses(roots);
  const once = (e: Expr): boolean => uses.get(e) === 1;
  const isMul = (e: Expr): e is Expr & { kind: 'binary' } => e.kind === 'binary' && e.op === 'mul' && once(e);
  const isInput = (e: Expr): boolean => e.kind === 'params' || e.kind === 'state' || e.kind === 'scalar' || (e.kind === 'updates' && !computedUpdates);
  const readsInputs = (e: Expr & { kind: 'binary' }): boolean => isInput(e.a) && isInput(e.b);
  // Which multiplication of `x + y` LLVM contracts: the only contractible one; of two, the one that
  // reads only the computation's inputs if just one does, else the left one.
  const contracted = (x: Expr, y: Expr): 'left' | 'right' | undefined => {
    const l = isMul(x), r = isMul(y);
    if (l && r) return !readsInputs(x) && readsInputs(y) ? 'right' : 'left';
    return l ? 'left' : r ? 'right' : undefined;
  };
  const memo = new Map<Expr, Node>();
  const neg = (n: Node): Node => ({ kind: 'unary', op: 'neg', a: n });
  const rw = (e: Expr): Node => {
    const hit = memo.get(e);
    if (hit) return hit;
    let out: Node;
    if (e.kind === 'unary') out = { kind: 'unary', op: e.op, a: rw(e.a) };
    else if (e.kind !== 'binary') out = e;
    else if (e.op === 'div' && e.a.kind === 'binary' && e.a.op === 'div' && once(e.a)) {
      out = { kind: 'binary', op: 'div', a: rw(e.a.a), b: { kind: 'binary', op: 'mul', a: rw(e.a.b), b: rw(e.b) } };
    } else if ((e.op === 'add' || e.op === 'sub') && contracted(e.a, e.b)) {
      const side = contracted(e.a, e.b);
      const m = (side === 'left' ? e.a : e.b) as Expr & { kind: 'binary' };
      const other = rw(side === 'left' ? e.b : e.a);
      if (e.op === 'add') out = { kind: 'fma', a: rw(m.a), b: rw(m.b), c: other };
      else if (side === 'left') out = { kind: 'fma', a: rw(m.a), b: rw(m.b), c: neg(other) }; // x*y - z
      else out = { kind: 'fma', a: neg(rw(m.a)), b: rw(m.b), c: other }; // z - x*y
    } else out = { kind: 'binary', op: e.op, a: rw(e.a), b: rw(e.b) };
    memo.set(e, out);
    return out;
  };
  return roots.map(rw);
}

/** A per-leaf value: a number (uniform) or one element per position. */
export type Value = number | FloatArray;

/** Evaluates rewritten roots over one leaf of `n` elements, each operation rounded to `dtype`. */
export function evaluate(roots: readonly Node[], dtype: Dtype, n: number, leaf: (e: Node) => Value): FloatArray[] {
  const memo = new Map<Node, Value>();
  const at = (v: Value, i: number): number => (typeof v === 'number' ? v : v[i]);
  const ev = (e: Node): Value => {
    const hit = memo.get(e);
    if (hit !== undefined) return hit;
    let out: Value;
    if (e.kind === 'unary' || e.kind === 'binary' || e.kind === 'fma') {
      const args = e.kind === 'unary' ? [ev(e.a)] : e.kind === 'binary' ? [ev(e.a), ev(e.b)] : [ev(e.a), ev(e.b), ev(e.c)];
      const arr = allocate(dtype, n); // stores round to the dtype
      for (let i = 0; i < n; i++) {
        arr[i] = e.kind === 'unary' ? applyUnary(e.op, at(args[0], i))
          : e.kind === 'binary' ? applyBinary(e.op, at(args[0], i), at(args[1], i))
          : fusedMultiplyAdd(dtype, at(args[0], i), at(args[1], i), at(args[2], i));
      }
      out = arr;
    } else out = leaf(e);
    memo.set(e, out);
    return out;
  };
  return roots.map((r) => {
    const v = ev(r);
    if (typeof v !== 'number') return v;
    const arr = allocate(dtype, n);
    arr.fill(v);
    return arr;
  });
}

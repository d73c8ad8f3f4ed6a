import { type Expr, ex } from '../kernel/expr.js';

/**
 * The rewrites XLA (and LLVM, on XLA:CPU) apply to a traced elementwise computation, on the
 * expression graph of a composed kernel; the result (with fused multiply-adds) is evaluated like any
 * kernel. Why and where these rules come from: see `traced.ts`.
 */

/** Counts the uses of each node reachable from the roots (a root counts as one use). */
function countUses(roots: readonly Expr[]): Map<Expr, number> {
  const uses = new Map<Expr, number>();
  const visit = (e: Expr): void => {
    const n = (uses.get(e) ?? 0) + 1;
    uses.set(e, n);
    if (n > 1) return;
    if (e.kind === 'unary') visit(e.a);
    else if (e.kind === 'binary') { visit(e.a); visit(e.b); }
    else if (e.kind === 'fma') { visit(e.a); visit(e.b); visit(e.c); }
  };
  roots.forEach(visit);
  return uses;
}

/**
 * Applies the rewrites: `(A / B) / C` to `A / (B * C)` where `A / B` has no other use, and the
 * contraction of a single-use multiplication into the addition or subtraction using it (see
 * `traced.ts` for which of two). `computedUpdates`: the `updates` leaf is computed, not an input.
 */
export function rewrite(roots: readonly Expr[], computedUpdates: boolean): Expr[] {
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
  const memo = new Map<Expr, Expr>();
  const rw = (e: Expr): Expr => {
    const hit = memo.get(e);
    if (hit) return hit;
    let out: Expr;
    if (e.kind === 'unary') out = { kind: 'unary', op: e.op, a: rw(e.a) };
    else if (e.kind === 'fma') out = ex.fma(rw(e.a), rw(e.b), rw(e.c));
    else if (e.kind !== 'binary') out = e;
    else if (e.op === 'div' && e.a.kind === 'binary' && e.a.op === 'div' && once(e.a)) {
      out = ex.div(rw(e.a.a), ex.mul(rw(e.a.b), rw(e.b)));
    } else if ((e.op === 'add' || e.op === 'sub') && contracted(e.a, e.b)) {
      const side = contracted(e.a, e.b);
      const m = (side === 'left' ? e.a : e.b) as Expr & { kind: 'binary' };
      const other = rw(side === 'left' ? e.b : e.a);
      if (e.op === 'add') out = ex.fma(rw(m.a), rw(m.b), other);
      else if (side === 'left') out = ex.fma(rw(m.a), rw(m.b), ex.neg(other)); // x*y - z
      else out = ex.fma(ex.neg(rw(m.a)), rw(m.b), other); // z - x*y
    } else out = { kind: 'binary', op: e.op, a: rw(e.a), b: rw(e.b) };
    memo.set(e, out);
    return out;
  };
  return roots.map(rw);
}

import type { BinaryOp, Expr, UnaryOp } from '../../kernel/expr.js';
import { topologicalOrder } from '../../kernel/expr.js';
import type { FusedProgram } from '../program.js';

/**
 * Lowers a {@link FusedProgram}'s expression graph to a flat list of value nodes for code generation.
 *
 * - Each node is computed once per element: the graph is a DAG (shared `Expr` objects), and
 *   structurally equal nodes (same op on the same operands, e.g. two `state('mu')` leaves built
 *   separately) are merged too. Merging never changes a result: the same IEEE op on the same operands
 *   gives the same bits.
 * - A node is *uniform* when it depends on scalars only: it is the same for every element, so the
 *   emitter computes it once per call, before the loops (in the same dtype, with the same op, hence the
 *   same bits as computing it per element).
 */

/** One value of the lowered program; operands are indices of earlier nodes. */
export type LoweredNode =
  | { readonly kind: 'load'; readonly stream: number; readonly uniform: false }
  | { readonly kind: 'scalar'; readonly scalar: number; readonly uniform: true }
  | { readonly kind: 'unary'; readonly op: UnaryOp; readonly a: number; readonly uniform: boolean }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly a: number; readonly b: number; readonly uniform: boolean }
  | { readonly kind: 'fma'; readonly a: number; readonly b: number; readonly c: number; readonly uniform: boolean };

/** The program as the emitter consumes it. */
export interface LoweredProgram {
  /** Nodes in evaluation order (operands first). */
  readonly nodes: readonly LoweredNode[];
  /** `stream[i] = nodes[node]`, in the program's output order. */
  readonly stores: readonly { readonly stream: number; readonly node: number }[];
  /** The program's {@link FusedProgram.fast} variant, its expressions as nodes (in `nodes` too). */
  readonly fast?: {
    readonly below: readonly { readonly a: number; readonly b?: number; readonly k: number }[];
    readonly notNegativeZero: readonly number[];
    readonly stores: readonly { readonly stream: number; readonly node: number }[];
    /** Its capped checks: the per-element values as nodes; the per-call checks as expressions. */
    readonly capped?: {
      readonly capLog2: number;
      readonly caps: readonly number[];
      readonly notNaN: readonly number[];
      readonly uniform: NonNullable<FusedProgram['fast']>['below'];
    };
  };
}

/** The stream a leaf reads. */
function streamOf(e: Expr): string {
  switch (e.kind) {
    case 'updates': return 'updates';
    case 'params': return 'params';
    case 'state': return e.name;
    default: throw new Error(`not a stream leaf: ${e.kind}`);
  }
}

/** Lowers `program`; throws when it reads or writes a stream or scalar it does not declare. */
export function lowerProgram(program: FusedProgram): LoweredProgram {
  const streamIndex = (name: string, role: string): number => {
    const i = program.streams.indexOf(name);
    if (i < 0) throw new Error(`fused program ${role} stream '${name}', which is not in its streams [${program.streams.join(', ')}]`);
    return i;
  };
  const nodes: LoweredNode[] = [];
  const byKey = new Map<string, number>();
  const byExpr = new Map<Expr, number>();
  const intern = (key: string, make: () => LoweredNode): number => {
    let id = byKey.get(key);
    if (id === undefined) {
      id = nodes.length;
      nodes.push(make());
      byKey.set(key, id);
    }
    return id;
  };
  const fast = program.fast;
  const roots = [...program.outputs.map((o) => o.expr)];
  if (fast) roots.push(...fast.outputs.map((o) => o.expr), ...fast.below.flatMap((c) => (c.b ? [c.a, c.b] : [c.a])), ...fast.notNegativeZero);
  if (fast?.capped) roots.push(...fast.capped.caps, ...fast.capped.notNaN);
  for (const e of topologicalOrder(roots)) {
    let id: number;
    switch (e.kind) {
      case 'updates':
      case 'params':
      case 'state': {
        const stream = streamIndex(streamOf(e), 'reads');
        id = intern(`load ${stream}`, () => ({ kind: 'load', stream, uniform: false }));
        break;
      }
      case 'scalar': {
        const scalar = program.scalars.indexOf(e.name);
        if (scalar < 0) throw new Error(`fused program reads scalar '${e.name}', which is not in its scalars [${program.scalars.join(', ')}]`);
        id = intern(`scalar ${scalar}`, () => ({ kind: 'scalar', scalar, uniform: true }));
        break;
      }
      case 'unary': {
        const a = byExpr.get(e.a)!;
        id = intern(`${e.op} ${a}`, () => ({ kind: 'unary', op: e.op, a, uniform: nodes[a].uniform }));
        break;
      }
      case 'binary': {
        const a = byExpr.get(e.a)!, b = byExpr.get(e.b)!;
        id = intern(`${e.op} ${a} ${b}`, () => ({ kind: 'binary', op: e.op, a, b, uniform: nodes[a].uniform && nodes[b].uniform }));
        break;
      }
      case 'fma': {
        const a = byExpr.get(e.a)!, b = byExpr.get(e.b)!, c = byExpr.get(e.c)!;
        id = intern(`fma ${a} ${b} ${c}`, () => ({ kind: 'fma', a, b, c, uniform: nodes[a].uniform && nodes[b].uniform && nodes[c].uniform }));
        break;
      }
    }
    byExpr.set(e, id);
  }
  const storesOf = (outputs: FusedProgram['outputs']): { stream: number; node: number }[] => outputs.map((o) => ({ stream: streamIndex(o.stream, 'writes'), node: byExpr.get(o.expr)! }));
  const stores = storesOf(program.outputs);
  if (!fast) return { nodes, stores };
  return {
    nodes,
    stores,
    fast: {
      below: fast.below.map((c) => ({ a: byExpr.get(c.a)!, ...(c.b ? { b: byExpr.get(c.b)! } : {}), k: c.k })),
      notNegativeZero: fast.notNegativeZero.map((e) => byExpr.get(e)!),
      stores: storesOf(fast.outputs),
      ...(fast.capped ? {
        capped: {
          capLog2: fast.capped.capLog2,
          caps: fast.capped.caps.map((e) => byExpr.get(e)!),
          notNaN: fast.capped.notNaN.map((e) => byExpr.get(e)!),
          uniform: fast.capped.uniform,
        },
      } : {}),
    },
  };
}

/**
 * For each node, true when its value can never be `-0` (whatever the inputs and scalars): the
 * emitter then writes `max` with it in fewer instructions (see `VectorOpEmitter`).
 *
 * - `abs(x)` is `+0` for both zeros.
 * - `x + y` is `-0` only when both are `-0` (in round-to-nearest an exact zero sum of other operands
 *   is `+0`, and a non-zero sum never rounds to zero, subnormals being kept): so when either is never `-0`.
 * - `x - y` is `-0` only when `x` is `-0` and `y` is `+0`.
 * - `sqrt` keeps the sign of a zero. Everything else (loads, scalars, `neg`, `*`, `/`, `min`, `max`)
 *   is taken as possibly `-0`.
 * - `flushed` (XLA's subnormal mode): a negative subnormal sum or difference is flushed to `-0`, so
 *   only `abs` and `sqrt` keep their facts.
 */
export function neverNegativeZero(nodes: readonly LoweredNode[], flushed = false): boolean[] {
  const result: boolean[] = [];
  for (const node of nodes) {
    let never = false;
    if (node.kind === 'unary') never = node.op === 'abs' || (node.op === 'sqrt' && result[node.a]);
    else if (node.kind === 'binary' && !flushed) {
      if (node.op === 'add') never = result[node.a] || result[node.b];
      else if (node.op === 'sub') never = result[node.a];
    }
    result.push(never);
  }
  return result;
}

import type { Jaxpr } from '@jax-js/jax';

/**
 * Primitives jax-js's `jit` moves data with but computes nothing in: fused into their consumers as a
 * change of the index expression (jax-js 0.1.25's `splitGraphDataflow`, `viewPrimitives`).
 */
const VIEWS = new Set(['transpose', 'broadcast', 'reshape', 'flip', 'shrink', 'pad', 'stop_gradient']);

/**
 * Elementwise primitives: fused into their consumer's kernel, one expression node each (but
 * `stop_gradient`, which jax-js writes as its operand: a view here).
 */
const ELEMENTWISE = new Set([
  'add', 'mul', 'idiv', 'mod', 'min', 'max', 'bit_combine', 'bit_shift', 'bit_count', 'neg', 'reciprocal', 'floor', 'ceil',
  'cast', 'bitcast', 'sin', 'cos', 'asin', 'atan', 'exp', 'log', 'erf', 'erfc', 'sqrt', 'compare', 'where',
]);

/**
 * How many times jax-js 0.1.25's GLSL generator (`generateExpression`) writes an operand's text into
 * its node's: once, but for a float comparison `!=` (`(a != b || isnan(a) || isnan(b))`, and
 * `equal` is its negation), which writes each operand three times, `<=` (`a < b` or `a == b`: four)
 * and a float `mod` (`a - b * trunc(a / b)`: two).
 */
function operandCopies(primitive: string, params: Record<string, unknown>, floatOperands: boolean): number {
  if (primitive === 'compare') {
    if (params.op === 'equal' || params.op === 'not_equal') return floatOperands ? 3 : 1;
    if (params.op === 'less_equal') return floatOperands ? 4 : 2;
    return 1;
  }
  if (primitive === 'mod') return floatOperands ? 2 : 1;
  return 1;
}

type Eqn = Jaxpr['eqns'][number];
type Value = Eqn['outBinders'][number];

/** The jaxpr as jax-js's `jit` compiles it (`jitCompile`): nested `jit` calls (`isfinite`, ...) inlined, then simplified. */
export function compiledForm(jaxpr: Jaxpr): Jaxpr {
  return jaxpr.flatten().simplify();
}

/**
 * The size of the fused kernels jax-js's `jit` makes of `jaxpr` on its WebGL device, counted as the
 * number of expression nodes of the GLSL it writes: for each output of the jaxpr (`jaxpr.outs[i]`),
 * the largest kernel among those that compute it (0 for an output that is an input or a literal).
 *
 * Why: jax-js 0.1.25's GLSL generator writes a kernel as one expression and repeats a shared
 * subexpression's text at each of its uses (its WGSL one binds such a value to a `let`), so a shader's
 * length is the size of the kernel's expression *as a tree*: exponential in the depth of reuse, where
 * the graph itself grows linearly. That size is computed here from the graph, in linear time (the
 * counts are doubles: one that overflows to infinity still compares as too large).
 *
 * The graph is first put in the form `jit` compiles ({@link compiledForm}: a nested `jit`, as jax-js's
 * `isfinite`, inlined). The kernels follow jax-js's splitting (`splitGraphDataflow`): a value is
 * computed in a kernel of its own (materialized) when it is an output, when its primitive is neither
 * elementwise nor a view (a reduction, a gather, a routine: such a kernel still fuses the elementwise
 * expression of its operands), or when it feeds more than one materialized value (each consumer's
 * kernel then reads it instead of recomputing it). jax-js also splits a kernel that would read more
 * buffers than its device binds (8 on WebGL): not modelled, which can only make a size here larger
 * than the kernels jax-js makes, never smaller. A node is one operation as jax-js writes it (`neg` as
 * `0 - x` counts one, not two).
 */
export function fusedKernelSizes(jaxpr: Jaxpr): number[] {
  const graph = new KernelGraph(compiledForm(jaxpr), jaxpr.outs.length);
  return graph.outputSizes(graph.materialized(new Set()));
}

/**
 * A jaxpr (in {@link compiledForm}) as jax-js's `jit` splits it into kernels: its first `outputs`
 * outputs are the ones computed (any further ones only keep values alive for {@link planCuts}).
 */
class KernelGraph {
  readonly eqns: readonly Eqn[];
  readonly outs: readonly unknown[];
  private readonly users = new Map<unknown, Eqn[]>();
  private readonly index = new Map<unknown, number>();

  constructor(jaxpr: Jaxpr, outputs: number) {
    this.eqns = jaxpr.eqns;
    this.outs = jaxpr.outs.slice(0, outputs);
    this.eqns.forEach((eqn, i) => {
      for (const v of eqn.outBinders) this.index.set(v, i);
      for (const x of eqn.inputs) {
        if (!this.users.has(x)) this.users.set(x, []);
        this.users.get(x)!.push(eqn);
      }
    });
  }

  /** The equation that defines `v` (its index), or undefined for an input or a literal. */
  definition(v: unknown): number | undefined {
    return this.index.get(v);
  }

  /**
   * The materialized values, found from the outputs back (jax-js's `splitGraphDataflow`): a value
   * that reaches two or more is one itself. `kernels` are values that are kernels of their own
   * whatever their primitive (cut: {@link planCuts}).
   */
  materialized(kernels: ReadonlySet<unknown>): Set<unknown> {
    const fused = (eqn: Eqn) => (ELEMENTWISE.has(eqn.primitive) || VIEWS.has(eqn.primitive)) && !eqn.outBinders.some((v) => kernels.has(v));
    const materialized = new Set<unknown>(this.outs);
    const reaches = new Map<unknown, unknown>();
    const materialize = (v: unknown) => { materialized.add(v); reaches.set(v, v); };
    this.outs.forEach(materialize);
    for (let i = this.eqns.length - 1; i >= 0; i--) {
      const eqn = this.eqns[i];
      if (!fused(eqn) || eqn.outBinders.some((v) => materialized.has(v))) {
        eqn.outBinders.forEach(materialize);
        continue;
      }
      const reached = new Set<unknown>();
      for (const v of eqn.outBinders) for (const u of this.users.get(v) ?? []) for (const o of u.outBinders) if (reaches.has(o)) reached.add(reaches.get(o));
      if (reached.size > 1) eqn.outBinders.forEach(materialize);
      else if (reached.size === 1) { const r = reached.values().next().value; for (const v of eqn.outBinders) reaches.set(v, r); }
    }
    return materialized;
  }

  /**
   * The expression size of `eqn`'s value as a tree, given its operands' sizes as operands (1 for a
   * load). A cut site in `cuts` is sized as the gather that copies it (cut-sites.ts's `copy`): a node
   * over its operand and the literal index.
   */
  size(eqn: Eqn, asOperand: (x: unknown) => number, cuts?: ReadonlySet<unknown>): number {
    const operands = eqn.inputs.reduce((n, x) => n + asOperand(x), 0);
    if (cuts?.has(eqn.outBinders[0])) return operands + 2;
    return VIEWS.has(eqn.primitive) ? operands : 1 + operandCopies(eqn.primitive, eqn.params, eqn.inputs.some(isFloat)) * operands;
  }

  /**
   * The cut site (among `sites`, not yet materialized) whose cut shrinks the expression of equation
   * `i` the most: each value of that expression counted as many times as the tree holds it (its
   * multiplicity, found from `i` back over the fused values), times its own size less the load that
   * replaces it. Undefined when the expression holds no site.
   */
  bestCut(i: number, materialized: ReadonlySet<unknown>, tree: ReadonlyMap<unknown, number>, sites: ReadonlyMap<unknown, number>): unknown {
    // The equations of the expression: i and the fused values it reads, transitively.
    const region = new Set<number>([i]);
    const pending = [i];
    while (pending.length > 0) {
      for (const x of this.eqns[pending.pop()!].inputs) {
        const d = this.index.get(x);
        if (d !== undefined && !materialized.has(x) && !region.has(d)) { region.add(d); pending.push(d); }
      }
    }
    const times = new Map<unknown, number>();
    let best: unknown = undefined, gain = 0;
    for (const j of [...region].sort((a, b) => b - a)) {
      const eqn = this.eqns[j];
      const m = j === i ? 1 : eqn.outBinders.reduce((n, v) => n + (times.get(v) ?? 0), 0);
      for (const v of eqn.outBinders) {
        const g = j === i ? 0 : m * ((tree.get(v) ?? 1) - 1);
        if (sites.has(v) && g > gain) { gain = g; best = v; }
      }
      const k = VIEWS.has(eqn.primitive) ? 1 : operandCopies(eqn.primitive, eqn.params, eqn.inputs.some(isFloat));
      for (const x of eqn.inputs) if (!materialized.has(x)) times.set(x, (times.get(x) ?? 0) + m * k);
    }
    return best;
  }

  /**
   * Forward, in the jaxpr's (topological) order: each value's expression size as a tree (a
   * materialized value, an input or a literal is one load, a leaf, to its consumers), and for each
   * output the largest kernel it depends on.
   */
  outputSizes(materialized: ReadonlySet<unknown>, cuts?: ReadonlySet<unknown>): number[] {
    const tree = new Map<unknown, number>();
    const largest = new Map<unknown, number>();
    const asOperand = (x: unknown): number => (materialized.has(x) ? 1 : tree.get(x) ?? 1);
    for (const eqn of this.eqns) {
      const size = this.size(eqn, asOperand, cuts);
      const below = eqn.inputs.reduce((m, x) => Math.max(m, largest.get(x) ?? 0), 0);
      for (const v of eqn.outBinders) {
        tree.set(v, size);
        largest.set(v, Math.max(below, materialized.has(v) ? size : 0));
      }
    }
    return this.outs.map((v) => largest.get(v) ?? 0);
  }
}

const isFloat = (x: unknown) => String((x as { aval: { dtype: string } }).aval.dtype).startsWith('float');

/** What {@link planCuts} chose: the cut sites (by their position among the jaxpr's `stop_gradient`s), and the kernel sizes with them. */
export interface CutPlan {
  readonly cuts: ReadonlySet<number>;
  /** {@link fusedKernelSizes}' figure for each output, the cuts made. */
  readonly sizes: readonly number[];
  /** The same without cuts. */
  readonly uncut: readonly number[];
}

/**
 * Where to cut a graph whose fused kernels would be too large for jax-js's WebGL: `jaxpr` marks each
 * value that may be materialized (a cut site) with a `stop_gradient` of it (an identity, free in
 * jax-js's kernels), in order; its first `outputs` outputs are the computation's, any further ones
 * keep sites alive. A cut site made a kernel of its own is read as a load by its consumers: its
 * expression is no longer written again at each of its uses.
 *
 * Greedy, forward: each value's expression tree is sized as {@link fusedKernelSizes} sizes it; where
 * one would exceed `budget` nodes, the site whose cut shrinks it the most ({@link KernelGraph.bestCut})
 * is cut, until it fits (or no site is left in it: the value stays too large). Every value
 * before it already fits, so every kernel made fits, and a site is only cut where a kernel would
 * otherwise exceed the budget: the fewest kernels this order finds. jax-js's splitting is then redone
 * with the cuts (a cut may change which other values it materializes) and the pass repeated until it
 * cuts nothing more.
 */
export function planCuts(jaxpr: Jaxpr, outputs: number, budget: number): CutPlan {
  const graph = new KernelGraph(compiledForm(jaxpr), outputs);
  const sites = graph.eqns.filter((e) => e.primitive === 'stop_gradient').map((e) => e.outBinders[0]);
  const siteIndex = new Map<unknown, number>(sites.map((v, k) => [v, k]));
  const cut = new Set<Value>();
  const uncut = graph.outputSizes(graph.materialized(cut));
  for (let pass = 0; pass < 8; pass++) {
    const before = cut.size;
    const materialized = graph.materialized(cut);
    const tree = new Map<unknown, number>();
    const asOperand = (x: unknown): number => (materialized.has(x) ? 1 : tree.get(x) ?? 1);
    const evaluate = (i: number) => { const eqn = graph.eqns[i]; const s = graph.size(eqn, asOperand, cut); for (const v of eqn.outBinders) tree.set(v, s); return s; };
    for (let i = 0; i < graph.eqns.length; i++) {
      while (evaluate(i) > budget) {
        const v = graph.bestCut(i, materialized, tree, siteIndex);
        if (v === undefined) break;
        cut.add(v as Value);
        materialized.add(v);
        for (let j = graph.definition(v)!; j < i; j++) evaluate(j);
      }
    }
    if (cut.size === before) break;
  }
  const sizes = graph.outputSizes(graph.materialized(cut), cut);
  return { cuts: new Set([...cut].map((v) => siteIndex.get(v)!)), sizes, uncut };
}

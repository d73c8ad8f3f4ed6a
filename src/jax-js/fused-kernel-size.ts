import type { Jaxpr } from '@jax-js/jax';

/**
 * Primitives jax-js's `jit` moves data with but computes nothing in: fused into their consumers as a
 * change of the index expression (jax-js 0.1.25's `splitGraphDataflow`, `viewPrimitives`).
 */
const VIEWS = new Set(['transpose', 'broadcast', 'reshape', 'flip', 'shrink', 'pad']);

/** Elementwise primitives: fused into their consumer's kernel, one expression node each. */
const ELEMENTWISE = new Set([
  'add', 'mul', 'idiv', 'mod', 'min', 'max', 'bit_combine', 'bit_shift', 'bit_count', 'neg', 'reciprocal', 'floor', 'ceil', 'stop_gradient',
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
 * The kernels follow jax-js's splitting (`splitGraphDataflow`): a value is computed in a kernel of
 * its own (materialized) when it is an output, when its primitive is neither elementwise nor a view
 * (a reduction, a gather, a routine: such a kernel still fuses the elementwise expression of its
 * operands), or when it feeds more than one materialized value (each consumer's kernel then reads it
 * instead of recomputing it). jax-js also splits a kernel that would read more buffers than its device
 * binds (8 on WebGL): not modelled, which can only make a size here larger than the kernels jax-js
 * makes (measured: `multiSteps(scale)`'s largest, about 6e8 here, was a 2.8e8-character shader), never
 * smaller. A node is one operation as jax-js writes it (`neg` as `0 - x` counts one, not two).
 */
export function fusedKernelSizes(jaxpr: Jaxpr): number[] {
  type Eqn = Jaxpr['eqns'][number];
  const defn = new Map<unknown, Eqn>();
  const users = new Map<unknown, Eqn[]>();
  for (const eqn of jaxpr.eqns) {
    for (const v of eqn.outBinders) defn.set(v, eqn);
    for (const x of eqn.inputs) {
      if (!users.has(x)) users.set(x, []);
      users.get(x)!.push(eqn);
    }
  }
  const fused = (p: string) => ELEMENTWISE.has(p) || VIEWS.has(p);
  // Materialized values, found from the outputs back: a value that reaches two or more is one itself.
  const materialized = new Set<unknown>(jaxpr.outs);
  const reaches = new Map<unknown, unknown>();
  const materialize = (v: unknown) => { materialized.add(v); reaches.set(v, v); };
  jaxpr.outs.forEach(materialize);
  for (let i = jaxpr.eqns.length - 1; i >= 0; i--) {
    const eqn = jaxpr.eqns[i];
    if (!fused(eqn.primitive) || eqn.outBinders.some((v) => materialized.has(v))) {
      eqn.outBinders.forEach(materialize);
      continue;
    }
    const reached = new Set<unknown>();
    for (const v of eqn.outBinders) for (const u of users.get(v) ?? []) for (const o of u.outBinders) if (reaches.has(o)) reached.add(reaches.get(o));
    if (reached.size > 1) eqn.outBinders.forEach(materialize);
    else if (reached.size === 1) { const r = reached.values().next().value; for (const v of eqn.outBinders) reaches.set(v, r); }
  }
  // Forward, in the jaxpr's (topological) order: each value's expression size as a tree (a
  // materialized value, an input or a literal is one load, a leaf, to its consumers), and the largest
  // kernel it depends on.
  const tree = new Map<unknown, number>();
  const largest = new Map<unknown, number>();
  const asOperand = (x: unknown): number => (materialized.has(x) ? 1 : tree.get(x) ?? 1);
  const isFloat = (x: unknown) => String((x as { aval: { dtype: string } }).aval.dtype).startsWith('float');
  for (const eqn of jaxpr.eqns) {
    const operands = eqn.inputs.reduce((n, x) => n + asOperand(x), 0);
    const size = VIEWS.has(eqn.primitive) ? operands : 1 + operandCopies(eqn.primitive, eqn.params, eqn.inputs.some(isFloat)) * operands;
    const below = eqn.inputs.reduce((m, x) => Math.max(m, largest.get(x) ?? 0), 0);
    for (const v of eqn.outBinders) {
      tree.set(v, size);
      largest.set(v, Math.max(below, materialized.has(v) ? size : 0));
    }
  }
  return jaxpr.outs.map((v) => largest.get(v) ?? 0);
}

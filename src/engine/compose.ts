import type { Dtype } from '../core/dtype.js';
import { type Expr, type Kernel, ex, substitute, topologicalOrder } from '../kernel/expr.js';
import { applyKernel } from '../transforms/apply-updates.js';
import { rewrite } from '../transforms/xla-rewrites.js';
import { preScaleOf } from '../transforms/traced.js';
import type { FastVariant, FusedOutput, FusedProgram } from './program.js';
import { fastAccumulateVariant } from './fast-accumulate.js';

/**
 * Composition of the kernels of a chain into one {@link FusedProgram}.
 *
 * Stage k's `updates` leaf becomes stage k-1's update expression, so the whole chain, and the final
 * `p + u` of `applyUpdates`, is one expression graph evaluated once per element: no intermediate
 * update is ever stored. Each op keeps its own rounding (every node rounds to the dtype), so the
 * composed graph gives the bits of running the stages one after the other.
 */

/** One elementwise stage of a chain, as the composer needs it. */
export interface ComposableStage {
  /** The stage's position in the flattened chain (names its state streams and scalars). */
  readonly index: number;
  /** Its per-element rule. */
  readonly kernel: Kernel;
  /** Its per-element state leaves (each gets a stream). */
  readonly stateLeaves: readonly string[];
  /** Its scalars that optax holds as Python numbers (constants of a traced computation). */
  readonly constantScalars?: readonly string[];
  /** Its scalars that are broadcast arrays: read per element from their streams ({@link scalarStreamName}). */
  readonly arrayScalars?: readonly string[];
}

/** The stream holding state leaf `name` of stage `index`. */
export function stateStreamName(index: number, name: string): string {
  return `s${index}.${name}`;
}

/** The stream holding array scalar `name` of stage `index`, broadcast to every leaf. */
export function scalarStreamName(index: number, name: string): string {
  return `s${index}@${name}`;
}

/** The program scalar for scalar `name` of stage `index`. */
export function scalarName(index: number, name: string): string {
  return `s${index}.${name}`;
}

/**
 * Composes `stages` (in chain order) and the final `p + u` into one program of `dtype`. The program
 * reads the gradient from stream `'updates'` and writes the new parameters to `'params'` and each new
 * state leaf to its stage's stream. `traced`: the stages run as one compiled computation in optax
 * (inside `applyIfFinite`), whose numerics differ (see transforms/traced.ts).
 */
/**
 * MultiSteps' passes: `emit` runs the inner stages and resets the accumulator (`acc = 0 * acc'`);
 * `accumulate` stores `acc'` and applies `p + 0 * y`, y being the inner update before its final
 * scalar factor when the inner runs traced (XLA folds MultiSteps' 0 into that factor), else the
 * inner update; it stores no inner state.
 */
export interface AccumulatorPass {
  /** The accumulator stage's index (its update is the new accumulator, its state stream `acc`). */
  readonly stage: number;
  readonly pass: 'emit' | 'accumulate';
  /**
   * The group's leaves, as XLA's simplifier treats `emit * u` on them (transforms/multi-steps.ts,
   * silentUpdates): `rank0` gives +0; `single` (one element) `+0 * u`; `many` `+0 * y` where the
   * traced update ends with a constant factor `u = c * y`, else `+0 * u`.
   */
  readonly leaves: MultiStepsLeafClass;
}

/**
 * A nested `applyIfFinite`: its own stage (`stage`, first of its segment) and its inner stages. On
 * the `apply` pass the inner stages' update is composed as optax's `lax.cond` branch computes it:
 * from an operand (the incoming update), rewritten as traced where `traced`; on the `skip` pass the
 * segment's update is the zero optax returns (`+0`, scalar `zero` of its stage) and its state
 * outputs are left out (the inner state is kept).
 */
export interface GuardPass {
  readonly stage: number;
  readonly inner: readonly number[];
  readonly traced: boolean;
  readonly pass: 'apply' | 'skip';
}

/** See {@link AccumulatorPass.leaves}. */
export type MultiStepsLeafClass = 'rank0' | 'single' | 'many';

/** The class of a leaf of `shape` with `length` elements. */
export function multiStepsLeafClass(shape: readonly number[], length: number): MultiStepsLeafClass {
  return shape.length === 0 ? 'rank0' : length === 1 ? 'single' : 'many';
}

export function composeProgram(dtype: Dtype, stages: readonly ComposableStage[], options: { traced?: boolean; accumulator?: AccumulatorPass; guard?: GuardPass } = {}): FusedProgram {
  let u: Expr = ex.updates;
  let stateOutputs: FusedOutput[] = [];
  const guard = options.guard;
  // The guard's segment on this group: from its stage to the last of its inner stages here.
  const segmentEnd = guard ? stages.reduce((last, st) => (st.index === guard.stage || guard.inner.includes(st.index) ? st.index : last), -1) : -1;
  let segment: { incoming: Expr; states: number } | undefined;
  const closeSegment = (): void => {
    const { incoming, states } = segment!;
    segment = undefined;
    if (guard!.pass === 'skip') {
      u = ex.scalar(scalarName(guard!.stage, 'zero'));
      stateOutputs = stateOutputs.slice(0, states);
      return;
    }
    const inner = stateOutputs.slice(states);
    const [branch, ...branchStates] = guard!.traced ? rewrite([u, ...inner.map((o) => o.expr)], false) : [u, ...inner.map((o) => o.expr)];
    // The branch's operand is the incoming update (computed before the cond, outside it).
    const memo = new Map<Expr, Expr>();
    const operand = (e: Expr): Expr => substitute(e, (x) => (x.kind === 'updates' ? incoming : x), memo);
    u = operand(branch);
    stateOutputs = [...stateOutputs.slice(0, states), ...inner.map((o, k) => ({ stream: o.stream, expr: operand(branchStates[k]) }))];
  };
  for (const stage of stages) {
    if (guard && stage.index === guard.stage) {
      // The segment starts from an opaque operand (the cond branch's parameter).
      segment = { incoming: u, states: stateOutputs.length };
      u = ex.updates;
      if (stage.index === segmentEnd) closeSegment();
      continue;
    }
    const incoming = u;
    const rename = (e: Expr): Expr => {
      switch (e.kind) {
        case 'updates': return incoming;
        case 'params': return ex.params;
        case 'state': return ex.state(stateStreamName(stage.index, e.name));
        case 'scalar': return stage.arrayScalars?.includes(e.name) ? ex.state(scalarStreamName(stage.index, e.name)) : ex.scalar(scalarName(stage.index, e.name));
        default: return e;
      }
    };
    // One memo per stage: a node shared by the stage's update and state rules stays shared.
    const memo = new Map<Expr, Expr>();
    u = substitute(stage.kernel.updates, rename, memo);
    for (const name of stage.stateLeaves) {
      stateOutputs.push({ stream: stateStreamName(stage.index, name), expr: substitute(stage.kernel.state[name], rename, memo) });
    }
    if (segment && stage.index === segmentEnd) closeSegment();
  }
  if (options.traced) {
    // The stages as one traced computation (applyIfFinite's lax.cond): XLA's and LLVM's rewrites,
    // exactly as transforms/traced.ts applies them on the reference path. `p + u` stays outside.
    const [tracedUpdates, ...tracedStates] = rewrite([u, ...stateOutputs.map((o) => o.expr)], false);
    u = tracedUpdates;
    stateOutputs = stateOutputs.map((o, k) => ({ stream: o.stream, expr: tracedStates[k] }));
  }
  const acc = options.accumulator;
  let fast: FastVariant | undefined;
  if (acc) {
    const stream = stateStreamName(acc.stage, 'acc');
    const zero = ex.scalar(scalarName(acc.stage, 'zero'));
    const next = stateOutputs.find((o) => o.stream === stream)!.expr;
    if (acc.pass === 'emit') {
      stateOutputs = stateOutputs.map((o) => (o.stream === stream ? { stream, expr: ex.mul(zero, next) } : o));
    } else {
      const constants = new Set(stages.flatMap((st) => (st.constantScalars ?? []).map((name) => scalarName(st.index, name))));
      const scaled = options.traced && acc.leaves === 'many' ? preScaleOf(u, (name) => constants.has(name)) : undefined;
      const y = scaled ?? u;
      u = acc.leaves === 'rank0' ? zero : ex.mul(zero, y);
      stateOutputs = [{ stream, expr: next }];
      // y is needed only for its sign and finiteness: a cheaper variant where that is proven (fast-accumulate.ts).
      if (acc.leaves !== 'rank0') fast = fastAccumulateVariant(y, stateOutputs);
    }
  }
  const outputs: FusedOutput[] = [{ stream: 'params', expr: applyTo(u) }, ...stateOutputs];
  return { dtype, outputs, ...argumentsOf(outputs), ...(fast ? { fast } : {}) };
}

/** `p + u`, optax's apply_updates, as the program's params output. */
function applyTo(u: Expr): Expr {
  return substitute(applyKernel.updates, (e) => (e.kind === 'updates' ? u : e));
}

/** The streams (read or written) and scalars of a program, in a deterministic argument order. */
function argumentsOf(outputs: readonly FusedOutput[]): { streams: string[]; scalars: string[] } {
  const streams: string[] = [];
  const scalars: string[] = [];
  const addStream = (s: string): void => { if (!streams.includes(s)) streams.push(s); };
  const order = topologicalOrder(outputs.map((o) => o.expr));
  if (order.some((e) => e.kind === 'updates')) addStream('updates');
  addStream('params');
  for (const e of order) {
    if (e.kind === 'state') addStream(e.name);
    else if (e.kind === 'scalar' && !scalars.includes(e.name)) scalars.push(e.name);
  }
  for (const o of outputs) addStream(o.stream);
  return { streams, scalars };
}

import type { Dtype } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import type { ExtraArgs, GradientTransformation } from '../core/transformation.js';
import { type Expr, substitute } from '../kernel/expr.js';
import { type CompiledElementwise, type KernelScalar, definitionScalars, gatherLeaves, joinState, kernelForTree, scalarsForLeaf, splitState } from '../kernel/elementwise.js';
import { evaluateKernel, planKernel } from '../kernel/interpret.js';
import { type ArrayLeaf, leafData, leafDtype, leafLike, leafShape } from '../tree/leaf.js';
import { treeLeaves, mapTrees } from '../tree/map.js';
import { describe, isDictNode } from '../tree/structure.js';
import { hasExactKeys } from '../tree/validate.js';
import { type MaskTree, maskTree } from './masked.js';
import type { Params, Tree, Updates } from '../tree/tree.js';
import { rewrite } from './xla-rewrites.js';
import type { InjectHyperparamsState } from './inject-hyperparams.js';

/**
 * optax's numerics for a transformation run *traced*, as one compiled XLA computation: what happens
 * to the inner optimizer of `apply_if_finite` and `MultiSteps`, which optax calls inside `lax.cond`.
 * Eager optax runs each jnp operation on its own; traced, XLA's algebraic simplifier and LLVM rewrite
 * the whole computation, and the last bits change. Measured on the vectors `apply_if_finite_adamax`
 * and `multisteps_every_3_adamax` (float32 and float64), whose inner adamax matches only with both:
 *
 * - `(A / B) / C` becomes `A / (B * C)` (XLA, when `A / B` has no other use): adamax's
 *   `(mu / bias) / nu` is computed as `mu / (bias * nu)`;
 * - a multiplication feeding an addition or subtraction, and used nowhere else, is contracted into
 *   a fused multiply-add with one rounding (LLVM on XLA:CPU). Of two candidates, the left one,
 *   unless only the right one reads nothing but the computation's inputs: adamax's
 *   `(1 - b1) * g + b1 * mu` is `fma(1 - b1, g, round(b1 * mu))` when `g` is an input (apply_if_finite)
 *   and `fma(b1, mu, round((1 - b1) * g))` when `g` is computed in the same computation (MultiSteps'
 *   running mean). That preference is an empirical rule fitted to these two cases, not LLVM's
 *   documented one (which prefers the multiplication with fewer uses, then the left);
 * - on a one-leaf tree, a division by a per-step scalar is a multiplication by its reciprocal (the
 *   definitions' `singleLeafKernel`, as measured in eager mode; the traced vectors have two leaves,
 *   so this case is the same rule assumed, not measured).
 *
 * This applies to transformations made of elementwise kernels (alone or in chains, e.g. adamax,
 * and `masked` around a stateless one with a tree of booleans, e.g. adamaxw's masked weight decay:
 * each leaf gets the stages its mask gives it);
 * they are composed into one expression, rewritten, and evaluated. Any other transformation is run
 * as it is (eager numerics), which may differ from optax in the last bits.
 */

/**
 * The elementwise stages of a transformation, with their place in its state, or null if it has others.
 * `mask`: the stage is `masked(inner, mask)` with a tree of booleans (a stateless inner stage, such as
 * adamaxw's weight decay): it runs on the masked-in leaves, the others pass through.
 */
export interface Stage { def: CompiledElementwise<any>; path: number[]; mask?: MaskTree }

export function stagesOf(tx: GradientTransformation<any>, path: number[] = []): Stage[] | null {
  if (tx.elementwise) return [{ def: tx.elementwise as CompiledElementwise<any>, path }];
  const c = tx.combinator;
  if (c?.kind === 'masked') {
    const def = c.inner.elementwise as CompiledElementwise<any> | undefined;
    // A mask function is called with the updates inside the computation: not traced here.
    return def && def.stateLeaves.length === 0 && typeof c.mask !== 'function' ? [{ def, path, mask: c.mask as MaskTree }] : null;
  }
  if (!tx.parts) return null;
  const out: Stage[] = [];
  for (let i = 0; i < tx.parts.length; i++) {
    const s = stagesOf(tx.parts[i], [...path, i]);
    if (!s) return null;
    out.push(...s);
  }
  return out;
}

/**
 * True when {@link tracedUpdate} can reproduce optax's traced numerics for `tx` (with its `state`: an
 * `injectHyperparams` is traced when the inner transformation of its hyperparameters is).
 *
 * `inject_hyperparams` traced (optax/schedules/_inject.py `update_fn`, run inside `lax.cond`): its
 * schedules are evaluated in the traced computation, and its hyperparameters are arrays of the state,
 * which enter the computation as operands, not as Python numbers: none of the inner transformation's
 * scalars is a constant there.
 */
export function canTrace(tx: GradientTransformation<any>, state?: unknown): boolean {
  if (tx.combinator?.kind === 'injectHyperparams') {
    try {
      tx.combinator.check(state);
    } catch {
      return false;
    }
    return stagesOf(tx.combinator.innerFor((state as InjectHyperparamsState).hyperparams)) !== null;
  }
  return stagesOf(tx) !== null;
}

/**
 * Which of `leaves` (the leaves of `updates`) `mask` keeps, or null when that cannot be told leaf by
 * leaf (a leaf object appearing twice in the tree).
 */
function maskedIn(updates: Updates, mask: MaskTree, leaves: readonly ArrayLeaf[]): boolean[] | null {
  const kept = treeLeaves<ArrayLeaf>(maskTree(updates, mask, 'updates')).leaves;
  const keptSet = new Set(kept);
  if (keptSet.size !== kept.length || new Set(leaves).size !== leaves.length) return null;
  return leaves.map((l) => keptSet.has(l));
}

/** The state of the stage at `path` inside `state` (a masked stage's inner state). */
export function stateAt(state: unknown, path: readonly number[], tx: GradientTransformation<any>): unknown {
  let s = state, t = tx;
  for (const i of path) {
    if (!Array.isArray(s) || !t.parts || s.length !== t.parts.length) {
      throw new OptaxError(`chain: this state does not belong to this chain: expected a list of ${t.parts?.length} states, got ${describe(s)}`);
    }
    s = s[i];
    t = t.parts[i];
  }
  if (t.combinator?.kind === 'masked') {
    if (!isDictNode(s) || !hasExactKeys(s, ['inner_state'])) throw new OptaxError(`masked: this state does not belong to masked: expected {inner_state}, got ${describe(s)}`);
    return s.inner_state;
  }
  return s;
}

/** The state of `tx` from its stages' states (by path, `/`-joined). */
export function rebuildState(tx: GradientTransformation<any>, states: Map<string, unknown>, path: number[] = []): unknown {
  if (tx.elementwise) return states.get(path.join('/'));
  if (tx.combinator?.kind === 'masked') return { inner_state: states.get(path.join('/')) };
  return tx.parts!.map((p, i) => rebuildState(p, states, [...path, i]));
}

/**
 * `y` when a traced computation ends with `u = c * y` for a constant `c` (a scalar named `constant`
 * by `isConstant`: optax holds it as a Python number, e.g. adamax's constant `-lr`): XLA's algebraic
 * simplifier folds a following multiplication by a broadcast scalar (MultiSteps' `emit`) into `c`.
 * @internal
 */
export function preScaleOf(root: Expr, isConstant: (scalarName: string) => boolean): Expr | undefined {
  if (root.kind !== 'binary' || root.op !== 'mul') return undefined;
  const constant = (e: Expr): boolean => e.kind === 'scalar' && isConstant(e.name);
  return constant(root.a) ? root.b : constant(root.b) ? root.a : undefined;
}

/** Options of {@link tracedUpdate}. */
export interface TracedOptions {
  /**
   * The updates are computed in the same traced computation (MultiSteps' running mean) rather than
   * read from memory: this changes which multiplication LLVM fuses into an addition.
   */
  computedUpdates?: boolean;
  /**
   * The scalars come from arrays of the state (`inject_hyperparams`), so none is a constant of the
   * traced computation (no `preScale`).
   */
  noConstants?: boolean;
}

/** The result of {@link tracedUpdate}. */
export interface TracedResult<U> {
  updates: U;
  state: unknown;
  /**
   * When the computation ends with a multiplication by a constant (`u = c * y` with `c` a Python
   * number in optax, as adamax's constant learning rate), `y`: XLA's algebraic simplifier folds a
   * following multiplication by a broadcast scalar into `c` (see MultiSteps). Undefined otherwise.
   */
  preScale?: U;
}

/** One state leaf of a traced computation: leaf `leaf` of stage `stage`, named `${stage}/${leaf}`. */
export interface TracedStateRoot { readonly name: string; readonly stage: number; readonly leaf: string }

/** The state leaves of `stages`, in order: each stage's, in its definition's order. */
export function tracedStateRoots(stages: readonly Stage[]): TracedStateRoot[] {
  const roots: TracedStateRoot[] = [];
  stages.forEach((st, i) => { for (const leaf of st.def.stateLeaves) roots.push({ name: `${i}/${leaf}`, stage: i, leaf }); });
  return roots;
}

/**
 * The traced computation of one leaf (the reference path and the jax-js adapter evaluate it): the
 * kernels of the stages that run on it (`runs`; a masked-out stage passes the updates through)
 * composed into one expression graph, stage `i`'s state and scalars named `${i}/name`, then XLA's and
 * LLVM's rewrites (xla-rewrites.ts). `sizes(i)`: the sizes of the leaves stage `i` runs on (a division
 * by a per-step scalar on a one-leaf tree is a multiplication by its reciprocal). Returns the update,
 * the new state leaves in {@link tracedStateRoots}' order, and the pre-scale value (see
 * {@link TracedResult.preScale}) when the update ends with a multiplication by a constant.
 */
export function composeTraced(stages: readonly Stage[], runs: (i: number) => boolean, sizes: (i: number) => readonly number[], options: TracedOptions = {}): { updates: Expr; states: Expr[]; preScale?: Expr } {
  const stateRoots = tracedStateRoots(stages);
  // Scalars optax holds as Python numbers are constants of the traced computation.
  const constants = new Set(options.noConstants ? [] : stages.flatMap((st, i) => (st.def.constantScalars ?? []).map((name) => `${i}/${name}`)));
  let current: Expr = { kind: 'updates' };
  const stateExprs = new Map<string, Expr>();
  stages.forEach((st, i) => {
    if (!runs(i)) return; // masked out: the updates pass through (masked stages have no state)
    const rename = (e: Expr): Expr => {
      if (e.kind === 'updates') return current;
      if (e.kind === 'state') return { kind: 'state', name: `${i}/${e.name}` };
      if (e.kind === 'scalar') return { kind: 'scalar', name: `${i}/${e.name}` };
      return e;
    };
    const memo = new Map<Expr, Expr>();
    // On a one-leaf tree a per-step divisor is used once, and XLA multiplies by its reciprocal; a
    // masked stage sees the masked-in leaves only (masked-out ones are MaskedNode, not leaves).
    const k = kernelForTree(st.def, sizes(i)).kernel;
    const next = substitute(k.updates, rename, memo);
    for (const leafName of st.def.stateLeaves) stateExprs.set(`${i}/${leafName}`, substitute(k.state[leafName], rename, memo));
    current = next;
  });
  const rewritten = rewrite([current, ...stateRoots.map((r) => stateExprs.get(r.name)!)], options.computedUpdates ?? false);
  const preScale = preScaleOf(rewritten[0], (name) => constants.has(name));
  return { updates: rewritten[0], states: rewritten.slice(1), ...(preScale ? { preScale } : {}) };
}

/**
 * Runs `tx.update` with optax's traced numerics (see above), or plainly when `tx` is not made of
 * elementwise kernels. Pure: nothing is mutated.
 */
export function tracedUpdate<U extends Updates>(tx: GradientTransformation<any>, updates: U, state: unknown, params: Params | null | undefined, extraArgs: ExtraArgs | undefined, options: TracedOptions = {}): TracedResult<U> {
  if (tx.combinator?.kind === 'injectHyperparams' && canTrace(tx, state)) {
    const { inner_state, ...own } = state as InjectHyperparamsState;
    const { control, inner } = tx.combinator.step(own, tx.combinator.dtypeFor(params, updates), true);
    const r = tracedUpdate(inner, updates, inner_state, params, extraArgs, { ...options, noConstants: true });
    return { updates: r.updates, state: { ...control, inner_state: r.state } };
  }
  const stages = stagesOf(tx);
  if (!stages) {
    const [u, s] = tx.update(updates, state, params, extraArgs);
    return { updates: u, state: s };
  }
  // Compose the stages' kernels into one expression graph (names prefixed by the stage index).
  const splits = stages.map((st) => splitState(st.def, stateAt(state, st.path, tx)));
  const all = treeLeaves<ArrayLeaf>(updates).leaves;
  // The leaves each masked stage runs on (undefined: every leaf).
  const inside = stages.map((st) => (st.mask === undefined ? undefined : maskedIn(updates, st.mask, all)));
  if (inside.some((m) => m === null)) {
    const [u, s] = tx.update(updates, state, params, extraArgs);
    return { updates: u, state: s };
  }
  const runsOn = (i: number, li: number): boolean => inside[i] === undefined || inside[i]![li];
  // One computation per combination of masks a leaf sees (in optax, each leaf's ops are its own
  // subgraph of the one XLA computation, so the rewrites apply leaf by leaf).
  const signature = (li: number): string => stages.map((_, i) => (runsOn(i, li) ? '1' : '0')).join('');
  const stateRoots = tracedStateRoots(stages);
  const compose = (sig: string) => {
    const traced = composeTraced(stages, (i) => sig[i] === '1', (i) => all.filter((_, li) => runsOn(i, li)).map((l) => leafData(l).length), options);
    // The rewritten computation as one kernel, evaluated by the reference interpreter: its state
    // outputs are the stages' new state leaves, then the pre-scale value.
    const outputNames = [...stateRoots.map((_, k) => `state${k}`), ...(traced.preScale ? ['preScale'] : [])];
    return { outputNames, plan: planKernel({ updates: traced.updates, state: Object.fromEntries(outputNames.map((name, k) => [name, k < stateRoots.length ? traced.states[k] : traced.preScale!])) }) };
  };
  const plans = new Map<string, ReturnType<typeof compose>>();
  const planFor = (li: number) => {
    const sig = signature(li);
    let p = plans.get(sig);
    if (!p) plans.set(sig, (p = compose(sig)));
    return p;
  };
  all.forEach((_, li) => planFor(li));
  const composed = [...plans.values()];
  // The pre-scale (MultiSteps' folded zeros): optax multiplies each leaf by `emit` on its own
  // (`jax.tree.map(lambda ga: emit * ga, final_updates)`), so XLA folds the constant leaf by leaf; a
  // leaf whose computation has no pre-scale gets its update (`0 * u`, the sign of `u`).
  const scaled = composed.some((c) => c.outputNames.length > stateRoots.length);
  const trees = stateRoots.map((r) => splits[r.stage].trees[stages[r.stage].def.stateLeaves.indexOf(r.leaf)]);
  const needsParams = composed.some((c) => c.plan.usesParams);
  const { positions, paths, paramsAt } = gatherLeaves(tx.name, updates, trees, stateRoots.map((r) => `state.${r.name}`), params, needsParams);
  const scalarCache = new Map<Dtype, Record<string, KernelScalar>>();
  const results = positions.map((leaves, li) => {
    const g = leaves[0];
    const dtype = leafDtype(g);
    let scalars = scalarCache.get(dtype);
    if (!scalars) {
      scalars = {};
      stages.forEach((st, i) => {
        for (const [k, v] of Object.entries(definitionScalars(st.def, splits[i].control, dtype, extraArgs, true))) scalars![`${i}/${k}`] = v;
      });
      scalarCache.set(dtype, scalars);
    }
    const perLeaf = scalarsForLeaf(scalars, leafShape(g), paths[li]);
    const p = paramsAt(li);
    const { plan, outputNames } = planFor(li);
    const out = evaluateKernel(plan, {
      dtype,
      updates: leafData(g),
      params: p ? leafData(p) : null,
      state: Object.fromEntries(stateRoots.map((r, k) => [r.name, leafData(leaves[1 + k])])),
      scalars: perLeaf,
    }, outputNames);
    return [out.updates, ...outputNames.map((name) => out.state[name])];
  });
  const column = (c: number, like: Tree): any => {
    let i = 0;
    return mapTrees(([x]: ArrayLeaf[]) => { const r = results[i++]; return leafLike(x, r[c] ?? r[0]); }, [like]);
  };
  const newStates = new Map<string, unknown>();
  stages.forEach((st, i) => {
    const newTrees = st.def.stateLeaves.map((leafName) => {
      const r = stateRoots.findIndex((x) => x.stage === i && x.leaf === leafName);
      return column(1 + r, trees[r]);
    });
    newStates.set(st.path.join('/'), joinState(st.def, st.def.advance(splits[i].control), newTrees));
  });
  return {
    updates: column(0, updates),
    state: rebuildState(tx, newStates),
    preScale: scaled ? column(1 + stateRoots.length, updates) : undefined,
  };
}

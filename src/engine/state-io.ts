import { OptaxError } from '../core/errors.js';
import { formatPath, type TreePath } from '../tree/path.js';
import { describe, isDictNode } from '../tree/structure.js';
import type { Tree } from '../tree/tree.js';
import { type ApplyIfFiniteCounters, checkApplyIfFiniteState } from '../transforms/apply-if-finite.js';
import type { Accumulation, Guard, Injection, Island, Stage, StateNode } from './analyze.js';
import { checkSameLayout, copyArrays } from './opaque-state.js';
import { checkMultiStepsState } from '../transforms/multi-steps.js';
import type { InjectionControl } from '../transforms/inject-hyperparams.js';
import type { LeafTable } from './leaves.js';
import { type LeafCopy, matchTree } from './tree-io.js';
import { splitState } from '../kernel/elementwise.js';
import { hasExactKeys } from '../tree/validate.js';
import { setOwn } from '../tree/node.js';

/**
 * optax's state layout over the arena. Reading builds the state exactly as `tx.init` / `tx.update`
 * lay it out (chain: a list; masked: `{inner_state}`; partition: `{inner_states: {label: ...}}`;
 * elementwise: the control fields, e.g. `count`, then the per-element trees), with the per-element
 * trees being live views of the arena; applyIfFinite: its counters and `inner_state`). Loading
 * validates a whole state first, then copies it in.
 */

/** What loading a state will do, computed (and validated) before anything is changed. */
export interface StateLoad {
  /** The new control state of each stage. */
  readonly controls: ReadonlyMap<number, Record<string, unknown>>;
  /** The new counters of the applyIfFinite guard, when there is one. */
  readonly guard: ApplyIfFiniteCounters | undefined;
  /** The new own state of each injectHyperparams. */
  readonly injections: ReadonlyMap<number, InjectionControl>;
  /** MultiSteps' new counters and skip state, when there is one. */
  readonly accumulation: Accumulation['control'] | undefined;
  /** The new state of each partition group on the reference path (copies). */
  readonly islands: ReadonlyMap<number, unknown>;
  /** Copies into each stage's state streams: key `${stage}:${leafName}`. */
  readonly copies: ReadonlyArray<{ readonly stage: number; readonly leafName: string; readonly copies: readonly LeafCopy[] }>;
}

/** Builds the state from the stages' controls and the view trees (`trees[stage][j]`: state leaf j). */
export function readState(node: StateNode, stages: readonly Stage[], trees: readonly (readonly Tree[])[], combinators: Combinators): unknown {
  const read = (n: StateNode): unknown => readState(n, stages, trees, combinators);
  switch (node.kind) {
    case 'applyIfFinite': return { ...combinators.guard!.counters, inner_state: read(node.inner) };
    case 'injectHyperparams': {
      const { count, hyperparams, hyperparams_states } = combinators.injections[node.injection].control;
      return { count, hyperparams: { ...hyperparams }, hyperparams_states: structuredCounts(hyperparams_states), inner_state: read(node.inner) };
    }
    case 'multiSteps': {
      const { control: { mini_step, gradient_step, skip_state }, ownSkipState } = combinators.accumulation!;
      // The skip state the stepper writes in place is copied (the state handed out is frozen, and a snapshot).
      const skip = ownSkipState !== undefined && skip_state === ownSkipState.state ? { ...ownSkipState.state } : skip_state;
      return { mini_step, gradient_step, inner_opt_state: read(node.inner), acc_grads: trees[node.accumulator][0], skip_state: skip };
    }
    case 'chain': return node.parts.map(read);
    case 'masked': return { inner_state: read(node.inner) };
    // A partition group on the reference path: a copy of its state (the stepper keeps its own).
    case 'reference': return copyArrays(combinators.islands[node.island].state);
    case 'partition': {
      const inner_states: Record<string, unknown> = {};
      node.labels.forEach((label, i) => { setOwn(inner_states, label, read(node.groups[i])); });
      return { inner_states };
    }
    case 'stage': {
      const stage = stages[node.stage];
      const state: Record<string, unknown> = { ...stage.control };
      stage.stateLeaves.forEach((k, j) => { state[k] = trees[node.stage][j]; });
      return state;
    }
  }
}

/** The engine's own state of the combinators it runs itself. */
export interface Combinators {
  readonly guard?: Guard;
  readonly islands: readonly Island[];
  readonly accumulation?: Accumulation;
  readonly injections: readonly Injection[];
}

/** A copy of `hyperparams_states` (its `{count}` records are the caller's to change). */
function structuredCounts(states: InjectionControl['hyperparams_states']): InjectionControl['hyperparams_states'] {
  const out: InjectionControl['hyperparams_states'] = {};
  for (const [k, v] of Object.entries(states)) out[k] = { count: v.count };
  return out;
}

/** Validates `state` against the layout; throws an OptaxError naming the path (`state[0].mu.w`). */
export function planStateLoad(node: StateNode, stages: readonly Stage[], table: LeafTable, state: unknown, combinators: Combinators): StateLoad {
  const controls = new Map<number, Record<string, unknown>>();
  const injections = new Map<number, InjectionControl>();
  let accumulation: Accumulation['control'] | undefined;
  const islands = new Map<number, unknown>();
  const copies: { stage: number; leafName: string; copies: LeafCopy[] }[] = [];
  let guard: ApplyIfFiniteCounters | undefined;
  const fail = (path: TreePath, what: string, got: unknown): never => {
    throw new OptaxError(`this state does not fit the compiled transformation: expected ${what}, got ${describe(got)}`, path, 'state');
  };
  const visit = (n: StateNode, s: unknown, path: TreePath): void => {
    switch (n.kind) {
      case 'applyIfFinite': {
        try {
          checkApplyIfFiniteState(s);
        } catch (e) {
          throw new OptaxError((e as Error).message, path, 'state');
        }
        const { inner_state, notfinite_count, last_finite, total_notfinite } = s;
        guard = { notfinite_count, last_finite, total_notfinite };
        visit(n.inner, inner_state, [...path, 'inner_state']);
        return;
      }
      case 'injectHyperparams': {
        try {
          combinators.injections[n.injection].combinator.check(s);
        } catch (e) {
          throw new OptaxError((e as Error).message, path, 'state');
        }
        const { count, hyperparams, hyperparams_states, inner_state } = s as InjectionControl & { inner_state: unknown };
        injections.set(n.injection, { count, hyperparams: { ...hyperparams }, hyperparams_states: structuredCounts(hyperparams_states) });
        visit(n.inner, inner_state, [...path, 'inner_state']);
        return;
      }
      case 'multiSteps': {
        try {
          checkMultiStepsState(s);
        } catch (e) {
          throw new OptaxError((e as Error).message, path, 'state');
        }
        const { mini_step, gradient_step, skip_state, inner_opt_state, acc_grads } = s;
        accumulation = { mini_step, gradient_step, skip_state };
        const stage = stages[n.accumulator];
        copies.push({ stage: n.accumulator, leafName: 'acc', copies: matchTree(table, stage.context, acc_grads, formatPath([...path, 'acc_grads'], 'state'), stage.stateDtype) });
        visit(n.inner, inner_opt_state, [...path, 'inner_opt_state']);
        return;
      }
      case 'chain':
        if (!Array.isArray(s) || s.length !== n.parts.length) fail(path, `a list of ${n.parts.length} states (chain)`, s);
        n.parts.forEach((p, i) => visit(p, (s as unknown[])[i], [...path, i]));
        return;
      case 'masked':
        if (!isDictNode(s) || !hasExactKeys(s, ['inner_state'])) fail(path, '{inner_state} (masked)', s);
        visit(n.inner, (s as Record<string, unknown>).inner_state, [...path, 'inner_state']);
        return;
      case 'reference':
        // Checked like the reference path's state: the same layout, leaf dtypes and shapes.
        checkSameLayout(combinators.islands[n.island].state, s, path);
        islands.set(n.island, copyArrays(s));
        return;
      case 'partition': {
        const inner = isDictNode(s) ? s.inner_states : undefined;
        if (!isDictNode(inner) || !hasExactKeys(s as Record<string, unknown>, ['inner_states']) || !hasExactKeys(inner, n.labels)) {
          fail(path, `{inner_states: {${n.labels.join(', ')}}} (partition)`, inner ?? s);
        }
        n.labels.forEach((label, i) => visit(n.groups[i], (inner as Record<string, unknown>)[label], [...path, 'inner_states', label]));
        return;
      }
      case 'stage': {
        const stage = stages[n.stage];
        if (stage.source.kind === 'globalNorm') {
          if (!isDictNode(s) || Object.keys(s).length !== 0) fail(path, '{} (clip_by_global_norm keeps no state)', s);
          controls.set(n.stage, {});
          return;
        }
        const source = stage.source;
        if (source.kind !== 'elementwise') throw new Error(`unreachable: a ${source.kind} stage in the state tree`);
        let split: { control: Record<string, unknown>; trees: Tree[] };
        try {
          split = splitState(source.def, s);
        } catch (e) {
          throw new OptaxError((e as Error).message, path, 'state');
        }
        controls.set(n.stage, split.control);
        stage.stateLeaves.forEach((leafName, j) => {
          copies.push({ stage: n.stage, leafName, copies: matchTree(table, stage.context, split.trees[j], formatPath([...path, leafName], 'state')) });
        });
        return;
      }
    }
  };
  visit(node, state, []);
  return { controls, copies, guard, injections, accumulation, islands };
}

import { OptaxError } from '../core/errors.js';
import { isDictNode } from '../tree/structure.js';
import { type Spec, scheduleFromSpec } from './spec.js';

/**
 * Where a transformation's learning rate lives, found by reading its spec next to its state: an
 * argument of `adamax`/`adamaxw`/`scale_by_learning_rate` (a number, or a schedule evaluated at the
 * count in the state), or an injected hyperparameter in an `inject_hyperparams` state. Adapters use
 * it to read and set the learning rate between steps. Combinators are looked through (`chain` in
 * order, `apply_if_finite`, `MultiSteps`, `masked`); `partition` has one rate per group, so none.
 * @internal
 */
export type LearningRateSite =
  /** An argument of the spec at `specPath` (a number or `{schedule}`); `value` is the rate the next step uses. */
  | { readonly kind: 'argument'; readonly specPath: readonly (string | number)[]; readonly value: number }
  /** A number in the `hyperparams` of the inject_hyperparams state at `statePath`. */
  | { readonly kind: 'injected'; readonly statePath: readonly (string | number)[]; readonly value: number };

/** The first learning rate of `spec` (run order), given its current `state`; undefined when it has none. */
export function findLearningRate(spec: Spec, state: unknown): LearningRateSite | undefined {
  return descend(spec, state, [], [], (node, nodeState, specPath, statePath) => {
    const args: Record<string, any> = node.args ?? {};
    const at = (...k: (string | number)[]) => [...specPath, 'args', ...k];
    switch (node.name) {
      case 'adamax': case 'adamaxw': case 'scale_by_learning_rate': {
        const lrState = node.name === 'scale_by_learning_rate' ? nodeState : Array.isArray(nodeState) ? nodeState[nodeState.length - 1] : undefined;
        return argument(args.learning_rate, lrState, at('learning_rate'));
      }
      case 'inject_hyperparams': {
        const hp: Record<string, any> = args.hyperparams ?? {};
        if (!Object.hasOwn(hp, 'learning_rate') || !isDictNode(nodeState)) return undefined;
        if (isDictNode(hp.learning_rate)) return argument(hp.learning_rate, (nodeState.hyperparams_states as any)?.learning_rate, at('hyperparams', 'learning_rate'));
        const v = isDictNode(nodeState.hyperparams) ? nodeState.hyperparams.learning_rate : undefined;
        return typeof v === 'number' ? { kind: 'injected', statePath, value: v } : undefined;
      }
      default:
        return undefined;
    }
  });
}

/** The first `inject_hyperparams` state of `spec` (run order) in `state`, with its path. */
export function findInjectedState(spec: Spec, state: unknown): { readonly statePath: readonly (string | number)[]; readonly state: Record<string, any> } | undefined {
  return descend(spec, state, [], [], (node, nodeState, _specPath, statePath) =>
    (node.name === 'inject_hyperparams' && isDictNode(nodeState) && isDictNode(nodeState.hyperparams) ? { statePath, state: nodeState } : undefined));
}

type Visit<T> = (spec: Spec, state: any, specPath: (string | number)[], statePath: (string | number)[]) => T | undefined;

/** Visits `spec` and, until the visit returns something, what it runs (combinators looked through). */
function descend<T>(spec: Spec, state: any, specPath: (string | number)[], statePath: (string | number)[], visit: Visit<T>): T | undefined {
  const found = visit(spec, state, specPath, statePath);
  if (found !== undefined) return found;
  const args: Record<string, any> = spec.args ?? {};
  const at = (...k: (string | number)[]) => [...specPath, 'args', ...k];
  switch (spec.name) {
    case 'chain':
      for (let i = 0; i < (args.transforms ?? []).length; i++) {
        const r = descend(args.transforms[i], state?.[i], at('transforms', i), [...statePath, i], visit);
        if (r !== undefined) return r;
      }
      return undefined;
    case 'apply_if_finite': case 'masked':
      return descend(args.inner, state?.inner_state, at('inner'), [...statePath, 'inner_state'], visit);
    case 'MultiSteps':
      return descend(args.opt, state?.inner_opt_state, at('opt'), [...statePath, 'inner_opt_state'], visit);
    default:
      return undefined;
  }
}

function argument(v: unknown, lrState: any, specPath: (string | number)[]): LearningRateSite | undefined {
  if (typeof v === 'number') return { kind: 'argument', specPath, value: v };
  if (isDictNode(v) && isDictNode(v.schedule)) {
    const count = isDictNode(lrState) && typeof lrState.count === 'number' ? lrState.count : 0;
    return { kind: 'argument', specPath, value: scheduleFromSpec(v.schedule as unknown as Spec)(count) };
  }
  return undefined;
}

/** A copy of `spec` with the value at `path` replaced. */
export function replaceInSpec(spec: Spec, path: readonly (string | number)[], value: unknown): Spec {
  if (path.length === 0) return value as Spec;
  const [head, ...rest] = path;
  const node: any = spec;
  if (node === null || typeof node !== 'object' || !(head in node)) throw new OptaxError(`replaceInSpec: no ${String(head)} in the spec`);
  const copy: any = Array.isArray(node) ? [...node] : { ...node };
  copy[head] = replaceInSpec(node[head], rest, value);
  return copy;
}

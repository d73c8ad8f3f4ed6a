import type { Dtype } from '../core/dtype.js';
import type { GradientTransformation } from '../core/transformation.js';
import { applyUpdates } from '../transforms/apply-updates.js';
import { withFlushedSubnormals } from '../kernel/interpret.js';
import { isDictNode } from '../tree/structure.js';
import { type Agreement, compareValue, compareTrees } from './compare.js';
import { type Spec, type VectorCase, decodeTree } from './format.js';
import { buildTransform } from './registry.js';

interface TrajectoryStep {
  grads: unknown;
  updates: unknown;
  params: unknown;
  state?: { count: number; mu: unknown; nu: unknown };
  hyperparams?: Record<string, unknown>;
}

/** Sets hyperparameters in an injectHyperparams state; provided by the inject-hyperparams module. */
export type SetHyperparams = (state: any, values: Record<string, unknown>) => any;

/**
 * A checkpoint round trip: given `{params, state}` and a template of the same layout (from `init`),
 * returns what a save and a load give back (the CLI's `--checkpoint-roundtrip` goes through a file).
 */
export type CheckpointRoundTrip = (checkpoint: { params: unknown; state: unknown }, template: { params: unknown; state: unknown }) => { params: unknown; state: unknown };

/** Options of a trajectory run. */
export interface TrajectoryOptions {
  /** Save and restore params and state in the middle of the steps (before step `floor(n / 2)`). */
  checkpoint?: CheckpointRoundTrip;
}

/** Puts `count` into the scale_by_adamax state (the first `{count, mu, nu}` found). */
export function withInitialCount(state: any, count: number): any {
  if (isDictNode(state) && 'count' in state && 'mu' in state && 'nu' in state) return { ...state, count };
  if (Array.isArray(state)) {
    let done = false;
    return state.map((s) => {
      if (done) return s;
      const r = withInitialCount(s, count);
      done = r !== s;
      return r;
    });
  }
  return state;
}

/**
 * Runs a `trajectory` case: `state = init(params)`, then for each step `update` and `applyUpdates`,
 * comparing updates, params and (where recorded) scale_by_adamax's state with the reference.
 */
export function runTrajectory(c: VectorCase, dtype: Dtype, acc: Agreement, setHyperparams?: SetHyperparams, options: TrajectoryOptions = {}): void {
  runTrajectoryWith(buildTransform(c.optimizer as Spec, { dtype }), c, acc, setHyperparams, options);
}

/**
 * Runs a `trajectory` case with a given transformation (a test can build it through the API rather
 * than from the case's spec). The vectors come from XLA on CPU, which flushes subnormals; the steps
 * are evaluated the same way, so that every element can be compared bit for bit.
 */
export function runTrajectoryWith(tx: GradientTransformation<any>, c: VectorCase, acc: Agreement, setHyperparams?: SetHyperparams, options: TrajectoryOptions = {}): void {
  withFlushedSubnormals(() => runSteps(tx, c, acc, setHyperparams, options));
}

function runSteps(tx: GradientTransformation<any>, c: VectorCase, acc: Agreement, setHyperparams: SetHyperparams | undefined, options: TrajectoryOptions): void {
  let params = decodeTree(c.params);
  let state = tx.init(params);
  if (typeof c.initial_count === 'number') state = withInitialCount(state, c.initial_count);
  const extraArgs = c.extra_args === undefined ? undefined : (decodeTree(c.extra_args) as Record<string, unknown>);
  const steps = c.steps as TrajectoryStep[];
  steps.forEach((step, k) => {
    if (options.checkpoint && k === Math.floor(steps.length / 2)) {
      const initial = decodeTree(c.params);
      ({ params, state } = options.checkpoint({ params, state }, { params: initial, state: tx.init(initial) }) as { params: any; state: any });
    }
    if (step.hyperparams) {
      if (!setHyperparams) throw new Error('this case sets hyperparameters but inject_hyperparams is not available');
      state = setHyperparams(state, decodeTree(step.hyperparams));
    }
    const [updates, next] = tx.update(decodeTree(step.grads), state, params, extraArgs);
    state = next;
    params = applyUpdates(params, updates);
    compareTrees(updates, decodeTree(step.updates), { kind: 'exact' }, `step[${k}].updates`, acc);
    compareTrees(params, decodeTree(step.params), { kind: 'exact' }, `step[${k}].params`, acc);
    if (step.state) {
      compareValue(state.count, step.state.count, `step[${k}].state.count`, acc);
      compareTrees(state.mu, decodeTree(step.state.mu), { kind: 'exact' }, `step[${k}].state.mu`, acc);
      compareTrees(state.nu, decodeTree(step.state.nu), { kind: 'exact' }, `step[${k}].state.nu`, acc);
    }
  });
}

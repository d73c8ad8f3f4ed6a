import type { Dtype } from '../core/dtype.js';
import type { ExtraArgs, GradientTransformation } from '../core/transformation.js';
import { applyUpdates } from '../transforms/apply-updates.js';
import { withFlushedSubnormals } from '../kernel/interpret.js';
import { isDictNode } from '../tree/structure.js';
import type { Tree } from '../tree/tree.js';
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
 * What runs a trajectory's steps: the pure path (`tx.update` + `applyUpdates`), or a compiled stepper
 * (src/conformance/engine-driver.ts). The case is run, and compared, by the one loop below.
 */
export interface TrajectoryDriver {
  /** The state, as `tx.init`/`tx.update` lay it out. */
  state: any;
  /** The current params. */
  readonly params: Tree;
  /**
   * One step with these gradients: returns the updates where the driver has them (the engine adds
   * them to the params in place and never materializes them: then undefined, and only params and
   * state are compared).
   */
  step(grads: Tree, extraArgs: ExtraArgs | undefined): Tree | undefined;
  /** Replaces params and state (with what a checkpoint round trip gave back). */
  restore(params: Tree, state: unknown): void;
}

/**
 * A checkpoint round trip: given `{params, state}` and a template of the same layout (from `init`),
 * returns what a save and a load give back (the CLI's `--checkpoint-roundtrip` goes through a file).
 */
export type CheckpointRoundTrip = (checkpoint: { params: unknown; state: unknown }, template: { params: unknown; state: unknown }) => { params: unknown; state: unknown };

/** Options of a trajectory run. */
export interface TrajectoryOptions {
  /** Save and restore params and state in the middle of the steps (before step `floor(n / 2)`). */
  checkpoint?: CheckpointRoundTrip;
  /** What runs the steps (default: the pure path); the engine mode passes a compiled stepper's. */
  drive?: DriverFactory;
}

/** Builds a driver for a transformation and the case's initial params; `done` releases it. */
export type DriverFactory = (tx: GradientTransformation<any>, params: Tree) => { driver: TrajectoryDriver; done?: () => void };

/** The pure path: `state = init(params)`, then `update` and `applyUpdates` at each step. */
export const pureDriver: DriverFactory = (tx, initialParams) => {
  let params = initialParams;
  let state = tx.init(params);
  return {
    driver: {
      get state() { return state; },
      set state(s) { state = s; },
      get params() { return params; },
      step(grads, extraArgs) {
        const [updates, next] = tx.update(grads, state, params, extraArgs);
        state = next;
        params = applyUpdates(params, updates);
        return updates;
      },
      restore(p, s) {
        params = p;
        state = s;
      },
    },
  };
};

/** Puts `count` into the scale_by_adamax state (the first `{count, mu, nu}` found). */
export function withInitialCount(state: any, count: number): any {
  if (isDictNode(state) && ['count', 'mu', 'nu'].every((k) => Object.hasOwn(state, k))) return { ...state, count };
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
 * `options.drive` runs the steps some other way (the fused engine), compared the same way;
 * `options.checkpoint` saves and restores params and state midway.
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
  const { driver, done } = (options.drive ?? pureDriver)(tx, decodeTree(c.params));
  try {
    if (typeof c.initial_count === 'number') driver.state = withInitialCount(driver.state, c.initial_count);
    const extraArgs = c.extra_args === undefined ? undefined : (decodeTree(c.extra_args) as Record<string, unknown>);
    const steps = c.steps as TrajectoryStep[];
    steps.forEach((step, k) => {
      if (options.checkpoint && k === Math.floor(steps.length / 2)) {
        const initial = decodeTree(c.params);
        const restored = options.checkpoint({ params: driver.params, state: driver.state }, { params: initial, state: tx.init(initial) });
        driver.restore(restored.params as Tree, restored.state);
      }
      if (step.hyperparams) {
        if (!setHyperparams) throw new Error('this case sets hyperparameters but inject_hyperparams is not available');
        driver.state = setHyperparams(driver.state, decodeTree(step.hyperparams));
      }
      const updates = driver.step(decodeTree(step.grads), extraArgs);
      if (updates !== undefined) compareTrees(updates, decodeTree(step.updates), { kind: 'exact' }, `step[${k}].updates`, acc);
      compareTrees(driver.params, decodeTree(step.params), { kind: 'exact' }, `step[${k}].params`, acc);
      if (step.state) {
        const state = driver.state;
        compareValue(state.count, step.state.count, `step[${k}].state.count`, acc);
        compareTrees(state.mu, decodeTree(step.state.mu), { kind: 'exact' }, `step[${k}].state.mu`, acc);
        compareTrees(state.nu, decodeTree(step.state.nu), { kind: 'exact' }, `step[${k}].state.nu`, acc);
      }
    });
  } finally {
    done?.();
  }
}

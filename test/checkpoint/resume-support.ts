/**
 * Shared by the resume test and its child process: the trajectory cases of the shipped vectors, and
 * running their steps on the pure path or through a compiled stepper from any step to any other.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dtype } from '../../src/core/dtype.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import { buildTransform } from '../../src/conformance/registry.js';
import { type Spec, type VectorCase, decodeTree } from '../../src/conformance/format.js';
import { withInitialCount } from '../../src/conformance/run-trajectory.js';
import { applyUpdates, compile, setHyperparams, withFlushedSubnormals } from '../../src/index.js';
import type { Stepper } from '../../src/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface ResumeCase {
  readonly id: string;
  readonly c: VectorCase;
  readonly dtype: Dtype;
}

/** Every trajectory case of conformance/*.json. */
export function trajectoryCases(): ResumeCase[] {
  const dir = join(root, 'conformance');
  const out: ResumeCase[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const file = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    (file.cases as VectorCase[]).forEach((c, i) => {
      if (c.kind === 'trajectory') out.push({ id: `${f.replace('.json', '')}-${i}`, c, dtype: c.dtype ?? (file.dtype === 'float64' ? 'float64' : 'float32') });
    });
  }
  return out;
}

export const transformOf = (r: ResumeCase): GradientTransformation<any> => buildTransform(r.c.optimizer as Spec, { dtype: r.dtype });
export const initialParams = (r: ResumeCase): any => decodeTree(r.c.params);
const steps = (r: ResumeCase): any[] => r.c.steps as any[];
export const stepCount = (r: ResumeCase): number => steps(r).length;
const extraArgs = (r: ResumeCase): any => (r.c.extra_args === undefined ? undefined : decodeTree(r.c.extra_args));

/** The initial state, with the case's initial count. */
export function initialState(r: ResumeCase, tx: GradientTransformation<any>, params: any): any {
  const state = tx.init(params);
  return typeof r.c.initial_count === 'number' ? withInitialCount(state, r.c.initial_count) : state;
}

/** Steps `from` to `to` (exclusive) on the pure path. */
export function runPure(r: ResumeCase, tx: GradientTransformation<any>, start: { params: any; state: any }, from: number, to: number): { params: any; state: any } {
  let { params, state } = start;
  withFlushedSubnormals(() => {
    for (let k = from; k < to; k++) {
      const step = steps(r)[k];
      if (step.hyperparams) state = setHyperparams(state, decodeTree(step.hyperparams));
      const [updates, next] = tx.update(decodeTree(step.grads), state, params, extraArgs(r));
      params = applyUpdates(params, updates);
      state = next;
    }
  });
  return { params, state };
}

/** Steps `from` to `to` (exclusive) on a compiled stepper (state in and out through `stepper.state`). */
export function runCompiled(r: ResumeCase, stepper: Stepper<any, any>, from: number, to: number): void {
  withFlushedSubnormals(() => {
    for (let k = from; k < to; k++) {
      const step = steps(r)[k];
      if (step.hyperparams) stepper.state = setHyperparams(stepper.state, decodeTree(step.hyperparams));
      stepper.step(decodeTree(step.grads), extraArgs(r));
    }
  });
}

/** A compiled stepper at `start` (params copied into its views, state set). */
export function compiledAt(tx: GradientTransformation<any>, start: { params: any; state: any }): Stepper<any, any> {
  const stepper = compile(tx, start.params);
  stepper.state = start.state;
  return stepper;
}

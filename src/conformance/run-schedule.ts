import { leafData } from '../tree/leaf.js';
import { type Agreement, compareTrees } from './compare.js';
import { type Spec, type VectorCase, decodeTree } from './format.js';
import { buildSchedule } from './registry.js';
import type { Dtype } from '../core/dtype.js';

/**
 * Runs a `schedule` case: evaluates the schedule at each recorded step (in the file's dtype mode) and
 * compares with the values optax computed (stored widened to float64, so compared as float64 bits).
 */
export function runSchedule(c: VectorCase, dtype: Dtype, acc: Agreement): void {
  const schedule = buildSchedule(c.schedule as Spec, { dtype });
  const steps = c.steps as number[];
  const expected = leafData(decodeTree(c.values));
  const got = new Float64Array(steps.map((s) => schedule(s)));
  compareTrees(got, expected, { kind: 'exact' }, 'values', acc);
}

import type { Dtype } from '../core/dtype.js';
import { type Agreement, newAgreement } from './compare.js';
import type { VectorCase, VectorsFile } from './format.js';
import { type CaseResult, formatResult } from './result.js';
import { runSchedule } from './run-schedule.js';
import { type TrajectoryOptions, runTrajectory } from './run-trajectory.js';
import { setHyperparams } from '../transforms/inject-hyperparams.js';
import { runTorch } from './run-torch.js';
import { runFlax } from './run-flax.js';

/** How cases are run: `checkpoint` round-trips each trajectory through a save and a load midway. */
export type RunOptions = TrajectoryOptions;

/** Runs one kind of case, adding to the agreement; throws to fail the case with a reason. */
type CaseRunner = (c: VectorCase, dtype: Dtype, acc: Agreement, options: RunOptions) => void;

/** How each case kind is run. A kind not listed fails with the reason that it is not supported. */
const RUNNERS: Readonly<Record<string, CaseRunner>> = {
  trajectory: (c, dtype, acc, options) => runTrajectory(c, dtype, acc, setHyperparams, options),
  schedule: runSchedule,
  torch_adamax: runTorch,
  flax_msgpack_state: runFlax,
};

/** Runs one case. Never throws: errors become a failed result with the error as the reason. */
export function runCase(c: VectorCase, fileDtype: Dtype, displayName: string, options: RunOptions = {}): CaseResult {
  const acc = newAgreement();
  const run = RUNNERS[c.kind];
  if (!run) return { name: displayName, kind: c.kind, passed: false, agreement: acc, reason: `case kind '${c.kind}' is not supported by optax-ts yet` };
  try {
    run(c, c.dtype ?? fileDtype, acc, options);
  } catch (e) {
    return { name: displayName, kind: c.kind, passed: false, agreement: acc, reason: (e as Error).message };
  }
  const passed = acc.total > 0 && acc.passed === acc.total;
  return { name: displayName, kind: c.kind, passed, agreement: acc, reason: passed ? undefined : acc.total === 0 ? 'nothing was compared' : acc.firstFailure };
}

/** Checks the top level of a parsed vectors file, throwing a clear error when it is not one. */
export function checkVectorsFile(data: unknown, source: string): VectorsFile {
  const f = data as VectorsFile;
  if (!f || typeof f !== 'object' || typeof f.format !== 'string' || !f.format.startsWith('adamax-goldens/')) {
    throw new Error(`${source}: not a conformance vectors file (expected "format": "adamax-goldens/1")`);
  }
  if (!Array.isArray(f.cases)) throw new Error(`${source}: "cases" must be a list`);
  return f;
}

/**
 * Runs every case of a vectors file and returns the results (one per case, in file order). Case names
 * are `set/name`, with `#k` appended when a file repeats a name.
 */
export function runVectorsFile(file: VectorsFile, source = file.set ?? 'vectors', options: RunOptions = {}): CaseResult[] {
  const set = file.set ?? source;
  const dtype: Dtype = file.dtype === 'float64' ? 'float64' : 'float32';
  const seen = new Map<string, number>();
  const total = new Map<string, number>();
  for (const c of file.cases) total.set(c.name, (total.get(c.name) ?? 0) + 1);
  return file.cases.map((c) => {
    const k = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, k);
    const display = `${set}/${c.name}${(total.get(c.name) ?? 0) > 1 ? `#${k}` : ''}`;
    return runCase(c, dtype, display, options);
  });
}

/** The closing line of a run: `N passed, M failed`. */
export function summaryLine(results: readonly CaseResult[]): string {
  const passed = results.filter((r) => r.passed).length;
  return `${passed} passed, ${results.length - passed} failed`;
}

export { formatResult };

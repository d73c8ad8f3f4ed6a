import type { Dtype } from '../core/dtype.js';
import { type Agreement, newAgreement } from './compare.js';
import type { VectorCase, VectorsFile } from './format.js';
import { type CaseResult, formatResult } from './result.js';
import { runSchedule } from './run-schedule.js';
import { type CheckpointRoundTrip, runTrajectory } from './run-trajectory.js';
import { setHyperparams } from '../transforms/inject-hyperparams.js';
import { runTorch } from './run-torch.js';
import { runFlax } from './run-flax.js';
import { ENGINE_CONFIGS, type EngineConfig, type EngineRun, engineConfigUnavailable, engineDriver } from './engine-driver.js';

export { checkVectorsFile } from './validate-file.js';

/** Runs one kind of case, adding to the agreement; throws to fail the case with a reason. */
type CaseRunner = (c: VectorCase, dtype: Dtype, acc: Agreement, options: RunOptions) => void;

/** How each case kind is run. A kind not listed fails with the reason that it is not supported. */
const RUNNERS: Readonly<Record<string, CaseRunner>> = {
  trajectory: (c, dtype, acc, options) => runTrajectory(c, dtype, acc, setHyperparams, { checkpoint: options.checkpoint }),
  schedule: runSchedule,
  torch_adamax: runTorch,
  flax_msgpack_state: runFlax,
};

/** How a vectors file is run. */
export interface RunOptions {
  /** Also run every trajectory case through `compile()` on each available backend (`--engine`). */
  readonly engine?: boolean;
  /** Round-trip each trajectory's params and state through a save and a load midway (`--checkpoint-roundtrip`). */
  readonly checkpoint?: CheckpointRoundTrip;
}

/** Runs a case with `run`, turning every error into a failed result with the error as the reason. */
function judged(c: VectorCase, displayName: string, run: (acc: Agreement) => void, extra: Partial<CaseResult> = {}): CaseResult {
  const acc = newAgreement();
  try {
    run(acc);
  } catch (e) {
    return { name: displayName, kind: c.kind, passed: false, agreement: acc, reason: (e as Error).message, ...extra };
  }
  const passed = acc.total > 0 && acc.passed === acc.total;
  return { name: displayName, kind: c.kind, passed, agreement: acc, reason: passed ? undefined : acc.total === 0 ? 'nothing was compared' : acc.firstFailure, ...extra };
}

/** Runs one case. Never throws: errors become a failed result with the error as the reason. */
export function runCase(c: VectorCase, fileDtype: Dtype, displayName: string, options: RunOptions = {}): CaseResult {
  const run = Object.hasOwn(RUNNERS, c.kind) ? RUNNERS[c.kind] : undefined;
  if (!run) return { name: displayName, kind: c.kind, passed: false, agreement: newAgreement(), reason: `case kind '${c.kind}' is not supported by optax-ts yet` };
  return judged(c, displayName, (acc) => run(c, c.dtype ?? fileDtype, acc, options));
}

/**
 * Runs a trajectory case through `compile()` on each engine configuration available here (wasm at 1
 * and 2 threads, js, interpreter; see {@link engineConfigUnavailable}), one result each, saying which
 * backend ran.
 */
export function runCaseOnEngines(c: VectorCase, fileDtype: Dtype, displayName: string, configs: readonly EngineConfig[] = availableEngineConfigs(), options: RunOptions = {}): CaseResult[] {
  return configs.map((config) => {
    let ran: EngineRun | undefined;
    const drive = engineDriver(config, (r) => { ran = r; });
    const result = judged(c, displayName, (acc) => runTrajectory(c, c.dtype ?? fileDtype, acc, setHyperparams, { drive, checkpoint: options.checkpoint }));
    // `ran` is unset only when compile() itself threw (the result then fails with its message).
    return { ...result, engine: ran ?? { asked: config, backend: 'reference', threads: 0, referenceReason: 'compile() threw' } };
  });
}

/** The engine configurations this platform can run. */
export function availableEngineConfigs(): EngineConfig[] {
  return ENGINE_CONFIGS.filter((config) => engineConfigUnavailable(config) === undefined);
}

/**
 * Runs every case of a vectors file and returns the results (one per case, in file order; with
 * `engine`, each trajectory case is followed by its engine results). Case names are `set/name`, with
 * `#k` appended when a file repeats a name.
 */
export function runVectorsFile(file: VectorsFile, source = file.set ?? 'vectors', options: RunOptions = {}): CaseResult[] {
  const set = file.set ?? source;
  const dtype: Dtype = file.dtype === 'float64' ? 'float64' : 'float32';
  const configs = options.engine ? availableEngineConfigs() : [];
  const seen = new Map<string, number>();
  const total = new Map<string, number>();
  for (const c of file.cases) total.set(c.name, (total.get(c.name) ?? 0) + 1);
  return file.cases.flatMap((c) => {
    const k = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, k);
    const display = `${set}/${c.name}${(total.get(c.name) ?? 0) > 1 ? `#${k}` : ''}`;
    const pure = runCase(c, dtype, display, options);
    return options.engine && c.kind === 'trajectory' ? [pure, ...runCaseOnEngines(c, dtype, display, configs, options)] : [pure];
  });
}

/** The closing line of a run: `N passed, M failed`. */
export function summaryLine(results: readonly CaseResult[]): string {
  const passed = results.filter((r) => r.passed).length;
  return `${passed} passed, ${results.length - passed} failed`;
}

export { formatResult };

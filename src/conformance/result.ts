import type { Agreement } from './compare.js';
import type { EngineRun } from './engine-driver.js';

/** The outcome of one conformance case. */
export interface CaseResult {
  /** `set/name` (with `#k` when a file repeats a name). */
  readonly name: string;
  readonly kind: string;
  readonly passed: boolean;
  /** Elements compared, identical and worst ulp distance. */
  readonly agreement: Agreement;
  /** Why it failed (first bad element, or the error). */
  readonly reason?: string;
  /** For an engine-mode result: the configuration asked for and what actually ran. */
  readonly engine?: EngineRun;
}

/** `engine wasm, 2 threads`, or `engine reference (asked wasm, 2 threads: <why>)` when it fell back. */
function engineLabel(run: EngineRun): string {
  if (run.backend === 'reference') return `engine reference (asked ${run.asked.label}: ${run.referenceReason ?? 'not compiled'})`;
  const threads = run.threads === 1 ? '1 thread' : `${run.threads} threads`;
  return run.backend === 'interpreter' ? 'engine interpreter' : `engine ${run.backend}, ${threads}`;
}

/** Formats one result as the runner's output line. */
export function formatResult(r: CaseResult): string {
  const a = r.agreement;
  const frac = a.total === 0 ? 'n/a' : `${((100 * a.identical) / a.total).toFixed(2)}%`;
  const ulps = a.worstUlps === Infinity ? 'inf' : String(a.worstUlps);
  const engine = r.engine ? `  ${engineLabel(r.engine)}` : '';
  const line = `${r.passed ? 'PASS' : 'FAIL'}  ${r.name}  [${r.kind}]${engine}  bit-identical ${frac} (${a.identical}/${a.total})  worst ${ulps} ulp`;
  return r.passed ? line : `${line}  -- ${r.reason ?? 'mismatch'}`;
}

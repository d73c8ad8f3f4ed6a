import type { Agreement } from './compare.js';

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
}

/** Formats one result as the runner's output line. */
export function formatResult(r: CaseResult): string {
  const a = r.agreement;
  const frac = a.total === 0 ? 'n/a' : `${((100 * a.identical) / a.total).toFixed(2)}%`;
  const ulps = a.worstUlps === Infinity ? 'inf' : String(a.worstUlps);
  const line = `${r.passed ? 'PASS' : 'FAIL'}  ${r.name}  [${r.kind}]  bit-identical ${frac} (${a.identical}/${a.total})  worst ${ulps} ulp`;
  return r.passed ? line : `${line}  -- ${r.reason ?? 'mismatch'}`;
}

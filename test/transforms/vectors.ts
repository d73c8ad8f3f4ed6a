/**
 * Test helper: runs a case of the conformance vectors (conformance/public_f32.json, public_f64.json)
 * through a transformation built by the test with the public API, with the runner's own trajectory
 * protocol and pass rule (src/conformance), and returns the first mismatch.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GradientTransformation } from '../../src/core/transformation.js';
import { newAgreement } from '../../src/conformance/compare.js';
import { decodeTree } from '../../src/conformance/format.js';
import { runTrajectoryWith } from '../../src/conformance/run-trajectory.js';

export type Mode = 'f32' | 'f64';

/** Decodes a tree of encoded arrays; everything else is kept. */
export const decode = decodeTree;

const cache = new Map<Mode, any>();

/** The raw case named `name` from the vectors of `mode`. */
export function vectorCase(mode: Mode, name: string): any {
  if (!cache.has(mode)) {
    const path = fileURLToPath(new URL(`../../conformance/public_${mode}.json`, import.meta.url));
    cache.set(mode, JSON.parse(readFileSync(path, 'utf8')));
  }
  const c = cache.get(mode).cases.find((k: any) => k.name === name);
  if (!c) throw new Error(`no case ${name} in public_${mode}.json`);
  return c;
}

/**
 * Runs the trajectory case `name` with `tx` (applying recorded hyperparameters with
 * `setHyperparams`). Returns the first mismatch, or undefined when every element passes.
 */
export function runCase(mode: Mode, name: string, tx: GradientTransformation<any>, setHyperparams?: (s: any, v: Record<string, unknown>) => any): string | undefined {
  const acc = newAgreement();
  runTrajectoryWith(tx, vectorCase(mode, name), acc, setHyperparams);
  return acc.passed === acc.total && acc.total > 0 ? undefined : `${name} (${mode}): ${acc.firstFailure ?? 'nothing compared'}`;
}

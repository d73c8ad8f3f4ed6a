/**
 * Parsing of `boundariesAndScales` for the piecewise schedules.
 *
 * @internal
 */
import { OptaxError } from '../core/errors.js';
import { checkFinite, checkSteps } from './validate.js';

/** `{step: scale}`: a record (keys are step numbers, as strings or numbers) or a Map. */
export type BoundariesAndScales = Readonly<Record<number | string, number>> | ReadonlyMap<number | string, number>;

/**
 * The entries sorted by step, as optax's `sorted(boundaries_and_scales.items())` orders them.
 * Rejected: steps that are not integers in [0, 2^31-1] (a JS object's keys are strings: "5" is step 5),
 * a step given twice (a Map can hold both 5 and "5"), scales that are not finite and `>= 0` (optax
 * raises for negative ones).
 */
export function parseBoundaries(fn: string, input: unknown): { boundaries: number[]; scales: number[] } {
  if (input === undefined || input === null) return { boundaries: [], scales: [] };
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new OptaxError(`${fn}: boundariesAndScales must be an object or a Map of {step: scale}, got ${Array.isArray(input) ? 'an array' : typeof input}`);
  }
  const entries: [unknown, unknown][] = input instanceof Map ? [...input.entries()] : Object.entries(input);
  const parsed: [number, number][] = [];
  const seen = new Set<number>();
  for (const [key, scale] of entries) {
    const step = typeof key === 'string' && /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(key) ? Number(key) : key;
    checkSteps(fn, `boundariesAndScales key ${typeof key === 'string' ? JSON.stringify(key) : String(key)}`, step);
    const s = checkFinite(fn, `boundariesAndScales[${String(key)}]`, scale);
    if (!(s >= 0)) throw new OptaxError(`${fn}: boundariesAndScales[${String(key)}] must be a non-negative scale, got ${s}`);
    if (seen.has(step as number)) throw new OptaxError(`${fn}: boundariesAndScales has step ${String(step)} twice`);
    seen.add(step as number);
    parsed.push([step as number, s]);
  }
  parsed.sort((a, b) => a[0] - b[0]);
  return { boundaries: parsed.map((e) => e[0]), scales: parsed.map((e) => e[1]) };
}

import type { FloatArray } from '../core/dtype.js';
import { isArrayLeaf, leafData } from '../tree/leaf.js';
import { formatPath } from '../tree/path.js';
import { walkTrees } from '../tree/structure.js';

/** Accumulated agreement between results and reference values. */
export interface Agreement {
  /** Elements compared. */
  total: number;
  /** Elements that are bit-identical (NaN matches NaN). */
  identical: number;
  /** Elements that pass (identical, or flushed-subnormal zeros, or within tolerance). */
  passed: number;
  /** The largest distance in units in the last place. */
  worstUlps: number;
  /** The first failure, for the report. */
  firstFailure?: string;
}

/** A fresh, empty agreement. */
export function newAgreement(): Agreement {
  return { total: 0, identical: 0, passed: 0, worstUlps: 0 };
}

const F32_MIN_NORMAL = 2 ** -126;
const F64_MIN_NORMAL = 2 ** -1022;

const f32 = new Float32Array(1), i32 = new Int32Array(f32.buffer);
const f64 = new Float64Array(1), i64 = new BigInt64Array(f64.buffer);

/** Distance in ulps between two finite-or-infinite values of the dtype (Infinity if one is NaN). */
export function ulpDistance(a: number, b: number, float32: boolean): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  if (float32) {
    f32[0] = a; let x = i32[0]; if (x < 0) x = -(x & 0x7fffffff);
    f32[0] = b; let y = i32[0]; if (y < 0) y = -(y & 0x7fffffff);
    return Math.abs(x - y);
  }
  f64[0] = a; let x = i64[0]; if (x < 0n) x = -(x & 0x7fffffffffffffffn);
  f64[0] = b; let y = i64[0]; if (y < 0n) y = -(y & 0x7fffffffffffffffn);
  const d = x > y ? x - y : y - x;
  return Number(d);
}

/** How elements are judged. */
export type CompareRule =
  /** Bit-identical, except that a reference zero accepts a subnormal result (XLA flushes subnormals). */
  | { readonly kind: 'exact' }
  /** |got - ref| <= rtol * (largest |ref| of the leaf) (used for torch parity). */
  | { readonly kind: 'leaf-relative'; readonly rtol: number };

function compareArrays(got: FloatArray, ref: FloatArray, rule: CompareRule, where: string, acc: Agreement): void {
  const float32 = ref instanceof Float32Array;
  const minNormal = float32 ? F32_MIN_NORMAL : F64_MIN_NORMAL;
  if (got.length !== ref.length) {
    acc.total += ref.length;
    acc.worstUlps = Infinity;
    acc.firstFailure ??= `${where}: ${got.length} elements, expected ${ref.length}`;
    return;
  }
  let scale = 0;
  if (rule.kind === 'leaf-relative') for (const v of ref) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < ref.length; i++) {
    const g = got[i], r = ref[i];
    acc.total++;
    const same = Object.is(g, r) || (Number.isNaN(g) && Number.isNaN(r));
    const ulps = same ? 0 : ulpDistance(g, r, float32);
    acc.worstUlps = Math.max(acc.worstUlps, ulps);
    let ok = same;
    if (same) acc.identical++;
    else if (rule.kind === 'exact') ok = r === 0 && g !== 0 && Math.abs(g) < minNormal;
    else ok = Math.abs(g - r) <= rule.rtol * scale;
    if (ok) acc.passed++;
    else acc.firstFailure ??= `${where}[${i}]: got ${showNumber(g)}, expected ${showNumber(r)} (${ulps} ulp)`;
  }
}

/** A number as a failure line shows it: `-0` kept (String(-0) is "0": "got 0, expected 0" would explain nothing). */
function showNumber(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

/** Compares a result tree with a reference tree (same structure), adding to `acc`. */
export function compareTrees(got: unknown, ref: unknown, rule: CompareRule, where: string, acc: Agreement): void {
  try {
    walkTrees([ref, got], ([r, g], path) => {
      compareArrays(leafData(g as never), leafData(r as never), rule, formatPath(path, where), acc);
    }, { names: ['the reference', 'the result'], root: where, isLeaf: isArrayLeaf });
  } catch (e) {
    acc.worstUlps = Infinity;
    acc.total += 1;
    acc.firstFailure ??= (e as Error).message;
  }
}

/** Compares two plain values (a step count, a dtype list) exactly. */
export function compareValue(got: unknown, ref: unknown, where: string, acc: Agreement): void {
  acc.total++;
  if (Object.is(got, ref)) { acc.identical++; acc.passed++; return; }
  acc.worstUlps = Infinity;
  acc.firstFailure ??= `${where}: got ${String(got)}, expected ${String(ref)}`;
}

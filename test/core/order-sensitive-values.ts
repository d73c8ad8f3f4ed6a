/**
 * Data whose sum depends on the order of the additions, for the LLVM-measured window sums
 * (test/core/llvm-windows.json, written by scripts/llvm-reduce-order/fixture.ts, which generates the
 * same data with these functions): the fixture records the seeds, not the values.
 */

type Dtype = 'f32' | 'f64';

/** One recorded case of test/core/llvm-windows.json (its record, written by the script, read by the test). */
export interface LlvmWindowCase {
  readonly dtype: Dtype;
  readonly shape: number[];
  readonly data: 'order' | 'hostile';
  readonly seed: number;
  /** Window-kernel loops vectorized (`VFxIC`), and the final reduce's VF, per LLVM, in `--opt` order. */
  readonly vf: string[];
  readonly finalVf: number[];
  readonly windows: string[];
  /** The leaf's sum: LLVM's final reduce of its window sums, when no LLVM vectorizes it. */
  readonly sum?: string;
}

/** The bits of a float of `dtype`, as hex; NaN canonical (JS carries no NaN sign or payload). */
export function floatBits(dtype: Dtype, v: number): string {
  // V8 may keep a NaN's sign through setFloat32: make it canonical here.
  if (Number.isNaN(v)) return dtype === 'f32' ? '7fc00000' : '7ff8000000000000';
  const view = new DataView(new ArrayBuffer(8));
  if (dtype === 'f32') { view.setFloat32(0, v); return view.getUint32(0).toString(16).padStart(8, '0'); }
  view.setFloat64(0, v);
  return view.getBigUint64(0).toString(16).padStart(16, '0');
}

/** xorshift32 from a seed: uniform numbers in [0, 1). */
function uniform(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Random signs, 30 (float32) or 60 binades (float64). */
export function orderSensitiveValues(dtype: Dtype, count: number, seed: number): number[] {
  const next = uniform(seed);
  const round = dtype === 'f32' ? Math.fround : (v: number) => v;
  const binades = dtype === 'f32' ? 30 : 60;
  return Array.from({ length: count }, () => round((next() < 0.5 ? -1 : 1) * (1 + next()) * 2 ** Math.floor(next() * binades - binades / 2)));
}

/**
 * Hostile values among order-sensitive ones: signed zeros, subnormals, magnitudes near the largest
 * finite (partial sums overflow), and a few infinities (whose opposite-signed sums are NaN).
 */
export function hostileValues(dtype: Dtype, count: number, seed: number): number[] {
  const next = uniform(seed);
  const round = dtype === 'f32' ? Math.fround : (v: number) => v;
  const [maxExp, minExp] = dtype === 'f32' ? [127, -149] : [1023, -1074];
  const base = orderSensitiveValues(dtype, count, seed + 1000);
  return base.map((v) => {
    const r = next(), sign = next() < 0.5 ? -1 : 1;
    if (r < 0.1) return sign * 0;
    if (r < 0.2) return round(sign * 2 ** (minExp + Math.floor(next() * 20)) * (1 + Math.floor(next() * 8)));
    if (r < 0.3) return round(sign * 2 ** (maxExp - Math.floor(next() * 3)) * (1 + next() / 2));
    if (r < 0.32) return sign * Infinity;
    return v;
  });
}

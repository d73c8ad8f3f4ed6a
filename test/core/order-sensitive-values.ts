/**
 * Data whose sum depends on the order of the additions, for the LLVM-measured window sums
 * (test/core/llvm-windows.json, written by scripts/llvm-reduce-order/fixture.ts, which generates the
 * same data with these functions): the fixture records the seeds, not the values.
 */

type Dtype = 'f32' | 'f64';

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

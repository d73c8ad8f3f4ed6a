/**
 * An integer oracle for fused multiply-adds and hostile float64 operands for it, shared by the core
 * fma tests and the kernels' (WebAssembly, JS) float64 fma tests.
 */

/** The exact value of a finite double as m * 2^e with integer m. */
export function exact(x: number): [bigint, bigint] {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  const bits = v.getBigUint64(0);
  const sign = bits >> 63n ? -1n : 1n;
  const ex = Number((bits >> 52n) & 0x7ffn);
  let m = bits & ((1n << 52n) - 1n);
  if (ex !== 0) m |= 1n << 52n;
  return [sign * m, BigInt(ex === 0 ? -1074 : ex - 1075)];
}

/** A binary floating-point format, for the integer oracle. */
export interface Format { readonly precision: number; readonly minQuantum: number; readonly overflow: number }
export const FLOAT32: Format = { precision: 24, minQuantum: -149, overflow: 2 ** 128 };
export const FLOAT64: Format = { precision: 53, minQuantum: -1074, overflow: Infinity }; // 2^1024 is Infinity

/**
 * a * b + c rounded to nearest even in `format` by integer arithmetic, subnormals, overflow, signed
 * zeros and specials included: an oracle independent of the emulation under test.
 */
export function exactFma(a: number, b: number, c: number, format: Format): number {
  if (![a, b].every(Number.isFinite)) return a * b + c; // the exact product is ±inf or NaN
  if (!Number.isFinite(c)) return c; // a finite product does not change an infinite or NaN c
  const [ma, ea] = exact(a), [mb, eb] = exact(b), [mc, ec] = exact(c);
  const ep = ea + eb, e0 = ep < ec ? ep : ec;
  const m = ma * mb * (1n << (ep - e0)) + mc * (1n << (ec - e0));
  if (m === 0n) return ma * mb === 0n ? a * b + c : 0; // IEEE's sign of an exact zero sum: +0 unless -0 + -0
  const neg = m < 0n, abs = neg ? -m : m;
  // The quantum at this magnitude: 2^(exponent - precision + 1), never below the subnormal one.
  const exponent = BigInt(abs.toString(2).length - 1) + e0;
  const q0 = exponent - BigInt(format.precision - 1);
  const quantum = q0 > BigInt(format.minQuantum) ? q0 : BigInt(format.minQuantum);
  let q: bigint;
  if (quantum <= e0) q = abs << (e0 - quantum);
  else {
    const shift = quantum - e0, s = 1n << shift, rem = abs % s, half = s / 2n;
    q = abs / s;
    if (rem > half || (rem === half && (q & 1n) === 1n)) q += 1n;
  }
  const rounded = Number(q) * 2 ** Number(quantum); // exact (q has at most precision + 1 bits), or Infinity
  const value = rounded >= format.overflow ? Infinity : rounded;
  return neg ? -value : value;
}

/** A deterministic source of 32-bit words (mulberry32): the same hostile cases on every run. */
export function words(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const SPECIALS = [0, -0, Infinity, -Infinity, NaN, 1, -1, Number.MAX_VALUE, -Number.MAX_VALUE, 2 ** -1074, -(2 ** -1074), 2 ** -1022, 2 ** 600, -(2 ** -600)];

/** Hostile float64 fma operands, by kind, from `next` (see the test below). */
export function hostileFloat64(next: () => number): Record<string, () => [number, number, number]> {
  const view = new DataView(new ArrayBuffer(8));
  const int = (lo: number, hi: number): number => lo + (next() % (hi - lo + 1));
  const fromWords = (hi: number, lo: number): number => { view.setUint32(0, hi); view.setUint32(4, lo); return view.getFloat64(0); };
  /** ±m 2^e with a random significand in [1, 2) (often with trailing zeros: exact products, ties); subnormal or 0 below 2^-1022. */
  const withExponent = (e: number): number => {
    const zeros = next() % 3 === 0 ? int(0, 52) : 0;
    let m = 1 + ((next() & 0xfffff) * 2 ** 32 + next()) * 2 ** -52;
    m = Math.floor(m * 2 ** (52 - zeros)) * 2 ** (zeros - 52); // clears the last `zeros` bits
    const x = m * 2 ** Math.max(e, -1022) * 2 ** Math.min(0, e + 1022); // rounds below 2^-1022
    return next() & 1 ? -x : x;
  };
  const max = Number.MAX_VALUE;
  const finite = (): number => { for (;;) { const x = fromWords(next(), next()); if (Number.isFinite(x)) return x; } };
  return {
    random: () => [finite(), finite(), finite()],
    // Products below 2^-960 (down to underflow), with c cancelling them into or next to the
    // subnormal range, a signed zero, or small.
    tiny: () => {
      const ep = int(-1150, -880), ea = int(Math.max(-1074, ep - 1023), Math.min(1023, ep + 1074));
      const a = withExponent(ea), b = withExponent(ep - ea), p = a * b;
      const c = [-p, -p + int(-9, 9) * 2 ** -1074, -p * (1 + int(-5, 5) * 2 ** -52), next() & 1 ? 0 : -0, withExponent(int(-1080, -880)), p * int(-3, 3) * 2 ** -53][next() % 6];
      return [a, b, c];
    },
    // Products near or beyond the largest double, with c of the other sign bringing the sum back.
    huge: () => {
      const ea = int(-100, 1023), a = withExponent(ea), b = withExponent(Math.min(1023, int(1012, 1027) - ea));
      const sign = (a < 0) !== (b < 0) ? -1 : 1;
      const c = [-sign * (max - int(0, 5000) * 2 ** int(950, 971)), sign * max * (1 - int(0, 9) * 2 ** -53), -sign * withExponent(int(1000, 1023)), withExponent(int(-1074, 1023))][next() % 4];
      return [a, b, c];
    },
    // Products within 2^-20 of the largest double, where the split halves' product overflows.
    nearMax: () => {
      const a = withExponent(int(400, 620)), b = (max / a) * (1 - int(0, 2 ** 20) * 2 ** -52);
      const c = [-(a * b) * (1 - int(0, 9) * 2 ** -52), withExponent(int(-1074, 1023)), (a * b) * int(0, 9) * 2 ** -54][next() % 3];
      return [a, b, c];
    },
    // A factor beyond 2^995 (Veltkamp's split overflows), products anywhere.
    bigFactor: () => {
      const a = withExponent(int(994, 1023)), b = withExponent(int(-1074, 30));
      const c = next() & 1 ? -(a * b) * (1 + int(-3, 3) * 2 ** -52) : withExponent(int(-1074, 1023));
      return next() & 1 ? [a, b, c] : [b, a, c];
    },
    // a * b exactly half an ulp of c (a tie), or a hair off it; every binade, subnormal c included.
    ties: () => {
      const ec = int(-1074, 1020), c = withExponent(ec);
      const ulp = Math.max(Math.floor(Math.log2(Math.abs(c) || 2 ** -1074)) - 52, -1074);
      const s = int(-40, 40);
      const a = (1 + int(-2, 2) * 2 ** -52) * 2 ** s, b = (next() & 1 ? 1 : -1) * 2 ** (ulp - 1 - s);
      return [a, b, c];
    },
    // Zeros of both signs, infinities, NaN, extremes and ordinary values, in every position.
    specials: () => {
      const pick = (): number => (next() % 3 === 0 ? withExponent(int(-1074, 1023)) : SPECIALS[next() % SPECIALS.length]);
      return [pick(), pick(), pick()];
    },
    // Moderate operands whose product c nearly cancels.
    cancel: () => {
      const a = withExponent(int(-500, 500)), b = withExponent(int(-400, 400));
      return [a, b, -(a * b) * (1 + int(-64, 64) * 2 ** -52)];
    },
  };
}


/**
 * C99 hexadecimal floating-point literals (`0x1.921fb54442d18p+0`), as the C sources of the math
 * routines optax-ts reproduces write their constants: parsed exactly (a mantissa of at most 53
 * significant bits times a power of two), so a constant here is bit for bit the one in the binary.
 *
 * @internal
 */

const PATTERN = /^(-?)0x([0-9a-f]+)(?:\.([0-9a-f]*))?p([+-]?\d+)$/i;

/**
 * The double a hexadecimal literal denotes. Throws on a malformed literal or one that does not fit a
 * double exactly (more than 53 significant bits), so a typo cannot silently change a constant.
 */
export function hexFloat(literal: string): number {
  const m = PATTERN.exec(literal);
  if (!m) throw new Error(`hexFloat: not a hexadecimal float literal: ${literal}`);
  const [, sign, whole, frac = '', exp] = m;
  let mantissa = BigInt(`0x${whole}${frac}`);
  let e = Number(exp) - 4 * frac.length;
  if (mantissa === 0n) return sign ? -0 : 0;
  while ((mantissa & 1n) === 0n) { mantissa >>= 1n; e += 1; }
  if (mantissa >= 1n << 53n) throw new Error(`hexFloat: more than 53 significant bits: ${literal}`);
  const value = Number(mantissa) * 2 ** e; // exact: mantissa < 2^53, and e stays in the normal range here
  if (!Number.isFinite(value) || value === 0) throw new Error(`hexFloat: out of range: ${literal}`);
  return sign ? -value : value;
}

/**
 * Reinterpreting floats as their IEEE bits and back, as the C math routines do (`asuint`,
 * `asuint64`, ...): through one scratch DataView, big-endian, so the values are the C ones.
 *
 * @internal
 */

const view = new DataView(new ArrayBuffer(8));

/** All 64 bits set: unsigned 64-bit arithmetic on BigInts wraps with `& MASK64`. */
export const MASK64 = (1n << 64n) - 1n;

/** The bits of a float32 (the value is rounded to float32 first). */
export function asuint(x: number): number { view.setFloat32(0, x); return view.getUint32(0); }
/** The float32 with these bits. */
export function asfloat(u: number): number { view.setUint32(0, u >>> 0); return view.getFloat32(0); }
/** The bits of a double. */
export function asuint64(x: number): bigint { view.setFloat64(0, x); return view.getBigUint64(0); }
/** The double with these bits (taken modulo 2^64). */
export function asdouble(u: bigint): number { view.setBigUint64(0, u & MASK64); return view.getFloat64(0); }

/**
 * The byte-level encoding of WebAssembly binaries: LEB128 integers, IEEE constants, names and
 * length-prefixed vectors (WebAssembly core spec, section 5 "Binary Format").
 *
 * The engine cannot download a toolchain at run time (it must work in a browser), so the SIMD kernels
 * are emitted directly as bytes; this file is the only place that knows how numbers are laid out.
 */

/** A growable byte buffer with the WebAssembly primitive encoders. */
export class ByteWriter {
  private buffer: Uint8Array<ArrayBuffer> = new Uint8Array(256);
  private length = 0;

  /** Number of bytes written so far. */
  get size(): number {
    return this.length;
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  /** One raw byte (0..255). */
  byte(b: number): this {
    if (!Number.isInteger(b) || b < 0 || b > 255) throw new RangeError(`not a byte: ${b}`);
    this.reserve(1);
    this.buffer[this.length++] = b;
    return this;
  }

  /** Raw bytes, copied as they are. */
  bytes(bs: ArrayLike<number>): this {
    this.reserve(bs.length);
    for (let i = 0; i < bs.length; i++) this.byte(bs[i]);
    return this;
  }

  /** An unsigned LEB128 integer of at most 32 bits (`u32` in the spec: counts, indices, sizes). */
  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`not a u32: ${value}`);
    let v = value;
    do {
      let b = v % 128; // not `& 127`: values above 2^31 would turn negative
      v = Math.floor(v / 128);
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
    return this;
  }

  /** A signed LEB128 integer of at most 32 bits (`i32.const` immediates). */
  s32(value: number): this {
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) throw new RangeError(`not an s32: ${value}`);
    let v = value;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7; // arithmetic shift keeps the sign
      const signBitClear = (b & 0x40) === 0;
      if ((v === 0 && signBitClear) || (v === -1 && !signBitClear)) {
        this.byte(b);
        return this;
      }
      this.byte(b | 0x80);
    }
  }

  /** A little-endian IEEE binary32 (the value is rounded to float32 first). */
  f32(value: number): this {
    const view = new DataView(new ArrayBuffer(4));
    view.setFloat32(0, value, true);
    return this.bytes(new Uint8Array(view.buffer));
  }

  /** A little-endian IEEE binary64. */
  f64(value: number): this {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value, true);
    return this.bytes(new Uint8Array(view.buffer));
  }

  /** A name: its UTF-8 byte length, then the bytes. */
  name(text: string): this {
    const utf8 = new TextEncoder().encode(text);
    return this.u32(utf8.length).bytes(utf8);
  }

  /** A length-prefixed blob: the byte length of `content` (u32), then `content`. */
  sized(content: ByteWriter): this {
    return this.u32(content.size).bytes(content.toBytes());
  }

  /** A copy of the bytes written. */
  toBytes(): Uint8Array<ArrayBuffer> {
    return this.buffer.slice(0, this.length);
  }
}

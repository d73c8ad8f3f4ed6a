import { OptaxError } from '../core/errors.js';

/**
 * The safetensors file format (huggingface/safetensors, whose README is the specification), held to
 * the letter. A file is:
 * - 8 bytes: `N`, the header's length, unsigned little-endian 64-bit (at most 100,000,000, the
 *   reference implementation's limit, and within the file);
 * - `N` bytes of UTF-8 JSON starting with `{`, padded with spaces: `{"name": {"dtype", "shape",
 *   "data_offsets": [begin, end]}, ..., "__metadata__": {string: string}}`;
 * - the data buffer, entirely covered by the tensors' offsets (relative to its start), without holes or
 *   overlaps, each tensor's byte length being its element count times its dtype's size.
 *
 * The header is read by a parser for exactly this schema (not `JSON.parse`): a duplicate name or field,
 * an unknown field, a number that is not a non-negative integer, a lone surrogate or anything past the
 * padding is rejected; names live in a `Map`, so `__proto__` is an ordinary name. Nothing is allocated
 * beyond a small multiple of the header's size, and the data is not copied here.
 *
 * @internal
 */

/** Bits per element of every dtype the format defines (safetensors' `Dtype::bitsize`). */
const DTYPE_BITS: ReadonlyMap<string, number> = new Map([
  ['BOOL', 8], ['F4', 4], ['F6_E2M3', 6], ['F6_E3M2', 6], ['U8', 8], ['I8', 8], ['F8_E5M2', 8], ['F8_E4M3', 8], ['F8_E8M0', 8],
  ['F8_E4M3FNUZ', 8], ['F8_E5M2FNUZ', 8], ['I16', 16], ['U16', 16], ['F16', 16], ['BF16', 16], ['I32', 32], ['U32', 32], ['F32', 32],
  ['C64', 64], ['F64', 64], ['I64', 64], ['U64', 64],
]);

/** The rank of each dtype in the reference writer's order (increasing alignment): it writes the largest first. */
const DTYPE_RANK: ReadonlyMap<string, number> = new Map([...DTYPE_BITS.keys()].map((d, i) => [d, i]));

/** The reference implementation's header size limit. */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor of a file: its dtype, shape and byte range within the data buffer. */
export interface TensorInfo {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

/** A parsed and validated file: tensors by name, the metadata, and where the data buffer starts. */
export interface SafetensorsFile {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: ReadonlyMap<string, string> | undefined;
  readonly dataStart: number;
}

/** A tensor to write. */
export interface TensorToWrite {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /**
   * Its elements: a typed array of its dtype (written little-endian, copied element-wise: no byte
   * view of it is made, so a small on-heap array stays one) or its little-endian bytes.
   */
  readonly data: Uint8Array | Float32Array | Float64Array | Int32Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();
const encodeUtf8 = (s: string): Uint8Array => utf8Encoder.encode(s);

function reject(what: string): never {
  throw new OptaxError(`safetensors: ${what}`);
}

/** A parser of the header's JSON, restricted to the format's schema. */
class HeaderParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  private fail(what: string): never {
    return reject(`invalid header at character ${this.pos}: ${what}`);
  }

  private space(): void {
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else return;
    }
  }

  private expect(ch: string): void {
    this.space();
    if (this.text[this.pos] !== ch) this.fail(`expected '${ch}', got ${this.pos < this.text.length ? JSON.stringify(this.text[this.pos]) : 'the end'}`);
    this.pos++;
  }

  /** `{` then entries `key: value` (by `entry`) separated by commas, then `}`; keys unique. */
  private object(entry: (key: string) => void): void {
    this.expect('{');
    this.space();
    if (this.text[this.pos] === '}') { this.pos++; return; }
    for (;;) {
      const key = this.string();
      this.expect(':');
      entry(key);
      this.space();
      const c = this.text[this.pos++];
      if (c === '}') return;
      if (c !== ',') this.fail(`expected ',' or '}'`);
    }
  }

  string(): string {
    this.space();
    if (this.text[this.pos] !== '"') this.fail('expected a string');
    this.pos++;
    let out = '';
    let start = this.pos;
    for (;;) {
      if (this.pos >= this.text.length) this.fail('unterminated string');
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x22) { out += this.text.slice(start, this.pos++); break; }
      if (c < 0x20) this.fail('control character in a string');
      // Surrogates here are the halves of pairs (characters above U+FFFF): the text comes from a fatal UTF-8 decode.
      if (c !== 0x5c) { this.pos++; continue; }
      out += this.text.slice(start, this.pos);
      const e = this.text[this.pos + 1];
      this.pos += 2;
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (Object.hasOwn(simple, e)) out += simple[e];
      else if (e === 'u') {
        const unit = this.hex4();
        if (unit >= 0xdc00 && unit <= 0xdfff) this.fail('lone surrogate escape');
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (this.text.slice(this.pos, this.pos + 2) !== '\\u') this.fail('lone surrogate escape');
          this.pos += 2;
          const low = this.hex4();
          if (low < 0xdc00 || low > 0xdfff) this.fail('lone surrogate escape');
          out += String.fromCharCode(unit, low);
        } else out += String.fromCharCode(unit);
      } else this.fail('invalid escape');
      start = this.pos;
    }
    return out;
  }

  private hex4(): number {
    const h = this.text.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('invalid \\u escape');
    this.pos += 4;
    return parseInt(h, 16);
  }

  /** A non-negative integer without sign, fraction or exponent, at most 2^53 - 1 (read in place: no slice per number). */
  private integer(): number {
    this.space();
    const start = this.pos;
    let v = 0;
    for (let c = this.text.charCodeAt(this.pos); c >= 0x30 && c <= 0x39; c = this.text.charCodeAt(++this.pos)) {
      if (this.pos - start >= 16) this.fail('integer too large');
      v = v * 10 + (c - 0x30);
    }
    const next = this.text.charCodeAt(this.pos);
    if (this.pos === start || (this.pos - start > 1 && this.text.charCodeAt(start) === 0x30) || next === 0x2e || next === 0x65 || next === 0x45) {
      this.pos = start;
      this.fail('expected a non-negative integer');
    }
    if (!Number.isSafeInteger(v)) this.fail('integer too large');
    return v;
  }

  private integers(): number[] {
    this.expect('[');
    const out: number[] = [];
    this.space();
    if (this.text[this.pos] === ']') { this.pos++; return out; }
    for (;;) {
      out.push(this.integer());
      this.space();
      const c = this.text[this.pos++];
      if (c === ']') return out;
      if (c !== ',') this.fail(`expected ',' or ']'`);
    }
  }

  private tensorInfo(name: string): { dtype: string; shape: number[]; offsets: number[] } {
    let dtype: string | undefined, shape: number[] | undefined, offsets: number[] | undefined;
    const duplicate = (field: string): never => this.fail(`tensor ${JSON.stringify(name)}: duplicate field ${JSON.stringify(field)}`);
    this.object((field) => {
      if (field === 'dtype') dtype = dtype === undefined ? this.string() : duplicate(field);
      else if (field === 'shape') shape = shape === undefined ? this.integers() : duplicate(field);
      else if (field === 'data_offsets') offsets = offsets === undefined ? this.integers() : duplicate(field);
      else this.fail(`tensor ${JSON.stringify(name)}: unknown field ${JSON.stringify(field)}`);
    });
    if (dtype === undefined) this.fail(`tensor ${JSON.stringify(name)} has no dtype`);
    if (shape === undefined) this.fail(`tensor ${JSON.stringify(name)} has no shape`);
    if (offsets === undefined) this.fail(`tensor ${JSON.stringify(name)} has no data_offsets`);
    return { dtype, shape, offsets };
  }

  header(): { tensors: Map<string, { dtype: string; shape: number[]; offsets: number[] }>; metadata: Map<string, string> | undefined } {
    const tensors = new Map<string, { dtype: string; shape: number[]; offsets: number[] }>();
    let metadata: Map<string, string> | undefined;
    if (this.text[0] !== '{') this.fail("the header must start with '{'");
    this.object((name) => {
      if (name === '__metadata__') {
        if (metadata) this.fail('duplicate __metadata__');
        const m = new Map<string, string>();
        this.object((key) => {
          this.space();
          if (this.text[this.pos] !== '"') this.fail(`__metadata__ values must be strings (${JSON.stringify(key)} is not)`);
          if (m.has(key)) this.fail(`duplicate __metadata__ key ${JSON.stringify(key)}`);
          m.set(key, this.string());
        });
        metadata = m;
        return;
      }
      if (tensors.has(name)) this.fail(`duplicate tensor name ${JSON.stringify(name)}`);
      tensors.set(name, this.tensorInfo(name));
    });
    for (; this.pos < this.text.length; this.pos++) if (this.text[this.pos] !== ' ') this.fail('only spaces may follow the header');
    return { tensors, metadata };
  }
}

/** The byte size of `shape` elements of `dtype`, or a rejection naming `name`. */
function byteSize(name: string, dtype: string, shape: readonly number[]): number {
  const bits = DTYPE_BITS.get(dtype);
  if (bits === undefined) reject(`tensor ${JSON.stringify(name)} has the unknown dtype ${JSON.stringify(dtype)}`);
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n * bits)) reject(`tensor ${JSON.stringify(name)}: shape [${shape.join(', ')}] is too large`);
  }
  if ((n * bits) % 8 !== 0) reject(`tensor ${JSON.stringify(name)}: ${n} ${dtype} elements do not fill whole bytes`);
  return (n * bits) / 8;
}

/**
 * Parses and validates a safetensors file (any byte view: exactly its own bytes). Throws an
 * OptaxError saying what is wrong; reads nothing past the end.
 */
export function parseSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (!(bytes instanceof Uint8Array)) reject(`expected bytes (a Uint8Array or Buffer), got ${bytes === null ? 'null' : typeof bytes}`);
  if (bytes.length < 8) reject(`a file needs at least 8 bytes (the header length), got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const low = view.getUint32(0, true), high = view.getUint32(4, true);
  if (high !== 0 || low > MAX_HEADER_BYTES) reject(`the header length ${high * 2 ** 32 + low} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  const n = low;
  if (n > bytes.length - 8) reject(`the header length ${n} runs past the end of the file (${bytes.length} bytes)`);
  if (n === 0) reject("the header is empty (it must start with '{')");
  let text: string;
  try {
    text = utf8.decode(bytes.subarray(8, 8 + n));
  } catch {
    return reject('the header is not valid UTF-8');
  }
  const { tensors: raw, metadata } = new HeaderParser(text).header();
  const dataLength = bytes.length - 8 - n;
  const tensors = new Map<string, TensorInfo>();
  for (const [name, { dtype, shape, offsets }] of raw) {
    if (offsets.length !== 2) reject(`tensor ${JSON.stringify(name)}: data_offsets must be [begin, end]`);
    const [begin, end] = offsets;
    if (end < begin) reject(`tensor ${JSON.stringify(name)}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLength) reject(`tensor ${JSON.stringify(name)}: data_offsets [${begin}, ${end}] run past the data buffer (${dataLength} bytes)`);
    const size = byteSize(name, dtype, shape);
    if (end - begin !== size) reject(`tensor ${JSON.stringify(name)}: shape [${shape.join(', ')}] ${dtype} takes ${size} bytes, data_offsets [${begin}, ${end}] hold ${end - begin}`);
    tensors.set(name, { dtype, shape: Object.freeze(shape), begin, end });
  }
  // The offsets must tile the data buffer: sorted by (begin, end), each begins where the last ended.
  // Files written in order (as the reference writer does) need no sort.
  let ordered = true, last = 0;
  for (const t of tensors.values()) { if (t.begin !== last) { ordered = false; break; } last = t.end; }
  const sorted = ordered ? tensors : [...tensors].sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const [name, t] of sorted) {
    if (t.begin !== at) reject(t.begin < at ? `tensor ${JSON.stringify(name)} overlaps the tensor before it (data_offsets begin at ${t.begin}, expected ${at})` : `a hole in the data buffer before tensor ${JSON.stringify(name)} (bytes ${at} to ${t.begin} belong to no tensor)`);
    at = t.end;
  }
  if (at !== dataLength) reject(`the data buffer has ${dataLength} bytes but the tensors cover ${at}`);
  return { tensors, metadata, dataStart: 8 + n };
}

/**
 * Compares well-formed strings by their UTF-8 bytes (Rust's `String` order, which the reference
 * writer uses) without encoding them: UTF-8 byte order is code point order, which is UTF-16 code unit
 * order except that surrogates (code points above U+FFFF) sort after U+E000..U+FFFF. Allocates nothing.
 */
function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** True when `s` has no lone surrogate (it has a UTF-8 form). */
const wellFormed = (s: string): boolean => !/[\ud800-\udfff]/.test(s) || !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Copies a tensor's data into `out` at `at`. The reference layout aligns every tensor to its element
 * width, so a typed array is copied through a view of the same type: no byte view of the source is
 * made (that would move a small on-heap array off the heap, an allocation per leaf).
 */
function copyData(out: Uint8Array, at: number, dtype: string, data: TensorToWrite['data']): void {
  const aligned = LITTLE_ENDIAN && (out.byteOffset + at) % data.BYTES_PER_ELEMENT === 0;
  if (data instanceof Uint8Array) out.set(data, at);
  else if (aligned && dtype === 'F64' && data instanceof Float64Array) new Float64Array(out.buffer, out.byteOffset + at, data.length).set(data);
  else if (aligned && dtype === 'F32' && data instanceof Float32Array) new Float32Array(out.buffer, out.byteOffset + at, data.length).set(data);
  else if (aligned && dtype === 'I32' && data instanceof Int32Array) new Int32Array(out.buffer, out.byteOffset + at, data.length).set(data);
  else {
    const width = data.BYTES_PER_ELEMENT;
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    if (!LITTLE_ENDIAN) for (let i = at; i < at + data.byteLength; i += width) out.subarray(i, i + width).reverse();
  }
}

/**
 * Writes a safetensors file as the reference writer does: tensors ordered by dtype alignment (largest
 * first), then name; the header as compact JSON (`__metadata__` first, its keys sorted), padded with
 * spaces to a multiple of 8 bytes. Linear in the tensors but for the sort by name.
 */
export function writeSafetensors(tensors: readonly TensorToWrite[], metadata?: ReadonlyMap<string, string>): Uint8Array {
  const names = new Set<string>();
  // Tensors grouped by dtype rank (the reference order of dtypes), each group sorted by name below.
  const groups = new Map<number, TensorToWrite[]>();
  for (const t of tensors) {
    if (names.has(t.name)) reject(`two tensors are named ${JSON.stringify(t.name)}`);
    if (t.name === '__metadata__') reject('no tensor may be named __metadata__');
    if (!wellFormed(t.name)) reject(`tensor name ${JSON.stringify(t.name)} is not valid Unicode`);
    names.add(t.name);
    const size = byteSize(t.name, t.dtype, t.shape);
    if (size !== t.data.byteLength) reject(`tensor ${JSON.stringify(t.name)}: shape [${t.shape.join(', ')}] ${t.dtype} takes ${size} bytes, got ${t.data.byteLength}`);
    const rank = DTYPE_RANK.get(t.dtype)!;
    const group = groups.get(rank);
    if (group) group.push(t);
    else groups.set(rank, [t]);
  }
  const byName = (a: TensorToWrite, b: TensorToWrite): number => compareUtf8(a.name, b.name);
  const entries = [...groups.keys()].sort((a, b) => b - a).flatMap((rank) => groups.get(rank)!.sort(byName));
  const parts: string[] = [];
  if (metadata) {
    const keys = [...metadata.keys()].sort(compareUtf8);
    for (const k of keys) if (!wellFormed(k) || !wellFormed(metadata.get(k)!)) reject(`__metadata__ entry ${JSON.stringify(k)} is not valid Unicode`);
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata.get(k))}`).join(',')}}`);
  }
  let offset = 0;
  for (const e of entries) {
    parts.push(`${JSON.stringify(e.name)}:{"dtype":${JSON.stringify(e.dtype)},"shape":[${e.shape.join(',')}],"data_offsets":[${offset},${offset + e.data.byteLength}]}`);
    offset += e.data.byteLength;
  }
  const json = encodeUtf8(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  if (headerLength > MAX_HEADER_BYTES) reject(`the header would take ${headerLength} bytes, more than the format's limit of ${MAX_HEADER_BYTES}`);
  const total = 8 + headerLength + offset;
  let out: Uint8Array;
  try {
    out = new Uint8Array(total);
  } catch {
    return reject(`cannot allocate ${total} bytes for the file`);
  }
  new DataView(out.buffer).setUint32(0, headerLength, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const e of entries) { copyData(out, at, e.dtype, e.data); at += e.data.byteLength; }
  return out;
}

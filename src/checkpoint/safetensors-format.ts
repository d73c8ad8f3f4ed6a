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

/** The reference writer's order of dtypes (increasing alignment): it writes the largest first. */
const DTYPE_ORDER = [...DTYPE_BITS.keys()];

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
  /** Its little-endian bytes. */
  readonly bytes: Uint8Array;
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
      if (c >= 0xd800 && c <= 0xdfff) this.fail('invalid UTF-8'); // cannot happen after a fatal decode
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

  /** A non-negative integer without sign, fraction or exponent, at most 2^53 - 1. */
  private integer(): number {
    this.space();
    const m = /^(0|[1-9][0-9]{0,15})(?![0-9.eE])/.exec(this.text.slice(this.pos, this.pos + 18));
    if (!m) this.fail('expected a non-negative integer');
    const v = Number(m[1]);
    if (!Number.isSafeInteger(v)) this.fail('integer too large');
    this.pos += m[1].length;
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
    const fields = new Map<string, unknown>();
    this.object((field) => {
      if (fields.has(field)) this.fail(`tensor ${JSON.stringify(name)}: duplicate field ${JSON.stringify(field)}`);
      if (field === 'dtype') fields.set(field, this.string());
      else if (field === 'shape' || field === 'data_offsets') fields.set(field, this.integers());
      else this.fail(`tensor ${JSON.stringify(name)}: unknown field ${JSON.stringify(field)}`);
    });
    for (const f of ['dtype', 'shape', 'data_offsets']) if (!fields.has(f)) this.fail(`tensor ${JSON.stringify(name)} has no ${f}`);
    return { dtype: fields.get('dtype') as string, shape: fields.get('shape') as number[], offsets: fields.get('data_offsets') as number[] };
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
  const sorted = [...tensors].sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const [name, t] of sorted) {
    if (t.begin !== at) reject(t.begin < at ? `tensor ${JSON.stringify(name)} overlaps the tensor before it (data_offsets begin at ${t.begin}, expected ${at})` : `a hole in the data buffer before tensor ${JSON.stringify(name)} (bytes ${at} to ${t.begin} belong to no tensor)`);
    at = t.end;
  }
  if (at !== dataLength) reject(`the data buffer has ${dataLength} bytes but the tensors cover ${at}`);
  return { tensors, metadata, dataStart: 8 + n };
}

/** Compares strings by their UTF-8 bytes (Rust's `String` order, which the reference writer uses). */
function compareUtf8(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** True when `s` has no lone surrogate (it has a UTF-8 form). */
const wellFormed = (s: string): boolean => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

/**
 * Writes a safetensors file as the reference writer does: tensors ordered by dtype alignment (largest
 * first), then name; the header as compact JSON (`__metadata__` first, its keys sorted), padded with
 * spaces to a multiple of 8 bytes.
 */
export function writeSafetensors(tensors: readonly TensorToWrite[], metadata?: ReadonlyMap<string, string>): Uint8Array {
  const names = new Set<string>();
  const entries = tensors.map((t) => {
    if (names.has(t.name)) reject(`two tensors are named ${JSON.stringify(t.name)}`);
    if (t.name === '__metadata__') reject('no tensor may be named __metadata__');
    if (!wellFormed(t.name)) reject(`tensor name ${JSON.stringify(t.name)} is not valid Unicode`);
    names.add(t.name);
    const size = byteSize(t.name, t.dtype, t.shape);
    if (size !== t.bytes.length) reject(`tensor ${JSON.stringify(t.name)}: shape [${t.shape.join(', ')}] ${t.dtype} takes ${size} bytes, got ${t.bytes.length}`);
    return { ...t, key: encodeUtf8(t.name), rank: DTYPE_ORDER.indexOf(t.dtype) };
  });
  entries.sort((a, b) => b.rank - a.rank || compareUtf8(a.key, b.key));
  const parts: string[] = [];
  if (metadata) {
    const keys = [...metadata.keys()].sort((a, b) => compareUtf8(encodeUtf8(a), encodeUtf8(b)));
    for (const k of keys) if (!wellFormed(k) || !wellFormed(metadata.get(k)!)) reject(`__metadata__ entry ${JSON.stringify(k)} is not valid Unicode`);
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata.get(k))}`).join(',')}}`);
  }
  let offset = 0;
  for (const e of entries) {
    parts.push(`${JSON.stringify(e.name)}:{"dtype":${JSON.stringify(e.dtype)},"shape":[${e.shape.join(',')}],"data_offsets":[${offset},${offset + e.bytes.length}]}`);
    offset += e.bytes.length;
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
  for (const e of entries) { out.set(e.bytes, at); at += e.bytes.length; }
  return out;
}

import { OptaxError } from '../core/errors.js';
import { MAX_CHECKPOINT_DEPTH } from '../checkpoint/limits.js';
import type { PathEntry, TreePath } from '../tree/path.js';
import { type StateDict, StateDictArray } from './flax-state-dict.js';
import { setOwn } from '../tree/node.js';
import { ELEMENT_WIDTH, type ElementType, readElements, shapeSize } from './typed-bytes.js';

/**
 * A msgpack reader for exactly what flax writes (`flax.serialization.msgpack_serialize`): maps with
 * string keys, `nil`, native scalars, and arrays as extension 1 (`ndarray`) or 3 (`npscalar`), each
 * holding msgpack `[shape, dtype name, raw bytes]`. It is written for hostile input:
 * - every length is checked against the bytes left before anything is allocated (a map entry takes at
 *   least two bytes, a shape entry one), so memory stays linear in the input;
 * - nesting is bounded by {@link MAX_CHECKPOINT_DEPTH};
 * - duplicate keys, invalid UTF-8, trailing bytes, msgpack arrays in the tree (flax writes lists as
 *   dicts) and unknown dtypes are rejected;
 * - keys are defined as own properties, so a `__proto__` key is an ordinary key;
 * - array data is copied into fresh typed arrays (see typed-bytes.ts);
 * - every rejection is an OptaxError naming the path reached.
 *
 * @internal
 */

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Element types by numpy dtype name. */
const DTYPES: Readonly<Record<string, ElementType>> = { float32: 'float32', float64: 'float64', int32: 'int32', bool: 'bool' };

const EXT_NDARRAY = 1;
const EXT_NPSCALAR = 3;

class Reader {
  private pos: number;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, start: number, private readonly end: number, private readonly root: string) {
    this.pos = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(path: TreePath, what: string): never {
    throw new OptaxError(`flax msgpack: ${what} (at byte ${this.pos})`, path, this.root);
  }

  /** Checks that `n` more bytes exist. */
  need(n: number, path: TreePath, what: string): void {
    if (n > this.end - this.pos) this.fail(path, `truncated: ${what} needs ${n} bytes, ${this.end - this.pos} left`);
  }

  u8(path: TreePath): number { this.need(1, path, 'a type byte'); return this.bytes[this.pos++]; }
  private u16(path: TreePath): number { this.need(2, path, 'a length'); const v = this.view.getUint16(this.pos); this.pos += 2; return v; }
  private u32(path: TreePath): number { this.need(4, path, 'a length'); const v = this.view.getUint32(this.pos); this.pos += 4; return v; }

  atEnd(): boolean { return this.pos === this.end; }

  /** A msgpack integer (any width) as a number, when the tag is one; undefined for other tags. */
  private integer(tag: number, path: TreePath): number | undefined {
    if (tag <= 0x7f) return tag;
    if (tag >= 0xe0) return tag - 0x100;
    const widths: Record<number, number> = { 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8 };
    const w = widths[tag];
    if (w === undefined) return undefined;
    this.need(w, path, 'an integer');
    const v = this.view, p = this.pos;
    let value: number;
    switch (tag) {
      case 0xcc: value = v.getUint8(p); break;
      case 0xcd: value = v.getUint16(p); break;
      case 0xce: value = v.getUint32(p); break;
      case 0xcf: { const b = v.getBigUint64(p); if (b > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(path, `integer ${b} is too large`); value = Number(b); break; }
      case 0xd0: value = v.getInt8(p); break;
      case 0xd1: value = v.getInt16(p); break;
      case 0xd2: value = v.getInt32(p); break;
      default: { const b = v.getBigInt64(p); if (b > BigInt(Number.MAX_SAFE_INTEGER) || b < -BigInt(Number.MAX_SAFE_INTEGER)) this.fail(path, `integer ${b} is too large`); value = Number(b); }
    }
    this.pos += w;
    return value;
  }

  /** The length of a string or binary whose tag was read; undefined when `tag` is neither kind asked for. */
  private stringLength(tag: number, path: TreePath, kind: 'str' | 'bin'): number | undefined {
    if (kind === 'str') {
      if (tag >= 0xa0 && tag <= 0xbf) return tag & 0x1f;
      if (tag === 0xd9) return this.u8(path);
      if (tag === 0xda) return this.u16(path);
      if (tag === 0xdb) return this.u32(path);
    } else {
      if (tag === 0xc4) return this.u8(path);
      if (tag === 0xc5) return this.u16(path);
      if (tag === 0xc6) return this.u32(path);
    }
    return undefined;
  }

  /** A string (a dict key or a dtype name). */
  string(path: TreePath, what: string): string {
    const tag = this.u8(path);
    const n = this.stringLength(tag, path, 'str');
    if (n === undefined) this.fail(path, `${what} must be a string, got ${kindOf(tag)}`);
    this.need(n, path, what);
    let s: string;
    try {
      s = utf8.decode(this.bytes.subarray(this.pos, this.pos + n));
    } catch {
      return this.fail(path, `${what} is not valid UTF-8`);
    }
    this.pos += n;
    return s;
  }

  /** The length of a msgpack array whose tag is next. */
  arrayHeader(path: TreePath, what: string): number {
    const tag = this.u8(path);
    const n = tag >= 0x90 && tag <= 0x9f ? tag & 0x0f : tag === 0xdc ? this.u16(path) : tag === 0xdd ? this.u32(path) : undefined;
    if (n === undefined) this.fail(path, `${what} must be a msgpack array, got ${kindOf(tag)}`);
    return n;
  }

  /** A non-negative integer (a shape dimension). */
  dimension(path: TreePath): number {
    const tag = this.u8(path);
    const v = this.integer(tag, path);
    if (v === undefined || v < 0) this.fail(path, `a shape dimension must be a non-negative integer, got ${v ?? kindOf(tag)}`);
    return v;
  }

  /** The [offset, length] of a binary's bytes, skipping them. */
  binary(path: TreePath, what: string): [number, number] {
    const tag = this.u8(path);
    const n = this.stringLength(tag, path, 'bin');
    if (n === undefined) this.fail(path, `${what} must be msgpack binary, got ${kindOf(tag)}`);
    this.need(n, path, what);
    const at = this.pos;
    this.pos += n;
    return [at, n];
  }

  /** One node of the state dict. */
  node(path: PathEntry[], depth: number): StateDict {
    if (depth > MAX_CHECKPOINT_DEPTH) this.fail(path, `the tree is nested deeper than ${MAX_CHECKPOINT_DEPTH} levels`);
    const tag = this.u8(path);
    if (tag === 0xc0) return null;
    if (tag === 0xc2 || tag === 0xc3) return new StateDictArray('bool', [], new Uint8Array([tag === 0xc3 ? 1 : 0]));
    if (tag === 0xca) { this.need(4, path, 'a float32'); const v = this.view.getFloat32(this.pos); this.pos += 4; return new StateDictArray('float32', [], new Float32Array([v])); }
    if (tag === 0xcb) { this.need(8, path, 'a float64'); const v = this.view.getFloat64(this.pos); this.pos += 8; return new StateDictArray('float64', [], new Float64Array([v])); }
    const int = this.integer(tag, path);
    if (int !== undefined) {
      if (int < -0x80000000 || int > 0x7fffffff) this.fail(path, `integer ${int} is outside int32`);
      return new StateDictArray('int32', [], new Int32Array([int]));
    }
    const size = (tag & 0xf0) === 0x80 ? tag & 0x0f : tag === 0xde ? this.u16(path) : tag === 0xdf ? this.u32(path) : undefined;
    if (size !== undefined) return this.map(size, path, depth);
    const ext = this.extHeader(tag, path);
    if (ext) return this.ndarray(ext, path);
    return this.fail(path, `expected a dict, an array or None, got ${kindOf(tag)} (flax writes lists as dicts)`);
  }

  private map(size: number, path: PathEntry[], depth: number): StateDict {
    this.need(2 * size, path, `a dict of ${size} entries`);
    const out: Record<string, StateDict> = {};
    for (let i = 0; i < size; i++) {
      const key = this.string(path, 'a dict key');
      if (Object.hasOwn(out, key)) this.fail([...path, key], 'duplicate key');
      setOwn(out, key, this.node([...path, key], depth + 1));
    }
    return out;
  }

  /** The type and payload length of an extension, or undefined when `tag` is not one. */
  private extHeader(tag: number, path: TreePath): { type: number; length: number } | undefined {
    const fixed: Record<number, number> = { 0xd4: 1, 0xd5: 2, 0xd6: 4, 0xd7: 8, 0xd8: 16 };
    let length: number;
    if (tag in fixed) length = fixed[tag];
    else if (tag === 0xc7) length = this.u8(path);
    else if (tag === 0xc8) length = this.u16(path);
    else if (tag === 0xc9) length = this.u32(path);
    else return undefined;
    this.need(1, path, 'an extension type');
    const type = this.view.getInt8(this.pos++);
    this.need(length, path, `an extension of ${length} bytes`);
    return { type, length };
  }

  /** An ndarray extension: msgpack `[shape, dtype, bytes]`, copied into a fresh typed array. */
  private ndarray({ type, length }: { type: number; length: number }, path: TreePath): StateDictArray {
    if (type !== EXT_NDARRAY && type !== EXT_NPSCALAR) this.fail(path, `unsupported msgpack extension type ${type} (flax arrays are type 1, numpy scalars type 3)`);
    const end = this.pos + length;
    const inner = new Reader(this.bytes, this.pos, end, this.root);
    if (inner.arrayHeader(path, 'an array') !== 3) inner.fail(path, 'an array must be [shape, dtype, bytes]');
    const rank = inner.arrayHeader(path, 'a shape');
    inner.need(rank, path, `a shape of ${rank} dimensions`);
    const shape: number[] = [];
    for (let i = 0; i < rank; i++) shape.push(inner.dimension(path));
    const name = inner.string(path, 'a dtype name');
    if (!Object.hasOwn(DTYPES, name)) inner.fail(path, `unsupported dtype ${JSON.stringify(name)} (optax-ts reads float32, float64, int32 and bool)`);
    const dtype = DTYPES[name];
    const [at, byteLength] = inner.binary(path, 'the array data');
    if (!inner.atEnd()) inner.fail(path, 'unexpected bytes after the array data');
    if (type === EXT_NPSCALAR && rank !== 0) inner.fail(path, `a numpy scalar must have shape [], got [${shape.join(', ')}]`);
    const n = shapeSize(shape);
    if (n === undefined || n * ELEMENT_WIDTH[dtype] !== byteLength) {
      inner.fail(path, `an array of shape [${shape.join(', ')}] ${dtype} needs ${n === undefined ? 'too many' : n * ELEMENT_WIDTH[dtype]} bytes, the data has ${byteLength}`);
    }
    this.pos = end;
    return new StateDictArray(dtype, shape, readElements(this.bytes, at, dtype, n!, path, this.root));
  }
}

/** What a msgpack tag starts, for error messages. */
function kindOf(tag: number): string {
  if (tag <= 0x7f || tag >= 0xe0 || (tag >= 0xcc && tag <= 0xd3)) return 'an integer';
  if ((tag & 0xf0) === 0x80 || tag === 0xde || tag === 0xdf) return 'a dict';
  if ((tag & 0xf0) === 0x90 || tag === 0xdc || tag === 0xdd) return 'a msgpack array';
  if ((tag & 0xe0) === 0xa0 || (tag >= 0xd9 && tag <= 0xdb)) return 'a string';
  if (tag >= 0xc4 && tag <= 0xc6) return 'binary';
  if (tag === 0xc0) return 'nil';
  if (tag === 0xc2 || tag === 0xc3) return 'a boolean';
  if (tag === 0xca || tag === 0xcb) return 'a float';
  if ((tag >= 0xc7 && tag <= 0xc9) || (tag >= 0xd4 && tag <= 0xd8)) return 'an extension';
  return `the unused msgpack tag 0x${tag.toString(16)}`;
}

/** Decodes flax msgpack bytes (any byte view: exactly its own bytes) to a state dict. */
export function readFlaxMsgpack(bytes: Uint8Array, root = 'state'): StateDict {
  if (!(bytes instanceof Uint8Array)) throw new OptaxError(`flax msgpack: expected bytes (a Uint8Array or Buffer), got ${bytes === null ? 'null' : typeof bytes}`);
  const reader = new Reader(bytes, 0, bytes.length, root);
  const tree = reader.node([], 0);
  if (!reader.atEnd()) reader.fail([], 'unexpected bytes after the state dict');
  return tree;
}

/**
 * Regression tests for flax msgpack checkpoints (issue 8 items 1, 3, 6, 9, 10, 11): byte views, strict
 * restore, float64 hyperparameters, bounded decoding, OptaxErrors naming the path, no wrapped counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encoder, ExtData } from '@msgpack/msgpack';
import { setMaxChunkBytesForTesting } from '../../src/interop/flax-chunks.js';
import {
  MAX_CHECKPOINT_DEPTH, OptaxError, ShapedArray, StateDictArray, adamax, decodeFlaxStateDict, encodeFlaxStateDict, fromFlaxBytes, fromFlaxStateDict,
  injectHyperparams, toFlaxBytes, toFlaxStateDict,
} from '../../src/index.js';

const isOptaxError = (pattern: RegExp) => (e: unknown) => e instanceof OptaxError && pattern.test(e.message);

function trainedAdamax(params: Record<string, Float32Array | ShapedArray>) {
  const tx = adamax(0.01);
  const grads = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v instanceof ShapedArray ? new ShapedArray(v.data.map((_, i) => i - 1.5) as Float32Array, v.shape) : v.map((_, i) => i + 0.5)]));
  const [, state] = tx.update(grads, tx.init(params), params);
  return { tx, state };
}

test('fromFlaxBytes reads fs.readFileSync output, and a pooled Buffer decodes only its own bytes', () => {
  const { tx, state } = trainedAdamax({ w: new Float32Array([1, 2, 3]) });
  const bytes = toFlaxBytes(state);
  const dir = mkdtempSync(join(tmpdir(), 'optax-flax-'));
  try {
    writeFileSync(join(dir, 'state.msgpack'), bytes);
    const restored = fromFlaxBytes(tx.init({ w: new Float32Array(3) }), readFileSync(join(dir, 'state.msgpack')));
    assert.deepEqual(toFlaxBytes(restored), bytes);
  } finally {
    rmSync(dir, { recursive: true });
  }
  // Small Buffers share one pool: put a secret right next to the checkpoint in it.
  const secret = Buffer.from('SECRET-api-key-0123456789');
  const pooled = Buffer.from(bytes);
  assert.ok(pooled.buffer.byteLength > pooled.length, 'the Buffer comes from the shared pool');
  void secret;
  const decoded = decodeFlaxStateDict(pooled) as any;
  assert.equal(decoded['0'].mu.w.data.buffer.byteLength, 12);
  const again = toFlaxBytes(fromFlaxBytes(tx.init({ w: new Float32Array(3) }), pooled));
  assert.deepEqual(again, bytes);
  assert.ok(!Buffer.from(again).includes('SECRET'));
});

test('a view at an odd offset decodes exactly its bytes, into fresh aligned arrays', () => {
  const { tx, state } = trainedAdamax({ w: new Float32Array([1, -2]), v: new ShapedArray(new Float32Array(6), [3, 2]) });
  const bytes = toFlaxBytes(state);
  const padded = new Uint8Array(bytes.length + 10).fill(0xc1); // 0xc1 is never valid msgpack
  padded.set(bytes, 3);
  const view = padded.subarray(3, 3 + bytes.length);
  const restored = fromFlaxBytes(tx.init({ w: new Float32Array(2), v: new ShapedArray(new Float32Array(6), [3, 2]) }), view);
  assert.deepEqual(toFlaxBytes(restored), bytes);
  const mu = restored[0].mu as any;
  assert.equal(mu.w.byteOffset, 0);
  assert.equal(mu.w.buffer.byteLength, 8);
  padded.fill(0); // the restored state does not share the input's memory
  assert.deepEqual(toFlaxBytes(restored), bytes);
  assert.throws(() => fromFlaxBytes(tx.init({ w: new Float32Array(2), v: new ShapedArray(new Float32Array(6), [3, 2]) }), padded.subarray(3, 4 + bytes.length)), isOptaxError(/unexpected bytes after the state dict/));
});

test('restore checks the whole shape: a [3,2] leaf does not restore into [2,3]', () => {
  const { state } = trainedAdamax({ w: new ShapedArray(new Float32Array(6), [3, 2]) });
  const template = adamax(0.01).init({ w: new ShapedArray(new Float32Array(6), [2, 3]) });
  assert.throws(() => fromFlaxBytes(template, toFlaxBytes(state)), isOptaxError(/^state\[0\]\.mu\.w: .*expected shape \[2, 3\], got \[3, 2\]/));
  const flat = adamax(0.01).init({ w: new Float32Array(6) });
  assert.throws(() => fromFlaxBytes(flat, toFlaxBytes(state)), isOptaxError(/expected shape \[6\], got \[3, 2\]/));
});

test('restore rejects counts that are not non-negative int32 (NaN, -2.5, 1e10, true) and flags that are not bools', () => {
  const template = adamax(0.01).init({ w: new Float32Array(1) });
  const good = toFlaxStateDict(template) as any;
  const withCount = (count: StateDictArray) => ({ ...good, 0: { ...good[0], count } });
  const bad = [
    new StateDictArray('float32', [], new Float32Array([NaN])),
    new StateDictArray('float64', [], new Float64Array([-2.5])),
    new StateDictArray('float64', [], new Float64Array([1e10])),
    new StateDictArray('bool', [], new Uint8Array([1])),
    new StateDictArray('int32', [], new Int32Array([-1])),
    new StateDictArray('int32', [1], new Int32Array([3])),
  ];
  for (const count of bad) assert.throws(() => fromFlaxStateDict(template, withCount(count)), isOptaxError(/^state\[0\]\.count: /), `${count.dtype} ${count.data[0]}`);
  // The same as native msgpack values in the bytes.
  for (const count of [NaN, -2.5, 1e10, true, -1, 2 ** 31]) {
    const raw = new Encoder().encode({ 0: { count, mu: null, nu: null }, 1: {} });
    // (1e10 and 2^31 are rejected while decoding, where the path is still the dict key "0".)
    assert.throws(() => fromFlaxBytes(template, raw), isOptaxError(/^state(\[0\]|\["0"\])\.count: /), String(count));
  }
  const finite = { ...toFlaxStateDict({ notfinite_count: 0, last_finite: true, total_notfinite: 0, inner_state: null }) as any };
  assert.throws(() => fromFlaxStateDict({ notfinite_count: 0, last_finite: true, total_notfinite: 0, inner_state: null }, { ...finite, last_finite: new StateDictArray('bool', [], new Uint8Array([2])) }), isOptaxError(/^state\.last_finite: .*expected a bool/));
});

test('float64 injectHyperparams states keep float64 hyperparameters through flax bytes', () => {
  const tx = injectHyperparams(adamax)(0.01, { b1: 0.9 });
  const params = { w: new Float64Array([1, 2]) };
  const [, state] = tx.update({ w: new Float64Array([0.5, -1]) }, tx.init(params), params);
  assert.equal(state.hyperparams.learning_rate, 0.01);
  const bytes = toFlaxBytes(state);
  const sd = decodeFlaxStateDict(bytes) as any;
  assert.equal(sd.hyperparams.learning_rate.dtype, 'float64');
  assert.equal(sd.hyperparams.learning_rate.data[0], 0.01);
  const restored = fromFlaxBytes(tx.init(params), bytes);
  assert.equal(restored.hyperparams.learning_rate, 0.01);
  assert.equal(restored.hyperparams.b1, 0.9);
  // float32 states still write float32 hyperparameters, as flax does in JAX's default mode.
  const tx32 = injectHyperparams(adamax)(0.01);
  const sd32 = decodeFlaxStateDict(toFlaxBytes(tx32.init({ w: new Float32Array(1) }))) as any;
  assert.equal(sd32.hyperparams.learning_rate.dtype, 'float32');
});

test('toFlaxBytes never wraps a count: 2^31+5, NaN, -1 and 1.5 are OptaxErrors naming the path', () => {
  const state = adamax(0.01).init({ w: new Float32Array(1) });
  for (const count of [2 ** 31 + 5, NaN, -1, 1.5, Infinity]) {
    assert.throws(() => toFlaxBytes([{ ...state[0], count }, state[1]]), isOptaxError(/^state\[0\]\.count: a step count must be a non-negative int32/), String(count));
  }
  assert.throws(() => toFlaxBytes({ notfinite_count: 0, last_finite: 1, total_notfinite: 0, inner_state: null }), isOptaxError(/^state\.last_finite: expected a boolean/));
});

test('decoding is bounded: 10 MB of nested msgpack arrays, deep dicts, huge declared sizes', () => {
  const nested = new Uint8Array(10_000_000).fill(0x91); // [[[[...
  assert.throws(() => decodeFlaxStateDict(nested), isOptaxError(/flax writes lists as dicts/));
  const wide = new Uint8Array(10_000_005).fill(0x90);
  wide.set([0xdd, 0x00, 0x98, 0x96, 0x80]); // array32 of 10,000,000 empty arrays
  assert.throws(() => decodeFlaxStateDict(wide), isOptaxError(/flax writes lists as dicts/));
  // A dict of 10^7 declared entries in 10 bytes: rejected before anything is allocated.
  assert.throws(() => decodeFlaxStateDict(Uint8Array.from([0xdf, 0x00, 0x98, 0x96, 0x80, 0xa1, 0x61, 0xc0])), isOptaxError(/truncated: a dict of 10000000 entries/));
  // Dicts nested past the limit.
  const deep: number[] = [];
  for (let i = 0; i <= MAX_CHECKPOINT_DEPTH + 1; i++) deep.push(0x81, 0xa1, 0x61);
  deep.push(0xc0);
  assert.throws(() => decodeFlaxStateDict(Uint8Array.from(deep)), isOptaxError(/^state(\.a)+(\.\.\.\(\d+ more\)\.\.\.(\.a)+)?: flax msgpack: the tree is nested deeper than 576 levels/));
  // An ndarray whose shape claims 2^40 elements.
  const ext = new Encoder().encode([[2 ** 20, 2 ** 20], 'float32', new Uint8Array(4)]);
  const bytes = Uint8Array.from([0x81, 0xa1, 0x77, 0xc7, ext.length, 1, ...ext]);
  assert.throws(() => decodeFlaxStateDict(bytes), isOptaxError(/^state\.w: flax msgpack: an array of shape \[1048576, 1048576\] float32 needs 4398046511104 bytes, the data has 4/));
});

test('trees deeper than the limit are OptaxErrors both ways (no stack overflow)', () => {
  let tree: any = new Float32Array(1);
  for (let i = 0; i < 3000; i++) tree = { a: tree };
  assert.throws(() => toFlaxBytes(tree), isOptaxError(/nested deeper than 576 levels/));
  assert.throws(() => fromFlaxBytes(tree, new Uint8Array([0xc0])), isOptaxError(/nested deeper than 576 levels|expected/));
  const cyclic: any = { a: null };
  cyclic.a = cyclic;
  assert.throws(() => toFlaxBytes(cyclic), isOptaxError(/nested deeper/));
});

test('80,000 leaves in one dict restore (keys are matched in linear time)', () => {
  const params: Record<string, Float32Array> = {};
  for (let i = 0; i < 80_000; i++) params[`p${i}`] = new Float32Array([i]);
  const tx = adamax(0.01);
  const state = tx.init(params);
  const bytes = toFlaxBytes(state);
  const restored = fromFlaxBytes(state, bytes);
  assert.equal((restored[0].mu as any).p79999.length, 1);
});

test('__proto__, constructor and toString keys are ordinary keys', () => {
  const tree = Object.fromEntries([['__proto__', new Float32Array([1])], ['constructor', new Float32Array([2])]]);
  const bytes = toFlaxBytes(tree);
  const back = fromFlaxBytes(tree, bytes) as any;
  assert.ok(Object.hasOwn(back, '__proto__'));
  assert.deepEqual(Array.from(back.__proto__ as Float32Array), [1]);
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
  assert.throws(() => fromFlaxBytes({ toString: new Float32Array(1) }, toFlaxBytes({ w: new Float32Array(1) })), isOptaxError(/missing key\(s\) toString; unexpected key\(s\) w/));
});

test("arrays over flax's chunk size are written and read as flax's chunked arrays", () => {
  // flax's own test (test_serialization_chunking) with MAX_CHUNK_SIZE = 91 * 8: a 10x10 float64 array
  // becomes chunks of 91 and 9 elements.
  setMaxChunkBytesForTesting(91 * 8);
  try {
    const tree = { a: new ShapedArray(new Float64Array(100).map((_, i) => i), [10, 10]) };
    const sd = toFlaxStateDict(tree) as any;
    assert.deepEqual(Object.keys(sd.a), ['__msgpack_chunked_array__', 'shape', 'chunks']);
    assert.equal(sd.a.__msgpack_chunked_array__, true);
    assert.deepEqual(sd.a.shape, { 0: 10, 1: 10 });
    assert.deepEqual([sd.a.chunks[0].shape, sd.a.chunks[1].shape], [[91], [9]]);
    const bytes = toFlaxBytes(tree);
    // The bytes flax writes: the flag and dimensions native, each chunk an ndarray extension.
    const ext = (data: Float64Array) => new ExtData(1, new Encoder().encode([[data.length], 'float64', new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]));
    const flax = new Encoder().encode({ a: { __msgpack_chunked_array__: true, shape: { 0: 10, 1: 10 }, chunks: { 0: ext(tree.a.data.subarray(0, 91)), 1: ext(tree.a.data.subarray(91)) } } });
    assert.deepEqual(bytes, flax);
    const back = fromFlaxBytes({ a: new ShapedArray(new Float64Array(100), [10, 10]) }, bytes);
    assert.deepEqual(back.a.data, tree.a.data);
    assert.deepEqual(back.a.shape, [10, 10]);
    // A chunked array whose chunks do not fill its shape, or whose flag is not True, is rejected.
    const short = new Encoder().encode({ a: { __msgpack_chunked_array__: true, shape: { 0: 10, 1: 10 }, chunks: { 0: ext(tree.a.data.subarray(0, 91)) } } });
    assert.throws(() => fromFlaxBytes({ a: new ShapedArray(new Float64Array(100), [10, 10]) }, short), isOptaxError(/^state\.a: .*chunks of 91 elements in all do not fill shape \[10, 10\]/));
    const unflagged = new Encoder().encode({ a: { __msgpack_chunked_array__: 1, shape: { 0: 100 }, chunks: { 0: ext(tree.a.data) } } });
    assert.throws(() => fromFlaxBytes({ a: new Float64Array(100) }, unflagged), isOptaxError(/__msgpack_chunked_array__ must be True/));
  } finally {
    setMaxChunkBytesForTesting(undefined);
  }
  assert.equal((toFlaxStateDict({ a: new Float64Array(100) }) as any).a.shape[0], 100);
});

test('a StateDictArray is checked when made and cannot be forged or edited afterwards', () => {
  assert.throws(() => new StateDictArray('float32', [2], new Float32Array(3)), isOptaxError(/shape \[2\] holds 2 elements, the data has 3/));
  assert.throws(() => new StateDictArray('int32', [], new Float32Array(1)), isOptaxError(/int32 data must be held in Int32Array, got Float32Array/));
  const real = new StateDictArray('float32', [1], new Float32Array([1]));
  assert.throws(() => { (real as any).shape = [5]; }, TypeError); // frozen (strict mode)
  const forged = Object.assign(Object.create(StateDictArray.prototype), { dtype: 'float32', shape: [2], data: [1, 2] });
  assert.throws(() => fromFlaxStateDict({ w: new Float32Array(2) }, { w: forged }), isOptaxError(/^state\.w: state dict does not fit the state: expected an array, got StateDictArray/));
  assert.throws(() => encodeFlaxStateDict({ w: forged }), isOptaxError(/^state\.w: a state dict holds dicts, StateDictArray leaves and null/));
});

/**
 * safetensors checkpoints of many small leaves: time grows linearly with the leaves (issue 8 item 9),
 * and the writer's shortcuts (names ordered without encoding them, data copied through typed views)
 * keep the reference writer's byte layout.
 *
 * The scaling check is a ratio, not a time limit: the same process encodes and decodes trees of 4k
 * and 32k tensors (8x) and the CPU time must grow by less than 16x. A quadratic step (a per-tensor scan
 * of all tensors, header strings rebuilt per tensor) gives 64x; noise from a loaded machine is absorbed
 * by taking the best of a few runs of each size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adamax, fromSafetensors, toSafetensors } from '../../src/index.js';
import { parseSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors-format.js';

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** Params of `n` leaves of 3 float32 elements each, with adamax state: 3n + 1 tensors. */
function checkpointOf(n: number) {
  const params: Record<string, Float32Array> = {};
  for (let i = 0; i < n; i++) params[`layer${i}`] = new Float32Array([i, i + 1, i + 2]);
  const tx = adamax(0.01);
  return { checkpoint: { params, state: tx.init(params) }, template: { params, state: tx.init(params) } };
}

/** The best CPU time of `runs` round trips (encode, then decode) of `n` leaves. */
function roundTripMs(n: number, runs: number): number {
  const { checkpoint, template } = checkpointOf(n);
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const start = cpuMs();
    const back = fromSafetensors(template, toSafetensors(checkpoint));
    best = Math.min(best, cpuMs() - start);
    assert.equal((back.params[`layer${n - 1}`] as Float32Array)[2], n + 1);
  }
  return best;
}

test('encoding and decoding take time linear in the number of leaves', () => {
  roundTripMs(1000, 2); // warm up the JIT
  const small = roundTripMs(1333, 5); // 4,000 tensors
  const large = roundTripMs(10_667, 2); // 32,002 tensors
  const ratio = large / Math.max(small, 1);
  assert.ok(ratio < 16, `8x the leaves took ${ratio.toFixed(1)}x the time (${small.toFixed(0)} ms vs ${large.toFixed(0)} ms)`);
});

test('names are ordered by their UTF-8 bytes, as the reference writer orders them', () => {
  // UTF-16 order puts U+10000 (a surrogate pair) before U+E000; UTF-8 (and code point) order after.
  const names = ['b', 'a', '\u{10000}', '\uE000', 'é', 'a\u{1F600}', 'a\uFFFF', 'ab'];
  const tensors = names.map((name) => ({ name, dtype: 'F32', shape: [1], data: new Float32Array([1]) }));
  const bytes = writeSafetensors(tensors);
  const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const utf8 = new TextEncoder();
  const byBytes = [...names].sort((a, b) => Buffer.compare(Buffer.from(utf8.encode(a)), Buffer.from(utf8.encode(b))));
  assert.deepEqual(Object.keys(header), byBytes);
  assert.deepEqual(byBytes.map((name) => header[name].data_offsets[0]), byBytes.map((_, i) => 4 * i));
  // Names beyond U+FFFF (surrogate pairs in JavaScript) are read back.
  assert.deepEqual([...parseSafetensors(bytes).tensors.keys()], byBytes);
});

test('typed arrays and their bytes are written alike, at any dtype', () => {
  const f64 = new Float64Array([1.5, -2]), f32 = new Float32Array([0.25]), i32 = new Int32Array([7, -1]), bool = new Uint8Array([1, 0]);
  const asBytes = (a: Float64Array | Float32Array | Int32Array | Uint8Array) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  const spec = [
    { name: 'f32', dtype: 'F32', shape: [1], data: f32 },
    { name: 'bool', dtype: 'BOOL', shape: [2], data: bool },
    { name: 'f64', dtype: 'F64', shape: [2], data: f64 },
    { name: 'i32', dtype: 'I32', shape: [2], data: i32 },
  ];
  const typed = writeSafetensors(spec);
  const raw = writeSafetensors(spec.map((t) => ({ ...t, data: asBytes(t.data) })));
  assert.deepEqual(typed, raw);
  // A typed array of another dtype than the tensor's is written as its bytes (the sizes agree).
  assert.deepEqual(writeSafetensors([{ name: 'x', dtype: 'I32', shape: [1], data: f32 }]), writeSafetensors([{ name: 'x', dtype: 'I32', shape: [1], data: asBytes(f32) }]));
});

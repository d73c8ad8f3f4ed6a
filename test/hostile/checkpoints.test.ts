/**
 * Hostile checkpoints, both codecs (safetensors and flax msgpack), property-based: truncated files,
 * flipped bytes, oversized declared lengths, header lies (offsets, shapes, dtypes, names), `__proto__`
 * names. Every rejection is an OptaxError (never a RangeError, TypeError or a decoder's own error),
 * nothing passed in changes, and nothing huge is allocated: a file that declares gigabytes in a few
 * bytes is rejected before any allocation (an attempted allocation would surface as a RangeError).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MultiSteps, OptaxError, adamax, applyIfFinite, fromFlaxBytes, fromSafetensors, injectHyperparams, toFlaxBytes, toSafetensors,
} from '../../src/index.js';

const RUNS = 100;

const optimizers = [
  () => adamax(0.01),
  () => injectHyperparams(adamax)(0.01),
  () => applyIfFinite(adamax(0.01), { maxConsecutiveErrors: 2 }),
  () => new MultiSteps(adamax(0.01), { everyKSchedule: 2 }).gradientTransformation(),
];

const leaf = fc.oneof(
  fc.array(fc.float({ noNaN: false }), { maxLength: 3 }).map((v) => Float32Array.from(v)),
  fc.array(fc.double(), { maxLength: 2 }).map((v) => Float64Array.from(v)),
);
const params = fc.uniqueArray(fc.tuple(fc.constantFrom('w', 'b', '__proto__', 'constructor', 'a.b', '~x', 'é'), leaf), { minLength: 1, maxLength: 3, selector: ([k]) => k })
  .map((entries) => Object.fromEntries(entries) as Record<string, Float32Array | Float64Array>);

/** A trained checkpoint and a fresh template of the same layout. */
const checkpoint = fc.tuple(params, fc.integer({ min: 0, max: optimizers.length - 1 }), fc.integer({ min: 0, max: 3 })).map(([p, which, steps]) => {
  const tx = optimizers[which]() as any;
  let state = tx.init(p);
  for (let k = 0; k < steps; k++) state = tx.update(Object.fromEntries(Object.entries(p).map(([key, v]) => [key, v.map((x, i) => i - k + 0.5)])), state, p)[1];
  const template = () => ({ params: Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.slice()])), state: tx.init(p) });
  return { params: p, state, template };
});

type Codec = { name: string; write: (c: { params: unknown; state: unknown }) => Uint8Array; read: (template: { params: unknown; state: unknown }, bytes: Uint8Array) => unknown };
const codecs: Codec[] = [
  { name: 'safetensors', write: (c) => toSafetensors(c), read: (t, b) => fromSafetensors(t, b) },
  { name: 'flax msgpack', write: (c) => toFlaxBytes(c), read: (t, b) => fromFlaxBytes(t, b) },
];

/** Reads hostile bytes: success, or an OptaxError; the bytes and the template are unchanged either way. */
function readHostile(codec: Codec, template: { params: unknown; state: unknown }, bytes: Uint8Array): 'ok' | 'rejected' {
  const bytesBefore = bytes.slice();
  const templateBefore = toSafetensors(template);
  let outcome: 'ok' | 'rejected';
  try {
    codec.read(template, bytes);
    outcome = 'ok';
  } catch (e) {
    if (!(e instanceof OptaxError)) throw new Error(`${codec.name}: a rejection that is not an OptaxError: ${String(e)}`);
    outcome = 'rejected';
  }
  assert.deepEqual(bytes, bytesBefore, 'the bytes changed');
  assert.deepEqual(toSafetensors(template), templateBefore, 'the template changed');
  return outcome;
}

for (const codec of codecs) {
  test(`${codec.name}: valid checkpoints round-trip; every strict prefix is rejected with an OptaxError`, () => {
    fc.assert(fc.property(checkpoint, fc.nat(), ({ params: p, state, template }, cut) => {
      const bytes = codec.write({ params: p, state });
      const back = codec.read(template(), bytes) as { params: unknown; state: unknown };
      assert.deepEqual(codec.write(back), bytes);
      assert.equal(readHostile(codec, template(), bytes.subarray(0, cut % bytes.length)), 'rejected');
    }), { numRuns: RUNS });
  });

  test(`${codec.name}: flipped bytes are read or rejected with an OptaxError, never anything else`, () => {
    fc.assert(fc.property(checkpoint, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), ({ params: p, state, template }, flips) => {
      const bytes = codec.write({ params: p, state }).slice();
      for (const [at, x] of flips) bytes[at % bytes.length] ^= x;
      readHostile(codec, template(), bytes);
    }), { numRuns: RUNS });
  });

  test(`${codec.name}: garbage, and bytes appended to a valid file, are rejected`, () => {
    fc.assert(fc.property(checkpoint, fc.uint8Array({ minLength: 1, maxLength: 64 }), ({ params: p, state, template }, junk) => {
      readHostile(codec, template(), junk);
      const bytes = codec.write({ params: p, state });
      assert.equal(readHostile(codec, template(), Uint8Array.from([...bytes, ...junk])), 'rejected');
    }), { numRuns: RUNS });
  });
}

test('safetensors: header lies (offsets, shapes, dtypes, names, sizes) are rejected or read consistently', () => {
  const lie = fc.oneof(
    fc.record({ kind: fc.constant('offset' as const), delta: fc.integer({ min: -9, max: 9 }).filter((d) => d !== 0), which: fc.constantFrom(0, 1) }),
    fc.record({ kind: fc.constant('shape' as const), shape: fc.array(fc.oneof(fc.nat({ max: 5 }), fc.constant(2 ** 40), fc.constant(-1), fc.constant(1.5)), { maxLength: 3 }) }),
    fc.record({ kind: fc.constant('dtype' as const), dtype: fc.constantFrom('F16', 'BF16', 'I64', 'U8', 'BOOL', 'F64', 'I32', 'F32', 'F4', 'f32', '', 'C64') }),
    fc.record({ kind: fc.constant('name' as const), name: fc.constantFrom('__proto__', 'constructor', '__metadata__', 'params.w', '', 'state.0.count') }),
    fc.record({ kind: fc.constant('length' as const), length: fc.oneof(fc.constant(2 ** 32 + 8), fc.constant(2 ** 53), fc.nat({ max: 1_000_000_000 })) }),
  );
  fc.assert(fc.property(checkpoint, lie, fc.nat(), ({ params: p, state, template }, l, pick) => {
    const bytes = toSafetensors({ params: p, state });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const n = view.getUint32(0, true);
    if (l.kind === 'length') {
      const out = bytes.slice();
      const dv = new DataView(out.buffer);
      dv.setUint32(0, l.length % 2 ** 32, true);
      dv.setUint32(4, Math.floor(l.length / 2 ** 32), true);
      readHostile(codecs[0], template(), out);
      return;
    }
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const name = names[pick % names.length];
    const entry = header[name];
    if (l.kind === 'offset') entry.data_offsets[l.which] += l.delta;
    if (l.kind === 'shape') entry.shape = l.shape;
    if (l.kind === 'dtype') entry.dtype = l.dtype;
    let json = JSON.stringify(header);
    if (l.kind === 'name') json = json.replace(JSON.stringify(name), JSON.stringify(l.name));
    const text = new TextEncoder().encode(json);
    const out = new Uint8Array(8 + text.length + bytes.length - 8 - n);
    new DataView(out.buffer).setUint32(0, text.length, true);
    out.set(text, 8);
    out.set(bytes.subarray(8 + n), 8 + text.length);
    readHostile(codecs[0], template(), out);
  }), { numRuns: 2 * RUNS });
});

test('flax msgpack: declared sizes far beyond the input are rejected before anything is allocated', () => {
  const headers = [
    [0xdf, 0xff, 0xff, 0xff, 0xff], // map32 of 2^32-1 entries
    [0x81, 0xa1, 0x77, 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], // ext32 of 4 GiB
    [0x81, 0xa1, 0x77, 0xc7, 0x08, 0x01, 0x93, 0x91, 0xce, 0xff, 0xff, 0xff, 0xff, 0xa7], // shape [2^32-1], then truncated
    [0x81, 0xdb, 0xff, 0xff, 0xff, 0xff], // a key of 4 GiB
  ];
  fc.assert(fc.property(fc.constantFrom(...headers), fc.uint8Array({ maxLength: 32 }), (head, tail) => {
    const p = { w: new Float32Array(1) };
    readHostile(codecs[1], { params: p, state: adamax(0.01).init(p) }, Uint8Array.from([...head, ...tail]));
  }), { numRuns: RUNS });
});

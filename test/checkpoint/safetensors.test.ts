/**
 * safetensors checkpoints: every kind of state round-trips (nulls, lists, shapes, float64
 * hyperparameters, flags), the bytes follow the specification (checked by an independent stdlib-only
 * Python reader when python3 exists), files without optax-ts metadata are read by name, and each
 * rule of the format is enforced with a clear OptaxError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MultiSteps, OptaxError, ShapedArray, adamax, applyIfFinite, chain, clipByGlobalNorm, fromSafetensors, injectHyperparams, masked,
  partition, safetensorsMetadata, toSafetensors, linearSchedule,
} from '../../src/index.js';
import { writeSafetensors } from '../../src/checkpoint/safetensors-format.js';

const isOptaxError = (pattern: RegExp) => (e: unknown) => e instanceof OptaxError && pattern.test(e.message);

function header(bytes: Uint8Array): any {
  const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
}

/** A file with the given header object (as JSON) and data bytes. */
function fileWith(headerJson: string, data: Uint8Array = new Uint8Array(0), pad = true): Uint8Array {
  let json = new TextEncoder().encode(headerJson);
  if (pad && json.length % 8) json = Uint8Array.from([...json, ...new Array(8 - (json.length % 8)).fill(0x20)]);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function params() {
  return { dense: { w: new ShapedArray(Float32Array.from([1, -2, 3, -4, 5, -6]), [3, 2]), b: new Float64Array([0.25, -0.5]) }, frozen: null, list: [new Float32Array([7]), null] };
}
const grads = (k: number) => ({ dense: { w: new ShapedArray(Float32Array.from([1, 2, 3, 4, 5, 6], (v) => Math.sin(v + k)), [3, 2]), b: new Float64Array([Math.cos(k), k === 2 ? NaN : 1]) }, frozen: null, list: [new Float32Array([k]), null] });

test('every kind of state round-trips and resumes bit-identically (nulls, lists, shapes, float64 hyperparameters, flags)', () => {
  const labels = { dense: { w: 'a', b: 'b' }, frozen: null, list: ['a', null] };
  const optimizers = {
    inject: injectHyperparams(adamax)(linearSchedule({ initValue: 0.1, endValue: 0.01, transitionSteps: 4 }), { b1: 0.8 }),
    multiSteps: new MultiSteps(adamax(0.01), { everyKSchedule: 2 }).gradientTransformation(),
    finite: applyIfFinite(chain(clipByGlobalNorm(1), adamax(0.01)), { maxConsecutiveErrors: 3 }),
    partition: partition({ a: adamax(0.01), b: adamax(0.1) }, labels as never),
    masked: masked(adamax(0.1), { dense: { w: false, b: true }, frozen: null, list: [true, null] } as never),
  };
  for (const [name, tx] of Object.entries(optimizers) as [string, any][]) {
    let p: any = params();
    let state = tx.init(p);
    for (let k = 0; k < 3; k++) {
      const [u, s] = tx.update(grads(k), state, p);
      state = s;
      p = Object.assign({}, p, { dense: { w: new ShapedArray(p.dense.w.data.map((v: number, i: number) => v + u.dense.w.data[i]), [3, 2]), b: p.dense.b.map((v: number, i: number) => v + u.dense.b[i]) } });
    }
    const bytes = toSafetensors({ params: p, state });
    const back = fromSafetensors({ params: params(), state: tx.init(params()) }, bytes);
    assert.deepEqual(toSafetensors(back), bytes, name);
    const [ua, sa] = tx.update(grads(5), state, p);
    const [ub, sb] = tx.update(grads(5), back.state, back.params);
    assert.deepEqual(toSafetensors({ params: ua, state: sa }), toSafetensors({ params: ub, state: sb }), name);
  }
  // Types by tensor: counts I32, the finiteness flag BOOL, float64 hyperparameters F64.
  const tx = injectHyperparams(adamax)(0.01);
  const p64 = { w: new Float64Array([1]) };
  const h = header(toSafetensors({ params: p64, state: tx.init(p64) }));
  assert.equal(h['state.hyperparams.learning_rate'].dtype, 'F64');
  assert.equal(h['state.count'].dtype, 'I32');
  assert.deepEqual(h['state.count'].shape, []);
  const f = applyIfFinite(adamax(0.01), { maxConsecutiveErrors: 2 });
  const hf = header(toSafetensors({ params: p64, state: f.init(p64) }));
  assert.equal(hf['state.last_finite'].dtype, 'BOOL');
  assert.deepEqual(JSON.parse(hf.__metadata__.structure).params, { w: 'params.w' });
});

test('tensor names come from tree paths; keys with dots, tildes and __proto__ stay distinct', () => {
  const p = Object.fromEntries([['a.b', new Float32Array([1])], ['a', { b: new Float32Array([2]) }], ['~', new Float32Array([3])], ['__proto__', new Float32Array([4])]]);
  const bytes = toSafetensors({ params: p, state: null });
  const names = Object.keys(header(bytes)).filter((k) => k !== '__metadata__').sort();
  assert.deepEqual(names, ['params.__proto__', 'params.a.b', 'params.a~1b', 'params.~0']);
  const back = fromSafetensors({ params: p, state: null }, bytes) as any;
  assert.ok(Object.hasOwn(back.params, '__proto__'));
  assert.equal(back.params.__proto__[0], 4);
  assert.equal(back.params['a.b'][0], 1);
});

test('the bytes follow the specification, checked by an independent Python reader', (t) => {
  const probe = spawnSync('python3', ['--version']);
  if (probe.error || probe.status !== 0) { t.skip('python3 is not available'); return; }
  const tx = applyIfFinite(injectHyperparams(adamax)(0.01), { maxConsecutiveErrors: 2 });
  const p = { layer: { w: new ShapedArray(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]), b: new Float64Array([0.5, NaN]) }, 'a "quoted"\nkey é': [new Float32Array([-0, Infinity])] };
  const [, state] = tx.update({ layer: { w: new ShapedArray(new Float32Array(6).fill(0.5), [2, 3]), b: new Float64Array([1, 2]) }, 'a "quoted"\nkey é': [new Float32Array([1, 1])] }, tx.init(p), p);
  const bytes = toSafetensors({ params: p, state }, { optimizer: { name: 'apply_if_finite', args: { inner: { name: 'inject_hyperparams' } } } });
  const dir = mkdtempSync(join(tmpdir(), 'optax-py-'));
  try {
    writeFileSync(join(dir, 'c.safetensors'), bytes);
    const run = spawnSync('python3', [fileURLToPath(new URL('./safetensors_check.py', import.meta.url)), join(dir, 'c.safetensors')], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const { metadata, tensors } = JSON.parse(run.stdout);
    assert.equal(metadata.format, 'optax-ts/1');
    assert.equal(JSON.parse(metadata.optimizer).name, 'apply_if_finite');
    assert.deepEqual(tensors['params.layer.w'], { dtype: 'F32', shape: [2, 3], values: [1, 2, 3, 4, 5, 6] });
    assert.deepEqual(tensors['params.layer.b'], { dtype: 'F64', shape: [2], values: [0.5, 'nan'] });
    assert.deepEqual(tensors['params.a "quoted"\nkey é.0'], { dtype: 'F32', shape: [2], values: [-0, 'inf'] });
    assert.deepEqual(tensors['state.inner_state.count'], { dtype: 'I32', shape: [], values: [1] });
    assert.deepEqual(tensors['state.inner_state.inner_state.0.count'], { dtype: 'I32', shape: [], values: [1] });
    assert.deepEqual(tensors['state.last_finite'], { dtype: 'BOOL', shape: [], values: [true] });
    // The params hold a float64 leaf, so the hyperparameters are float64 (optax's highest-dtype rule).
    assert.equal(tensors['state.inner_state.hyperparams.learning_rate'].dtype, 'F64');
    assert.equal(tensors['state.inner_state.hyperparams.learning_rate'].values[0], 0.01);
    assert.deepEqual(tensors['state.inner_state.inner_state.0.nu.layer.w'].values, new Array(6).fill(Math.fround(0.5 + 1e-8)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file without optax-ts metadata (written from Python) is read by tensor name', () => {
  const p = { w: new Float32Array([1, 2]) };
  const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
  const bytes = writeSafetensors([
    { name: 'params.w', dtype: 'F32', shape: [2], bytes: f32(1, 2) },
    { name: 'state.0.count', dtype: 'I32', shape: [], bytes: new Uint8Array(Int32Array.from([4]).buffer) },
    { name: 'state.0.mu.w', dtype: 'F32', shape: [2], bytes: f32(0.1, 0.2) },
    { name: 'state.0.nu.w', dtype: 'F32', shape: [2], bytes: f32(1, 2) },
  ]);
  const back = fromSafetensors({ params: p, state: adamax(0.01).init(p) }, bytes);
  assert.equal(back.state[0].count, 4);
  assert.deepEqual(back.state[0].mu, { w: Float32Array.from([0.1, 0.2]) });
  // A missing or an extra tensor names it.
  assert.throws(() => fromSafetensors({ params: { w: p.w, v: p.w }, state: adamax(0.01).init(p) }, bytes), isOptaxError(/^checkpoint\.params\.v: the file has no tensor "params\.v"/));
  assert.throws(() => fromSafetensors({ params: p, state: [{ count: 0, mu: { w: p.w }, nu: null }, {}] } as never, bytes), isOptaxError(/no place for tensor\(s\) "state\.0\.nu\.w"/));
});

test('the stored structure is checked against the template, and every format rule is enforced', () => {
  const p = { w: new Float32Array(1) };
  const good = toSafetensors({ params: p, state: adamax(0.01).init(p) });
  const h = header(good);
  const data = good.subarray(8 + new DataView(good.buffer, good.byteOffset).getUint32(0, true));
  const withHeader = (obj: object) => fileWith(JSON.stringify(obj), data);
  // The structure says params.w sits in a list: a header lie.
  const lie = { ...h, __metadata__: { ...h.__metadata__, structure: JSON.stringify({ params: [{ w: 'params.w' }], state: [] }) } };
  assert.throws(() => fromSafetensors({ params: p, state: adamax(0.01).init(p) }, withHeader(lie)), isOptaxError(/^checkpoint\.params: the file's structure \(a list of 1\) does not match the template's \(a dict \{w\}\)/));
  const t = { params: p, state: adamax(0.01).init(p) };
  const rejects: [Uint8Array, RegExp][] = [
    [good.subarray(0, 7), /at least 8 bytes/],
    [Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0]), /exceeds the limit/],
    [Uint8Array.from([0xff, 0xff, 0xff, 0x05, 0, 0, 0, 0]), /exceeds the limit/],
    [good.subarray(0, 40), /runs past the end/],
    [fileWith(' {}'), /must start with '\{'/],
    [fileWith('{}x'), /only spaces may follow/],
    [fileWith('{}', new Uint8Array(4)), /the data buffer has 4 bytes but the tensors cover 0/],
    [fileWith('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8)), /duplicate tensor name "a"/],
    [fileWith('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}', new Uint8Array(6)), /overlaps/],
    [fileWith('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', new Uint8Array(12)), /a hole in the data buffer before tensor "b"/],
    [fileWith('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', new Uint8Array(4)), /takes 8 bytes, data_offsets \[0, 4\] hold 4/],
    [fileWith('{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)), /unknown dtype "F33"/],
    [fileWith('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Uint8Array(4)), /expected a non-negative integer/],
    [fileWith('{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}', new Uint8Array(4)), /expected a non-negative integer/],
    [fileWith('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}', new Uint8Array(4)), /unknown field "x"/],
    [fileWith('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', new Uint8Array(4)), /must be \[begin, end\]/],
    [fileWith('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', new Uint8Array(4)), /end before they begin/],
    [fileWith('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(2)), /run past the data buffer/],
    [fileWith('{"__metadata__":{"k":1}}'), /values must be strings/],
    [fileWith('{"__metadata__":{"k":"a","k":"b"}}'), /duplicate __metadata__ key "k"/],
    [fileWith('{"a\\ud800":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'), /lone surrogate/],
    [fileWith('{"a":{"dtype":"BOOL","shape":[9007199254740991,9007199254740991],"data_offsets":[0,0]}}'), /too large/],
    [Uint8Array.from([...fileWith('{}').subarray(0, 8), 0x7b, 0xff, 0x7d, 32, 32, 32, 32, 32]), /not valid UTF-8/],
  ];
  for (const [bytes, message] of rejects) assert.throws(() => fromSafetensors(t, bytes), isOptaxError(message), String(message));
  // A known dtype optax-ts does not store names the tensor.
  const f16 = fileWith('{"params.w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}', new Uint8Array(2));
  assert.throws(() => fromSafetensors({ params: p, state: null }, f16), isOptaxError(/^checkpoint\.params\.w: tensor "params\.w" is F16; optax-ts stores F32, F64, I32 and BOOL/));
  // The optimizer description and metadata.
  assert.equal(safetensorsMetadata(good).format, 'optax-ts/1');
  assert.throws(() => toSafetensors({ params: p, state: null }, { optimizer: () => 1 }), isOptaxError(/not JSON/));
});

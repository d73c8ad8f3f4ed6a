/**
 * The engine's global norm (window tables run in WebAssembly SIMD or JS, leaf sums combined in
 * flattening order) is bit-identical to the reference `globalNorm`, for any mix of dtypes, shapes and
 * values, in IEEE mode and in XLA's subnormal mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FloatArray } from '../../src/core/dtype.js';
import { type LeafSum, combineLeafSums, jsLeafSums, leafSumsRegionBytes, planLeafSums } from '../../src/engine/global-norm.js';
import { createMemory } from '../../src/engine/memory.js';
import { withFlushedSubnormals } from '../../src/kernel/interpret.js';
import { ShapedArray } from '../../src/tree/leaf.js';
import { globalNorm } from '../../src/transforms/clip-by-global-norm.js';
import { type Dt, hostileValue } from './support.js';

// Shapes of rank 0 to 3 with dimensions up to 40 (some beyond the 32-wide windows), and long vectors.
const shape = fc.oneof(
  fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 3 }).filter((s) => s.reduce((a, b) => a * b, 1) <= 2000),
  fc.integer({ min: 0, max: 3000 }).map((n) => [n]),
  // Matrices windowed along both dimensions, padded or not (the engine sums their windows in batches).
  fc.tuple(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 30, max: 100 })).map(([r, c]) => [r, c]),
);
const leaf = fc.tuple(fc.constantFrom<Dt>('float32', 'float64'), shape).chain(([dtype, dims]) => {
  const n = dims.reduce((a, b) => a * b, 1);
  return fc.array(hostileValue(dtype), { minLength: n, maxLength: n }).map((v) => new ShapedArray(dtype === 'float32' ? Float32Array.from(v) : Float64Array.from(v), dims));
});
// Scales that overflow, underflow (squares in or below the subnormal range), or make leaf sums of very
// different sizes whose float32 additions round.
const scaled = (k: number) => leaf.map((a) => new ShapedArray(a.data.map((x) => x * k), a.shape));
const magnitudes = fc.array(fc.oneof(leaf, scaled(1e19), scaled(1e-20), scaled(1e-160), scaled(1e4), scaled(3e3), scaled(0.37)), { maxLength: 5 });

/**
 * The engine's leaf sums of these leaves: copied into a memory as the engine lays gradients out (64-byte
 * lines, what follows each leaf in its last line and the next poisoned with `poison`, which a wrong
 * stride or length would read), then the WebAssembly tables (the first level in one share, and split
 * in three shares run one after the other, as threads would), the JS tables, and the JS reference
 * plans over the views.
 */
function engineSums(data: readonly FloatArray[], shapes: readonly (readonly number[])[], flush: boolean, poison = 3): LeafSum[] {
  let offset = 64;
  const at = data.map((d) => { const o = offset; offset += Math.ceil(d.byteLength / 64) * 64 + 64; return o; });
  const probe = data.map((d, i) => (d instanceof Float32Array ? new Float32Array(new ArrayBuffer(at[i] + d.byteLength), at[i], d.length) : new Float64Array(new ArrayBuffer(at[i] + d.byteLength), at[i], d.length)));
  // Each plan its own region: one for the first level in one share, one for three, one for JS.
  const one = Math.ceil(leafSumsRegionBytes(probe, shapes, 1) / 64) * 64, three = Math.ceil(leafSumsRegionBytes(probe, shapes, 3) / 64) * 64;
  const region = offset;
  const memory = createMemory(region + 2 * one + three, false);
  const views = data.map((d, i) => {
    const end = i + 1 < data.length ? at[i + 1] : region;
    const f32 = d instanceof Float32Array, size = d.BYTES_PER_ELEMENT;
    const view = (length: number): FloatArray => (f32 ? new Float32Array(memory.buffer, at[i], length) : new Float64Array(memory.buffer, at[i], length));
    view((end - at[i]) / size).fill(poison);
    const v = view(d.length);
    v.set(d);
    return v;
  });
  const split = planLeafSums(views, shapes, flush, memory, region + one, true, 3);
  assert.equal(split.pass!.shares.length, 3);
  // The three shares of the first level one after the other (threads would run them side by side).
  const threeShares = split.leafSums(() => split.pass!.shares.forEach((calls) => calls.forEach((c) => split.pass!.kernels[c.kernel](c.n, ...c.pointers))));
  return [
    planLeafSums(views, shapes, flush, memory, region, true).leafSums(),
    threeShares,
    planLeafSums(views, shapes, flush, memory, region + one + three, false).leafSums(),
    jsLeafSums(views, shapes, flush),
  ];
}

test('the engine global norm equals globalNorm bit for bit (wasm and js sums, ieee and flush)', () => {
  fc.assert(fc.property(magnitudes, (leaves) => {
    const shapes = leaves.map((l) => l.shape);
    const dtypes = leaves.map((l) => l.dtype);
    for (const flush of [false, true]) {
      const expected = flush ? withFlushedSubnormals(() => globalNorm(leaves)) : globalNorm(leaves);
      for (const sums of engineSums(leaves.map((l) => l.data), shapes, flush)) {
        const got = combineLeafSums(dtypes, sums);
        assert.equal(got.dtype, expected.dtype);
        assert.ok(Object.is(got.value, expected.value) || (Number.isNaN(got.value) && Number.isNaN(expected.value)), `${got.value} vs ${expected.value}`);
      }
    }
  }), { numRuns: 200 });
});

test('the leaf sums are added with float32 rounding, as optax does (a case where it shows)', () => {
  // 1 + 2^-24 rounds to 1 in float32, four times over; unrounded, the total would be 1 + 2^-22 and
  // its square root 1 + 2^-23, a different float32.
  const leaves = [Float32Array.of(1), ...Array.from({ length: 4 }, () => Float32Array.of(2 ** -12))];
  const dtypes = leaves.map(() => 'float32' as const);
  const shapes = leaves.map(() => [1]);
  assert.equal(globalNorm(leaves).value, 1);
  for (const sums of engineSums(leaves, shapes, false)) assert.equal(combineLeafSums(dtypes, sums).value, 1);
});

test('in XLA subnormal mode a square below the normal range adds nothing (FTZ/DAZ), in the reference and the engine', () => {
  // 2^-70 squared is 2^-140, a float32 subnormal: IEEE keeps it, XLA:CPU flushes it to 0. Next to a
  // tiny normal square the difference shows in the norm.
  const leaves = [Float32Array.of(2 ** -63, 2 ** -70, 2 ** -70)];
  const ieee = globalNorm(leaves).value, flushed = withFlushedSubnormals(() => globalNorm(leaves)).value;
  assert.equal(flushed, 2 ** -63);
  assert.notEqual(ieee, flushed);
  for (const sums of engineSums(leaves, [[3]], true)) assert.equal(combineLeafSums(['float32'], sums).value, flushed);
  for (const sums of engineSums(leaves, [[3]], false)) assert.equal(combineLeafSums(['float32'], sums).value, ieee);
});

test('windowed leaf sums: every 1-D length 1..140 and matrices up to 70 columns, where the grouping of additions shows in float32', () => {
  const shapes: number[][] = [];
  for (let n = 1; n <= 140; n++) shapes.push([n]);
  for (const r of [1, 2, 33, 40, 65]) for (let c = 30; c <= 70; c += 1) shapes.push([r, c]);
  shapes.push([1, 1000], [1000, 1], [3, 1, 40], [2, 33, 34]);
  for (const shape of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    // A large first square and small ones after it: each window's sum, and their order, show in the bits.
    for (let i = 0; i < n; i++) data[i] = i === 0 ? 2 ** 12 : 1 + (i % 7) / 1024;
    const expected = globalNorm([new ShapedArray(Float32Array.from(data), shape)]).value;
    for (const sums of engineSums([data], [shape], false)) {
      assert.equal(combineLeafSums(['float32'], sums).value, expected, `shape ${JSON.stringify(shape)}`);
    }
  }
});

test('window operations of every kind: batched across leaves, padded edges, several levels, slabs of rank 3 and 4, float64, subnormals, inf and NaN', () => {
  // Values over a wide range of magnitudes: any other grouping or order of additions changes the bits.
  const TINY = -1;
  let seed = 12345;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const fill = (data: FloatArray, special: number | undefined): FloatArray => {
    const span = data instanceof Float32Array ? 20 : 60;
    for (let i = 0; i < data.length; i++) data[i] = (random() < 0.5 ? -1 : 1) * 2 ** Math.floor(random() * 2 * span - span) * (1 + random());
    if (special === TINY) {
      // Squares around the smallest normal (2^-126, 2^-1022): subnormal ones, flushed in XLA's mode, and normal ones.
      const low = data instanceof Float32Array ? -75 : -530;
      for (let i = 0; i < data.length; i++) data[i] = 2 ** (low + Math.floor(random() * 15)) * (1 + random());
    } else if (special !== undefined) data[Math.floor(random() * data.length)] = special;
    return data;
  };
  const cases: { dtype: 'float32' | 'float64'; shapes: number[][] }[] = [
    { dtype: 'float32', shapes: [[3, 40, 300], [2, 3, 33, 70], [5000], [40000], [65, 1000], [1000, 65], [1, 33, 1, 34]] },
    { dtype: 'float32', shapes: Array.from({ length: 9 }, () => [500]).concat([[37], [37], [37], [37], [37], [0], [4, 0, 40]]) },
    { dtype: 'float64', shapes: [[3, 40, 300], [5000], [1000, 65], [33], [33], [33], [500], [500], [500]] },
  ];
  for (const { dtype, shapes } of cases) {
    for (const special of [undefined, Infinity, NaN, -Infinity, TINY]) {
      const data = shapes.map((s) => fill(dtype === 'float32' ? new Float32Array(s.reduce((a, b) => a * b, 1)) : new Float64Array(s.reduce((a, b) => a * b, 1)), special));
      const leaves = data.map((d, i) => new ShapedArray(d, shapes[i]));
      const dtypes = shapes.map(() => dtype);
      for (const flush of [false, true]) {
        const expected = flush ? withFlushedSubnormals(() => globalNorm(leaves)) : globalNorm(leaves);
        for (const sums of engineSums(data, shapes, flush)) {
          const got = combineLeafSums(dtypes, sums);
          assert.ok(Object.is(got.value, expected.value), `${dtype} ${JSON.stringify(shapes)} ${special} flush=${flush}: ${got.value} vs ${expected.value}`);
        }
        // The leaf sums too, not only their total.
        for (const sums of engineSums(data, shapes, flush).slice(0, 3)) {
          const all = shapes.map((_, i) => sums(i));
          const reference = jsLeafSums(data, shapes, flush);
          all.forEach((x, i) => assert.ok(Object.is(x, reference(i)), `leaf ${i} of ${dtype} ${JSON.stringify(shapes)} flush=${flush}`));
        }
      }
    }
  }
});

test('where code cannot be generated (a CSP page), a clip stepper sums its norm with the reference plans: the same bits', () => {
  // The JS tables' runner is generated code (norm-runner.ts); with eval forbidden compile() must not build it.
  const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');
  const at = (file: string): string => JSON.stringify(pathToFileURL(path.join(src, file)).href);
  const script = `
    import { compile } from ${at('engine/index.ts')};
    import { adamax } from ${at('alias/adamax.ts')};
    import { chain } from ${at('transforms/chain.ts')};
    import { clipByGlobalNorm } from ${at('transforms/clip-by-global-norm.ts')};
    import { applyUpdates } from ${at('transforms/apply-updates.ts')};
    let evalWorks = true;
    try { new Function('return 1'); } catch { evalWorks = false; }
    const tx = chain(clipByGlobalNorm(1), adamax(0.1));
    const w = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3), g = Float32Array.from({ length: 1000 }, (_, i) => Math.cos(i * 7) * (i === 0 ? 4096 : 1));
    const stepper = compile(tx, { w: w.slice() }, { backend: 'interpreter' });
    stepper.grads.w.set(g);
    stepper.step();
    const [u] = tx.update({ w: g }, tx.init({ w }), { w });
    const expected = applyUpdates({ w }, u).w;
    console.log(evalWorks, stepper.params.w.every((x, i) => Object.is(x, expected[i])));
  `;
  const r = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.stdout.trim(), 'false true', r.stderr);
});

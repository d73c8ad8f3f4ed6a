import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FusedProgram } from '../../../src/engine/program.js';
import { emitFusedModule } from '../../../src/engine/wasm/fused-module.js';
import { type Expr, ex } from '../../../src/kernel/expr.js';
import { lowerProgram, neverNegativeZero } from '../../../src/engine/wasm/lowering.js';
import { fusedMultiplyAdd } from '../../../src/core/fused-multiply-add.js';
import { SPECIAL_F32, SPECIAL_F64, cases, describeCase } from '../random-programs.js';
import { assertSameBits, layout, runReference, runWasm, scalarSlots, typedArray } from './harness.js';
import { withFlushedSubnormals } from '../../../src/kernel/interpret.js';
import { kernelImports } from '../../../src/engine/wasm/instantiate.js';

const f32 = Math.fround;
for (const dtype of ['float32', 'float64'] as const) {
  test(`random DAG kernels are bit-identical to the interpreter (${dtype})`, () => {
    fc.assert(fc.property(cases(dtype, true), (c) => {
      const streamOffsets = c.fixed ? layout(c.program, c.n, c.base).offsets : undefined;
      const scalarOffsets = c.scalarsInMemory ? scalarSlots(c.program, c.n, c.base) : undefined;
      const bytes = emitFusedModule(c.program, { shared: false, maximumPages: 64, unroll: c.unroll, streamOffsets, scalarOffsets });
      const actual = runWasm(bytes, c.program, c.inputs, c.scalars, c.n, { base: c.base, scalarOffsets });
      assertSameBits(actual, runReference(c.program, c.inputs, c.scalars, c.n), () => describeCase(c));
    }), { numRuns: 400, includeErrorInReport: true });
  });
}

for (const dtype of ['float32', 'float64'] as const) {
  test(`random DAG kernels in XLA's subnormal mode are bit-identical to the interpreter under withFlushedSubnormals (${dtype})`, () => {
    fc.assert(fc.property(cases(dtype, true, true), (c) => {
      const streamOffsets = c.fixed ? layout(c.program, c.n, c.base).offsets : undefined;
      const scalarOffsets = c.scalarsInMemory ? scalarSlots(c.program, c.n, c.base) : undefined;
      const bytes = emitFusedModule(c.program, { shared: false, maximumPages: 64, unroll: c.unroll, streamOffsets, scalarOffsets, subnormals: 'flush' });
      const actual = runWasm(bytes, c.program, c.inputs, c.scalars, c.n, { base: c.base, scalarOffsets });
      assertSameBits(actual, withFlushedSubnormals(() => runReference(c.program, c.inputs, c.scalars, c.n)), () => describeCase(c));
    }), { numRuns: 400, includeErrorInReport: true });
  });
}

test('min, max, abs and neg (written as several vector instructions) are exact on every pair of special values, in every lane', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const specials = dtype === 'float32' ? SPECIAL_F32 : SPECIAL_F64;
    const a: number[] = [], b: number[] = [];
    for (const x of specials) for (const y of specials) { a.push(x); b.push(y); }
    // d and e take the shorter max, whose one operand can never be -0 (a sum with abs(x)), on either side.
    const program: FusedProgram = { dtype, streams: ['updates', 'params', 'a', 'b', 'c', 'd', 'e'], scalars: [], outputs: [
      { stream: 'a', expr: ex.max(ex.updates, ex.params) },
      { stream: 'b', expr: ex.min(ex.updates, ex.params) },
      { stream: 'c', expr: ex.add(ex.abs(ex.updates), ex.neg(ex.params)) },
      { stream: 'd', expr: ex.max(ex.add(ex.abs(ex.updates), ex.state('c')), ex.params) },
      { stream: 'e', expr: ex.max(ex.params, ex.sub(ex.add(ex.state('c'), ex.abs(ex.updates)), ex.state('d'))) },
    ] };
    const n = a.length;
    // c and d hold other special values, so that every zero, NaN and infinity meets every other one.
    const shifted = (k: number): number[] => a.map((_, i) => specials[(i * k + 3) % specials.length]);
    const inputs = { updates: typedArray(dtype, a), params: typedArray(dtype, b), a: typedArray(dtype, a), b: typedArray(dtype, a), c: typedArray(dtype, shifted(7)), d: typedArray(dtype, shifted(11)), e: typedArray(dtype, a) };
    for (const unroll of [1, 2, 4] as const) {
      const actual = runWasm(emitFusedModule(program, { shared: false, maximumPages: 64, unroll }), program, inputs, [], n);
      assertSameBits(actual, runReference(program, inputs, [], n), () => `${dtype} unroll=${unroll}`);
      // The reference is Math.max / Math.min: -0 below +0, NaN from either side.
      for (let i = 0; i < n; i++) {
        const x = inputs.updates[i], y = inputs.params[i];
        assert.ok(Object.is(actual.a[i], Math.max(x, y)) || (Number.isNaN(actual.a[i]) && Number.isNaN(Math.max(x, y))), `max(${x}, ${y})`);
        assert.ok(Object.is(actual.b[i], Math.min(x, y)) || (Number.isNaN(actual.b[i]) && Number.isNaN(Math.min(x, y))), `min(${x}, ${y})`);
      }
    }
  }
});

test('fused multiply-add (no WebAssembly instruction: an exact emulation) matches the reference on random and hard operands', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const bits = dtype === 'float32' ? 32 : 64;
    const random = (seed: number): number[] => fc.sample(dtype === 'float32' ? fc.float({ noDefaultInfinity: false }) : fc.double(), { numRuns: 3000, seed });
    // Hard cases: products whose sum with c lands next to a rounding boundary (c = -round(a*b) leaves
    // the product's low part; scaled copies move it around), and the special values.
    const a = [...random(1), ...random(4)], b = [...random(2), ...random(5)], third = random(3);
    const c = a.map((x, i) => (i % 3 === 0 ? -Math.fround(x * b[i]) : i % 3 === 1 ? (dtype === 'float32' ? Math.fround(x * b[i] * 2 ** -25) : x * b[i] * 2 ** -54) : third[i % 3000]));
    const specials = dtype === 'float32' ? SPECIAL_F32 : SPECIAL_F64;
    for (const x of specials) for (const y of specials) { a.push(x); b.push(y); c.push(specials[(a.length * 7) % specials.length]); }
    if (dtype === 'float64') {
      // Products beyond 2^995 and below 2^-960, where the emulation takes the plain p + c.
      random(6).slice(0, 300).forEach((r, i) => { a.push(2 ** 1000 * (1 + Math.abs(r % 1))); b.push((i % 7) * 0.01 + 1e-3); c.push(r); });
      random(7).slice(0, 300).forEach((r, i) => { a.push(2 ** -980 * (1 + Math.abs(r % 1))); b.push(2 ** -(i % 30)); c.push(r * 2 ** -1000); });
      // Sums whose fl(c + a*b) overflows (the emulation's TwoSum would meet inf - inf), in every lane
      // position, and the product 2^970 - 2^890 (rounded to 2^970) next to the largest double, whose
      // exact sum lies just below the overflow threshold.
      random(8).slice(0, 300).forEach((r, i) => { a.push(2 ** 485 * (1 + Math.abs(r % 1))); b.push((i % 2 ? -1 : 1) * 2 ** (440 + (i % 60))); c.push((i % 3 ? 1 : -1) * Number.MAX_VALUE * (1 - (i % 5) * 2 ** -30)); });
      // A factor beyond 2^995 (its Veltkamp split overflows) with a product in range, either side.
      random(9).slice(0, 300).forEach((r, i) => { const big = 2 ** (996 + (i % 27)) * (1 + Math.abs(r % 1)), small = 2 ** -(40 + (i % 900)) * (i % 2 ? -1 : 1); a.push(i % 4 < 2 ? big : small); b.push(i % 4 < 2 ? small : big); c.push(r); });
      const tieA = 2 ** 485 * (1 + 2 ** -40), tieB = 2 ** 970 / tieA;
      for (const [x, y, z] of [[tieA, tieB, Number.MAX_VALUE], [-tieA, tieB, -Number.MAX_VALUE], [tieB, tieA, Number.MAX_VALUE], [1e300, 0.25, Number.MAX_VALUE]]) { a.push(x); b.push(y); c.push(z); }
    }
    const program: FusedProgram = { dtype, streams: ['updates', 'params', 'a'], scalars: [], outputs: [{ stream: 'a', expr: ex.fma(ex.updates, ex.params, ex.state('a')) }] };
    const inputs = { updates: typedArray(dtype, a), params: typedArray(dtype, b), a: typedArray(dtype, c) };
    for (const unroll of [1, 2] as const) {
      const actual = runWasm(emitFusedModule(program, { shared: false, maximumPages: 64, unroll }), program, inputs, [], a.length);
      for (let i = 0; i < a.length; i++) {
        const x = inputs.updates[i], y = inputs.params[i], z = inputs.a[i];
        const expected = fusedMultiplyAdd(dtype, x, y, z);
        if (!Object.is(actual.a[i], expected) && !(Number.isNaN(actual.a[i]) && Number.isNaN(expected))) assert.fail(`${dtype} (${bits} bits) fma(${x}, ${y}, ${z}): wasm ${actual.a[i]}, reference ${expected}`);
      }
    }
    // The scalar code (the tail of a range, and values computed once per call): all three operands
    // per-call scalars, one call per triple.
    const uniform: FusedProgram = { dtype, streams: ['updates', 'params'], scalars: ['x', 'y', 'z'], outputs: [{ stream: 'params', expr: ex.fma(ex.scalar('x'), ex.scalar('y'), ex.scalar('z')) }] };
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    const run = new WebAssembly.Instance(new WebAssembly.Module(emitFusedModule(uniform, { shared: false, maximumPages: 1 })), kernelImports(memory)).exports.run as (...args: number[]) => void;
    const out = dtype === 'float32' ? new Float32Array(memory.buffer, 64, 1) : new Float64Array(memory.buffer, 64, 1);
    for (let i = 0; i < a.length; i++) {
      const x = inputs.updates[i], y = inputs.params[i], z = inputs.a[i];
      run(1, 0, 64, x, y, z);
      const expected = fusedMultiplyAdd(dtype, x, y, z);
      if (!Object.is(out[0], expected) && !(Number.isNaN(out[0]) && Number.isNaN(expected))) assert.fail(`${dtype} scalar fma(${x}, ${y}, ${z}): wasm ${out[0]}, reference ${expected}`);
    }
  }
});

/**
 * float32 operands whose sum `a * b + c`, rounded once to float64, lands exactly on a float32
 * midpoint (or on the overflow threshold) while the exact value lies just off it: rounding the
 * float64 sum to float32 again would break the tie the wrong way whenever the even neighbour is on
 * the other side. c = r (a float32), a * b = +-ulp32(r) / 2 * (1 -+ 2^-46) (exact: (1 + 2^-23)(1 - 2^-23)
 * scaled), in every sign combination, with r normal, subnormal, next to a power of two and at the
 * top of the range; and the same with a * b moved by a few float64 ulps (near, not on, a midpoint).
 */
function float32MidpointCases(): { a: number[]; b: number[]; c: number[] } {
  const a: number[] = [], b: number[] = [], c: number[] = [];
  const rs = fc.sample(fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-3e38), max: Math.fround(3e38) }), { numRuns: 600, seed: 11 });
  rs.push(2 ** -149, 3 * 2 ** -149, 2 ** -126, 2 ** -126 - 2 ** -149, 1, 1 - 2 ** -24, 3, 2 ** 127 * (2 - 2 ** -23), 2 ** 127 * (2 - 2 ** -22), 0);
  for (const r0 of rs) {
    const r = Math.abs(Math.fround(r0));
    // The float32 ulp at r (the gap above it), as a power of two 2^E.
    const E = r < 2 ** -126 ? -149 : Math.floor(Math.log2(r)) - 23;
    const ea = Math.floor((E - 1) / 2), eb = E - 1 - ea;
    for (const nudge of [0, 2 ** -23, -(2 ** -23), 2 ** -21]) {
      for (const sign of [1, -1]) {
        for (const pSign of [1, -1]) {
          a.push(Math.fround(2 ** ea * (1 + 2 ** -23 + nudge)));
          b.push(Math.fround(pSign * 2 ** eb * (1 - 2 ** -23)));
          c.push(sign * r);
          // And the operands swapped, and a negated with b (same product).
          a.push(b[b.length - 1]);
          b.push(a[a.length - 2]);
          c.push(sign * r);
        }
      }
    }
  }
  return { a, b, c };
}

test('float32 fused multiply-add: sums that land on (or next to) a float32 midpoint in float64 are rounded once, in the vector and scalar code', () => {
  const { a, b, c } = float32MidpointCases();
  const program: FusedProgram = { dtype: 'float32', streams: ['updates', 'params', 'a'], scalars: [], outputs: [{ stream: 'a', expr: ex.fma(ex.updates, ex.params, ex.state('a')) }] };
  // Some lanes of every vector are hard: spread the cases over vectors and over the scalar tail.
  const n = a.length + 3;
  const inputs = { updates: typedArray('float32', [...a, 1, 1, 1]), params: typedArray('float32', [...b, 1, 1, 1]), a: typedArray('float32', [...c, 0, 0, 0]) };
  let doubleRoundingWrong = 0;
  for (let i = 0; i < a.length; i++) {
    const x = inputs.updates[i], y = inputs.params[i], z = inputs.a[i];
    if (Math.fround(x * y + z) !== fusedMultiplyAdd('float32', x, y, z)) doubleRoundingWrong++;
  }
  // The cases are hard: rounding the float64 sum to float32 is wrong on many of them.
  assert.ok(doubleRoundingWrong > 500, `only ${doubleRoundingWrong} cases where double rounding is wrong`);
  for (const unroll of [1, 2, 4] as const) {
    for (const shift of [0, 1, 2, 3]) {
      const shifted = (arr: Float32Array | Float64Array): Float32Array => Float32Array.from({ length: n }, (_, i) => arr[(i + shift) % n]);
      const inp = { updates: shifted(inputs.updates), params: shifted(inputs.params), a: shifted(inputs.a) };
      const actual = runWasm(emitFusedModule(program, { shared: false, maximumPages: 64, unroll }), program, inp, [], n);
      for (let i = 0; i < n; i++) {
        const x = inp.updates[i], y = inp.params[i], z = inp.a[i];
        const expected = fusedMultiplyAdd('float32', x, y, z);
        if (!Object.is(actual.a[i], expected)) assert.fail(`fma(${x}, ${y}, ${z}) (unroll ${unroll}, lane ${i % 4}): wasm ${actual.a[i]}, reference ${expected}`);
      }
    }
  }
  // One operand a per-call scalar (widened once per call): each value of a with all its cases.
  const byA = new Map<number, number[]>();
  a.forEach((x, i) => byA.set(x, [...(byA.get(x) ?? []), i]));
  const groups = [...byA.values()].filter((_, k) => k % 17 === 0);
  const forms: [string, Expr][] = [['a', ex.fma(ex.scalar('s'), ex.params, ex.state('a'))], ['b', ex.fma(ex.params, ex.scalar('s'), ex.state('a'))]];
  for (const [which, expr] of forms) {
    const scalarProgram: FusedProgram = { dtype: 'float32', streams: ['updates', 'params', 'a'], scalars: ['s'], outputs: [{ stream: 'a', expr }] };
    const bytes = emitFusedModule(scalarProgram, { shared: false, maximumPages: 64, unroll: 2 });
    for (const group of groups) {
      const rows = [...group, ...group, ...group].slice(0, Math.max(9, group.length));
      const inp = { updates: typedArray('float32', rows.map(() => 0)), params: typedArray('float32', rows.map((i) => b[i])), a: typedArray('float32', rows.map((i) => c[i])) };
      const actual = runWasm(bytes, scalarProgram, inp, [a[group[0]]], rows.length);
      rows.forEach((i, k) => {
        const expected = fusedMultiplyAdd('float32', a[i], b[i], c[i]);
        if (!Object.is(actual.a[k], expected)) assert.fail(`fma(${a[i]}, ${b[i]}, ${c[i]}) with ${which} a scalar: wasm ${actual.a[k]}, reference ${expected}`);
      });
    }
  }
});

test('float32 fused multiply-add by a per-call power of two (MultiSteps\' 1 / (n + 1)): the plain product-then-sum where the product is exact, the emulation elsewhere', () => {
  for (const dtype of ['float32'] as const) {
    const round = (x: number): number => (dtype === 'float32' ? Math.fround(x) : x);
    const [minNormal, maxExp, digits] = dtype === 'float32' ? [2 ** -126, 127, 24] : [2 ** -1022, 1023, 53];
    const specials = dtype === 'float32' ? SPECIAL_F32 : SPECIAL_F64;
    const ulp = 2 ** (1 - digits);
    // Multiplicands: powers of two of both signs across the range (the shortcut), their neighbours,
    // a subnormal power of two and non-powers (the emulation), zero, and specials.
    const scalars = [1, 0.5, 0.25, -0.5, 2, 4, 2 ** -20, 2 ** 20, minNormal, 2 ** maxExp, 2 ** -(maxExp - 1), -minNormal,
      minNormal / 2, round(1 + ulp), round(0.5 - ulp / 4), round(1 / 3), 3, 0, -0, Infinity, NaN].map(round);
    const rng = fc.sample(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { numRuns: 256, seed: 5 }).map(round);
    for (const s of scalars) {
      // Varying operands: ordinary values, values whose product with s underflows (losing bits),
      // overflows (with c cancelling it back into range), lands next to c's rounding boundaries, and specials.
      const x: number[] = [], c: number[] = [];
      rng.forEach((r, i) => { x.push(r); c.push(rng[(i * 7 + 3) % rng.length]); });
      for (let k = 0; k < 64; k++) {
        const tiny = round((1 + k * ulp * 3) * minNormal * 2 ** -(k % 24));
        x.push(tiny, -tiny);
        c.push(k % 2 ? 0 : round(minNormal * (k + 1)), round(-(2 ** -(k % 30)) * minNormal));
        const huge = round(2 ** maxExp * (1 + k * ulp));
        x.push(huge);
        c.push(Number.isFinite(s) && s !== 0 ? -round(huge * Math.abs(s) / 2) || -huge : -huge);
        // a * s = half an ulp of c (a tie in the sum), exactly and off by a little.
        const cv = round(1 + (2 * k + 1) * ulp);
        const half = (ulp / 2) * (1 + (k % 3 === 0 ? 0 : (k % 3 === 1 ? ulp : -ulp)));
        const xv = Number.isFinite(s) && s !== 0 ? round(half / s) : 1;
        x.push(xv, -xv);
        c.push(cv, -cv);
      }
      for (const p of specials) for (const q of specials) { x.push(p); c.push(q); }
      for (const [which, expr] of [['b', ex.fma(ex.updates, ex.scalar('s'), ex.state('a'))], ['a', ex.fma(ex.scalar('s'), ex.updates, ex.state('a'))]] as const) {
        const program: FusedProgram = { dtype, streams: ['updates', 'params', 'a'], scalars: ['s'], outputs: [{ stream: 'a', expr }] };
        for (const unroll of [1, 2] as const) {
          const inputs = { updates: typedArray(dtype, x), params: typedArray(dtype, x.map(() => 0)), a: typedArray(dtype, c) };
          const actual = runWasm(emitFusedModule(program, { shared: false, maximumPages: 64, unroll }), program, inputs, [s], x.length);
          for (let i = 0; i < x.length; i++) {
            const xi = inputs.updates[i], ci = inputs.a[i];
            const expected = which === 'b' ? fusedMultiplyAdd(dtype, xi, s, ci) : fusedMultiplyAdd(dtype, s, xi, ci);
            if (!Object.is(actual.a[i], expected) && !(Number.isNaN(actual.a[i]) && Number.isNaN(expected))) {
              assert.fail(`${dtype} fma with ${which} = ${s}: (${xi}, ${ci}) wasm ${actual.a[i]}, reference ${expected} (unroll ${unroll})`);
            }
          }
        }
      }
    }
  }
});

test('neverNegativeZero is sound: no op it marks gives -0 on any pair of special values', () => {
  const specials = SPECIAL_F64;
  const x: number[] = [], y: number[] = [];
  for (const p of specials) for (const q of specials) { x.push(p); y.push(q); }
  const operands: [string, Expr][] = [['x', ex.updates], ['abs(x)', ex.abs(ex.updates)]];
  const seconds: [string, Expr][] = [['y', ex.params], ['abs(y)', ex.abs(ex.params)]];
  let marked = 0;
  for (const [an, a] of operands) for (const [bn, b] of seconds) {
    for (const op of ['add', 'sub', 'mul', 'div', 'max', 'min'] as const) {
      const exprs: Expr[] = [{ kind: 'binary', op, a, b }, ex.sqrt({ kind: 'binary', op, a, b }), ex.neg({ kind: 'binary', op, a, b })];
      for (const expr of exprs) {
        const program: FusedProgram = { dtype: 'float64', streams: ['updates', 'params'], scalars: [], outputs: [{ stream: 'params', expr }] };
        const { nodes, stores } = lowerProgram(program);
        if (!neverNegativeZero(nodes)[stores[0].node]) continue;
        marked++;
        const out = runReference(program, { updates: Float64Array.from(x), params: Float64Array.from(y) }, [], x.length).params;
        out.forEach((v, i) => assert.ok(!Object.is(v, -0), `${op}(${an}, ${bn}) marked never -0, but is -0 for x=${x[i]}, y=${y[i]}`));
      }
    }
  }
  assert.ok(marked >= 8, `only ${marked} expressions marked`);
});

test('with streamOffsets, a kernel runs any sub-range whose pointers move together, and traps on pointers that do not', () => {
  const program: FusedProgram = { dtype: 'float32', streams: ['updates', 'params', 'm'], scalars: ['lr'], outputs: [
    { stream: 'params', expr: ex.sub(ex.params, ex.mul(ex.scalar('lr'), ex.state('m'))) },
    { stream: 'm', expr: ex.max(ex.state('m'), ex.abs(ex.updates)) },
  ] };
  const n = 203;
  const { offsets } = layout(program, n, 64);
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
  const run = new WebAssembly.Instance(new WebAssembly.Module(emitFusedModule(program, { shared: false, maximumPages: 1, streamOffsets: offsets })), kernelImports(memory))
    .exports.run as (...args: number[]) => void;
  const view = (k: number): Float32Array => new Float32Array(memory.buffer, offsets[k], n);
  const inputs = { updates: typedArray('float32', Array.from({ length: n }, (_, i) => Math.sin(i))), params: typedArray('float32', Array.from({ length: n }, (_, i) => i / 7)), m: typedArray('float32', Array.from({ length: n }, (_, i) => Math.cos(i))) };
  program.streams.forEach((s, k) => view(k).set(inputs[s as keyof typeof inputs]));
  // Three calls over [0, 64), [64, 200), [200, 203): the element offset moves every pointer alike.
  for (const [lo, hi] of [[0, 64], [64, 200], [200, 203]]) run(hi - lo, ...offsets.map((o) => o + lo * 4), f32(0.5));
  const expected = runReference(program, inputs, [f32(0.5)], n);
  assertSameBits({ updates: view(0), params: view(1), m: view(2) }, expected, () => 'split');
  // Pointers that are not the compiled offsets plus one common index trap before any store.
  const before = new Uint8Array(memory.buffer).slice();
  assert.throws(() => run(8, offsets[0], offsets[1] + 16, offsets[2], f32(0.5)), WebAssembly.RuntimeError);
  assert.throws(() => run(8, offsets[0] - 16, offsets[1] - 16, offsets[2] - 16, f32(0.5)), WebAssembly.RuntimeError);
  assert.deepEqual(new Uint8Array(memory.buffer), before);
  assert.throws(() => emitFusedModule(program, { shared: false, maximumPages: 1, streamOffsets: [0, 8, 32] }), /streamOffsets/);
  assert.throws(() => emitFusedModule(program, { shared: false, maximumPages: 1, streamOffsets: [0, 16] }), /streamOffsets/);
});

test('a kernel of scalars only (hoisted) and a plain copy', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const s = ex.div(ex.sqrt(ex.scalar('x')), ex.scalar('y'));
    const program: FusedProgram = { dtype, streams: ['updates', 'params', 'a'], scalars: ['x', 'y'], outputs: [
      { stream: 'params', expr: s },
      { stream: 'a', expr: ex.updates },
      { stream: 'updates', expr: ex.mul(ex.updates, s) },
    ] };
    for (const n of [0, 1, 3, 4, 5, 8, 9, 17, 33]) {
      const inputs = Object.fromEntries(program.streams.map((st, k) => [st, typedArray(dtype, Array.from({ length: n }, (_, i) => (i + 1) * (k + 1) * 0.3))]));
      const scalars = [f32(2), f32(3)];
      for (const unroll of [1, 2, 4] as const) {
        const actual = runWasm(emitFusedModule(program, { shared: false, maximumPages: 64, unroll }), program, inputs, scalars, n);
        assertSameBits(actual, runReference(program, inputs, scalars, n), () => `${dtype} n=${n} unroll=${unroll}`);
      }
    }
  }
});

test('runs on a shared memory when emitted with shared: true', () => {
  const program: FusedProgram = { dtype: 'float32', streams: ['updates', 'params'], scalars: ['lr'], outputs: [
    { stream: 'params', expr: ex.sub(ex.params, ex.mul(ex.scalar('lr'), ex.updates)) },
  ] };
  const n = 37;
  const inputs = { updates: typedArray('float32', Array.from({ length: n }, (_, i) => i - 10)), params: typedArray('float32', Array.from({ length: n }, (_, i) => 1 / (i + 1))) };
  const bytes = emitFusedModule(program, { shared: true, maximumPages: 16 });
  const actual = runWasm(bytes, program, inputs, [f32(0.1)], n, { shared: true, maximumPages: 16 });
  assertSameBits(actual, runReference(program, inputs, [f32(0.1)], n), () => 'shared');
  // A shared module cannot import an unshared memory, nor a memory whose maximum exceeds its own.
  assert.throws(() => new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: new WebAssembly.Memory({ initial: 1, maximum: 16 }) } }), WebAssembly.LinkError);
  assert.throws(() => new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: new WebAssembly.Memory({ initial: 1, maximum: 17, shared: true }) } }), WebAssembly.LinkError);
});

test('rejects malformed programs and options', () => {
  const ok: FusedProgram = { dtype: 'float32', streams: ['updates', 'params'], scalars: ['lr'], outputs: [{ stream: 'params', expr: ex.mul(ex.scalar('lr'), ex.updates) }] };
  const opts = { shared: false, maximumPages: 1 };
  assert.ok(WebAssembly.validate(emitFusedModule(ok, opts)));
  assert.throws(() => emitFusedModule({ ...ok, streams: ['params'] }, opts), /reads stream 'updates'/);
  assert.throws(() => emitFusedModule({ ...ok, scalars: [] }, opts), /reads scalar 'lr'/);
  assert.throws(() => emitFusedModule({ ...ok, outputs: [{ stream: 'mu', expr: ex.updates }] }, opts), /writes stream 'mu'/);
  assert.throws(() => emitFusedModule({ ...ok, outputs: [] }, opts), /no outputs/);
  assert.throws(() => emitFusedModule(ok, { ...opts, unroll: 3 as 2 }), /unroll/);
  assert.throws(() => emitFusedModule(ok, { ...opts, scalarOffsets: [4] }), /scalarOffsets/);
  assert.throws(() => emitFusedModule(ok, { ...opts, scalarOffsets: [] }), /scalarOffsets/);
  assert.throws(() => emitFusedModule(ok, { shared: true, maximumPages: 65537 }), /maximumPages/);
  assert.throws(() => emitFusedModule(ok, { shared: false, maximumPages: 4, initialPages: 5 }), /initialPages/);
  // n, 2 pointers and 997 scalars make 1000 parameters: the most a function may take.
  const many = ['lr', ...Array.from({ length: 997 }, (_, i) => `s${i}`)];
  assert.throws(() => emitFusedModule({ ...ok, scalars: many }, opts), /at most 1000/);
  assert.ok(WebAssembly.validate(emitFusedModule({ ...ok, scalars: many.slice(0, 997) }, opts)));
  // Read from memory, scalars are not parameters: any number of them.
  assert.ok(WebAssembly.validate(emitFusedModule({ ...ok, scalars: many }, { ...opts, scalarOffsets: many.map((_, k) => 8 * k) })));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Dtype } from '../../../src/core/dtype.js';
import type { FusedProgram, KernelFunction } from '../../../src/engine/program.js';
import { emitFusedModule, normalPowerOfTwo } from '../../../src/engine/wasm/fused-module.js';
import { FunctionBuilder } from '../../../src/engine/wasm/function-builder.js';
import { assembleModule } from '../../../src/engine/wasm/module.js';
import { ValType, floatOps } from '../../../src/engine/wasm/opcodes.js';
import { kernelImports } from '../../../src/engine/wasm/instantiate.js';
import { ex } from '../../../src/kernel/expr.js';
import { withFlushedSubnormals } from '../../../src/kernel/interpret.js';
import { SPECIAL_F32, SPECIAL_F64, nearSubnormal, values } from '../random-programs.js';
import { assertSameBits, layout, runReference, scalarSlots, show, typedArray } from './harness.js';

/**
 * A division by a per-call scalar runs a main-loop copy that multiplies by the reciprocal when the
 * divisor is a normal power of two (fused-module.ts): these hold both copies to the interpreter on
 * every power of two of the dtype (normal and subnormal, both signs), their neighbours, and the
 * special values, against dividends whose quotients overflow, underflow into the subnormals or to
 * zero, and round at every boundary.
 */

const f32 = Math.fround;
const MIN_EXPONENT = { float32: -149, float64: -1074 }, MAX_EXPONENT = { float32: 127, float64: 1023 };

/** Every power of two of the dtype with both signs, each one's neighbours, and other divisors. */
function divisors(dtype: Dtype): number[] {
  const round = dtype === 'float32' ? f32 : (x: number) => x;
  const out: number[] = [];
  for (let k = MIN_EXPONENT[dtype]; k <= MAX_EXPONENT[dtype]; k++) {
    const p = 2 ** k;
    out.push(p, -p);
    // Neighbours (not powers of two): the same scale, one ulp up and down.
    if (k % 7 === 0) out.push(round(p * (1 + 2 ** -20)), -round(p * (1 - 2 ** -21)));
  }
  return [...out, ...(dtype === 'float32' ? SPECIAL_F32 : SPECIAL_F64), 3, 0.75, 1 - 2 ** -24, 1 + 2 ** -23].map(round);
}

/** Dividends: special values, near-subnormal values, random values, and odd significands at many scales. */
function dividends(dtype: Dtype): number[] {
  const round = dtype === 'float32' ? f32 : (x: number) => x;
  const odd = dtype === 'float32' ? 1 + 2 ** -23 : 1 + 2 ** -52;
  const scaled = [-149, -140, -126, -100, -1, 0, 1, 60, 126, 127].flatMap((k) => [odd * 2 ** k, -3 * 2 ** k, 1.5 * 2 ** k]);
  return [
    ...(dtype === 'float32' ? SPECIAL_F32 : SPECIAL_F64),
    ...fc.sample(nearSubnormal(dtype), { numRuns: 40, seed: 7 }),
    ...fc.sample(values(dtype), { numRuns: 60, seed: 8 }),
    ...scaled,
  ].map(round);
}

for (const dtype of ['float32', 'float64'] as const) {
  for (const subnormals of ['ieee', 'flush'] as const) {
    test(`division by a per-call power of two (a multiplication by its reciprocal) is bit-identical to the interpreter (${dtype}, ${subnormals})`, () => {
      // a divides by s alone; b by t, then s: one copy or the other runs as both, or only s, are powers of two.
      const program: FusedProgram = { dtype, streams: ['updates', 'a', 'b'], scalars: ['s', 't'], outputs: [
        { stream: 'a', expr: ex.div(ex.updates, ex.scalar('s')) },
        { stream: 'b', expr: ex.div(ex.div(ex.mul(ex.updates, ex.updates), ex.scalar('t')), ex.scalar('s')) },
      ] };
      const xs = dividends(dtype);
      const n = xs.length;
      const inputs = { updates: typedArray(dtype, xs), a: typedArray(dtype, xs.map(() => 0)), b: typedArray(dtype, xs.map(() => 0)) };
      const reference = (scalars: number[]) => (subnormals === 'flush' ? withFlushedSubnormals(() => runReference(program, inputs, scalars, n)) : runReference(program, inputs, scalars, n));
      const ss = divisors(dtype);
      for (const unroll of [1, 4] as const) {
        for (const inMemory of [false, true]) {
          const { offsets, bytes } = layout(program, n);
          const slots = inMemory ? scalarSlots(program, n) : undefined;
          const kernelBytes = emitFusedModule(program, { shared: false, maximumPages: 64, unroll, streamOffsets: offsets, scalarOffsets: slots, subnormals });
          const memory = new WebAssembly.Memory({ initial: Math.ceil(Math.max(bytes, ...(slots ?? []).map((o) => o + 8)) / 65536), maximum: 64 });
          const run = new WebAssembly.Instance(new WebAssembly.Module(kernelBytes), kernelImports(memory)).exports.run as KernelFunction;
          const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
          const view = (k: number) => new Ctor(memory.buffer, offsets[k], n);
          const slotView = new DataView(memory.buffer);
          ss.forEach((s, j) => {
            // t: s itself (both powers of two, or neither), or 3 (never one) on every other divisor.
            const scalars = [s, j % 2 === 0 ? s : 3];
            view(0).set(inputs.updates);
            if (slots) slots.forEach((o, k) => slotView.setFloat64(o, scalars[k], true));
            if (slots) run(n, ...offsets);
            else run(n, ...offsets, ...scalars);
            const actual = { updates: view(0).slice(), a: view(1).slice(), b: view(2).slice() };
            assertSameBits(actual, reference(scalars), () => `s = ${show(s)}, t = ${show(scalars[1])}, unroll ${unroll}, scalars ${inMemory ? 'in memory' : 'as parameters'}`);
          });
        }
      }
    });
  }
}

test('normalPowerOfTwo is 1 exactly on the normal powers of two', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const ops = floatOps(dtype);
    const f = new FunctionBuilder('check', [ops.valType], [ValType.i32]);
    normalPowerOfTwo(f, ops, 0);
    const check = new WebAssembly.Instance(new WebAssembly.Module(assembleModule({ shared: false, maximumPages: 1 }, [f])), { env: { memory: new WebAssembly.Memory({ initial: 0, maximum: 1 }) } }).exports.check as (x: number) => number;
    const minNormal = dtype === 'float32' ? 2 ** -126 : 2 ** -1022;
    for (const x of [...divisors(dtype), ...dividends(dtype)]) {
      const normal = Math.abs(x) >= minNormal && Number.isFinite(x);
      const power = normal && 2 ** Math.floor(Math.log2(Math.abs(x))) === Math.abs(x);
      assert.equal(check(x), power ? 1 : 0, `${dtype} ${show(x)}`);
    }
  }
});

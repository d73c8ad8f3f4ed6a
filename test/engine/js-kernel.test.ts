import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { instantiateJsKernel, jsKernelSource } from '../../src/engine/js-kernel.js';
import type { FusedProgram } from '../../src/engine/program.js';
import { ex } from '../../src/kernel/expr.js';
import { withFlushedSubnormals } from '../../src/kernel/interpret.js';
import { cases, describeCase } from './random-programs.js';
import { assertSameBits, runKernel, runReference, scalarSlots } from './wasm/harness.js';

for (const dtype of ['float32', 'float64'] as const) {
  test(`random DAG kernels in plain JS, fused multiply-adds included, are bit-identical to the interpreter (${dtype})`, () => {
    fc.assert(fc.property(cases(dtype, true), (c) => {
      const scalarOffsets = c.scalarsInMemory ? scalarSlots(c.program, c.n, c.base) : undefined;
      const make = (memory: WebAssembly.Memory) => instantiateJsKernel(jsKernelSource(c.program, c.unroll, scalarOffsets), memory.buffer);
      assertSameBits(runKernel(make, c.program, c.inputs, c.scalars, c.n, { base: c.base, scalarOffsets }), runReference(c.program, c.inputs, c.scalars, c.n), () => describeCase(c));
    }), { numRuns: 300, includeErrorInReport: true });
  });
}

for (const dtype of ['float32', 'float64'] as const) {
  test(`random DAG kernels in plain JS in XLA's subnormal mode are bit-identical to the interpreter under withFlushedSubnormals (${dtype})`, () => {
    fc.assert(fc.property(cases(dtype, true, true), (c) => {
      const scalarOffsets = c.scalarsInMemory ? scalarSlots(c.program, c.n, c.base) : undefined;
      const make = (memory: WebAssembly.Memory) => instantiateJsKernel(jsKernelSource(c.program, c.unroll, scalarOffsets, 'flush'), memory.buffer);
      const expected = withFlushedSubnormals(() => runReference(c.program, c.inputs, c.scalars, c.n));
      assertSameBits(runKernel(make, c.program, c.inputs, c.scalars, c.n, { base: c.base, scalarOffsets }), expected, () => describeCase(c));
    }), { numRuns: 300, includeErrorInReport: true });
  });
}

/** A float32 from its bits. */
function fromBits(bits: number): number {
  const u = new Uint32Array([bits >>> 0]);
  return new Float32Array(u.buffer)[0];
}

test('float32 division by a per-call scalar (a multiplication by its reciprocal) is the correctly rounded quotient', () => {
  const program: FusedProgram = { dtype: 'float32', streams: ['updates', 'params'], scalars: ['b'], outputs: [{ stream: 'params', expr: ex.div(ex.updates, ex.scalar('b')) }] };
  assert.match(jsKernelSource(program), /1 \/ s0/, 'the kernel multiplies by the reciprocal');
  const n = 4096;
  const memory = new ArrayBuffer(2 * n * 4);
  const a = new Float32Array(memory, 0, n), out = new Float32Array(memory, n * 4, n);
  const run = instantiateJsKernel(jsKernelSource(program), memory);
  const random = fc.sample(fc.integer({ min: 0, max: 0xffffffff }), { numRuns: 6000, seed: 42 });
  // Divisors: random bit patterns, small integers (whose reciprocals are inexact), powers of two,
  // subnormals, zeros, infinities, NaN. Dividends: random bit patterns and the values that make
  // subnormal or midpoint quotients with them.
  const divisors = [...random.slice(0, 500).map(fromBits), 3, 6, 7, 10, 0.1, 1 / 3, 2 ** -149, 2 ** -140, 2 ** -126, 2 ** 127, 0, -0, Infinity, -Infinity, NaN].map(Math.fround);
  let checked = 0;
  for (const b of divisors) {
    for (let i = 0; i < n; i++) {
      a[i] = i < 64 ? Math.fround(b * (i + 1) * 2 ** -149) : i < 128 ? (i - 64) * 2 ** -149 : fromBits(random[(i * 7 + checked) % random.length] ^ (i << 3));
    }
    run(n, 0, n * 4, b);
    for (let i = 0; i < n; i++) {
      const expected = Math.fround(a[i] / b);
      if (!Object.is(out[i], expected) && !(Number.isNaN(out[i]) && Number.isNaN(expected))) assert.fail(`${a[i]} / ${b}: kernel ${out[i]}, correctly rounded ${expected}`);
    }
    checked += n;
  }
  // Subnormal quotients can be exact midpoints of the float32 grid (e.g. 147 * 2^-149 / 98), where a
  // reciprocal is not enough: the kernel must divide there.
  for (let B = 2; B <= 1000; B += 2) {
    for (let i = 0; i < n; i++) a[i] = i * 2 ** -149;
    run(n, 0, n * 4, B);
    for (let i = 0; i < n; i++) if (out[i] !== Math.fround(a[i] / B)) assert.fail(`${a[i]} / ${B}: kernel ${out[i]}, correctly rounded ${Math.fround(a[i] / B)}`);
    checked += n;
  }
  assert.ok(checked > 4e6);
});

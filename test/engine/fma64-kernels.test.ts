import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FusedProgram, KernelFunction } from '../../src/engine/program.js';
import { instantiateJsKernel, jsKernelSource } from '../../src/engine/js-kernel.js';
import { emitFusedModule } from '../../src/engine/wasm/fused-module.js';
import { kernelImports } from '../../src/engine/wasm/instantiate.js';
import { ex } from '../../src/kernel/expr.js';
import { FLOAT64, exactFma, hostileFloat64, words } from '../core/fma-oracle.js';
import { runKernel, runWasm } from './wasm/harness.js';

/**
 * The kernels' float64 fma (the WebAssembly emulation, vector lanes and scalar code, and the plain-JS
 * kernel) on the hostile operands of the core tests, against the integer oracle: every lane, with
 * hostile and ordinary lanes side by side in one vector.
 */
const PER_KIND = 6000;

function hostileTriples(seed: number): { a: number[]; b: number[]; c: number[]; kinds: string[] } {
  const kinds = Object.entries(hostileFloat64(words(seed)));
  const a: number[] = [], b: number[] = [], c: number[] = [], names: string[] = [];
  for (let i = 0; i < PER_KIND; i++) {
    for (const [name, make] of kinds) {
      const [x, y, z] = make();
      a.push(x); b.push(y); c.push(z); names.push(name);
    }
    // Ordinary lanes between them, so that a vector mixes a fast lane with an edge one.
    a.push(1 + i * 2 ** -20); b.push(3 - i * 2 ** -30); c.push(-1 / (i + 1)); names.push('ordinary');
  }
  a.push(0.5); b.push(2); c.push(1); names.push('ordinary'); // an odd count: the scalar tail runs too
  return { a, b, c, kinds: names };
}

function check(what: string, got: ArrayLike<number>, t: ReturnType<typeof hostileTriples>): void {
  for (let i = 0; i < t.a.length; i++) {
    const expected = exactFma(t.a[i], t.b[i], t.c[i], FLOAT64);
    if (!Object.is(got[i], expected) && !(Number.isNaN(got[i]) && Number.isNaN(expected))) assert.fail(`${what}, ${t.kinds[i]} lane ${i % 2}: fma(${t.a[i]}, ${t.b[i]}, ${t.c[i]}) = ${got[i]}, exact ${expected}`);
  }
}

const program: FusedProgram = { dtype: 'float64', streams: ['updates', 'params', 'a'], scalars: [], outputs: [{ stream: 'a', expr: ex.fma(ex.updates, ex.params, ex.state('a')) }] };

test('float64 fma in WebAssembly kernels (vector lanes and scalar tail) equals the integer oracle on hostile operands', () => {
  const t = hostileTriples(7);
  const inputs = { updates: Float64Array.from(t.a), params: Float64Array.from(t.b), a: Float64Array.from(t.c) };
  for (const unroll of [1, 2] as const) {
    check(`wasm (unroll ${unroll})`, runWasm(emitFusedModule(program, { shared: false, maximumPages: 256, unroll }), program, inputs, [], t.a.length, { maximumPages: 256 }).a, t);
  }
});

test('float64 fma of per-call scalars (the WebAssembly scalar code) equals the integer oracle on hostile operands', () => {
  const t = hostileTriples(8);
  const uniform: FusedProgram = { dtype: 'float64', streams: ['updates', 'params'], scalars: ['x', 'y', 'z'], outputs: [{ stream: 'params', expr: ex.fma(ex.scalar('x'), ex.scalar('y'), ex.scalar('z')) }] };
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
  const run = new WebAssembly.Instance(new WebAssembly.Module(emitFusedModule(uniform, { shared: false, maximumPages: 1 })), kernelImports(memory)).exports.run as (...args: number[]) => void;
  const out = new Float64Array(memory.buffer, 64, 1), got: number[] = [];
  for (let i = 0; i < 7000; i++) {
    run(1, 0, 64, t.a[i], t.b[i], t.c[i]);
    got.push(out[0]);
  }
  check('wasm scalar', got, { a: t.a.slice(0, 7000), b: t.b.slice(0, 7000), c: t.c.slice(0, 7000), kinds: t.kinds });
});

test('float64 fma in plain-JS kernels equals the integer oracle on hostile operands', () => {
  const t = hostileTriples(9);
  const inputs = { updates: Float64Array.from(t.a), params: Float64Array.from(t.b), a: Float64Array.from(t.c) };
  const make = (memory: WebAssembly.Memory): KernelFunction => instantiateJsKernel(jsKernelSource(program, 2), memory.buffer);
  check('js kernel', runKernel(make, program, inputs, [], t.a.length, { maximumPages: 256 }).a, t);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fma32 } from '../../../src/core/fused-multiply-add.js';
import type { FusedProgram } from '../../../src/engine/program.js';
import { emitFusedModule } from '../../../src/engine/wasm/fused-module.js';
import { ex } from '../../../src/kernel/expr.js';
import { runWasm, typedArray } from './harness.js';
import { MULTIPLICANDS, checkFloat32Fma, hostilePairs } from './fma-cases.js';

const f32 = Math.fround;

test('float32 fma with a per-call multiplicand: checked by the sum\'s bits on the 2^-30 grid, by probes off it, bit-identical to the exact fma on hostile sums', () => {
  let wrongOnGrid = 0;
  for (const s of MULTIPLICANDS) {
    const { y, c } = hostilePairs(s, 100 + MULTIPLICANDS.indexOf(s));
    const onGrid = Number.isInteger(s * 2 ** 30);
    for (let i = 0; i < y.length; i++) if (onGrid && f32(s * y[i] + c[i]) !== fma32(s, y[i], c[i])) wrongOnGrid++;
  }
  // The cases are hostile where the bits check runs: rounding the float64 sum to float32 is wrong on many.
  assert.ok(wrongOnGrid > 300, `only ${wrongOnGrid} on-grid cases where the float64 sum rounds wrongly`);
  assert.ok(checkFloat32Fma({ relaxedMadd: false }) > 10_000);
});

test('two float32 fmas by per-call multiplicands, each a power of two or not, on the grid or not: every main-loop copy is bit-identical to the exact fma', () => {
  const scalars = [0.5, 0.25, 0.1, 1 / 3, 0.9, 2 ** -24 * (1 + 2 ** -23), 2 ** -40].map(f32);
  const program: FusedProgram = {
    dtype: 'float32', streams: ['updates', 'params', 'a'], scalars: ['s', 't'],
    outputs: [{ stream: 'a', expr: ex.fma(ex.scalar('t'), ex.fma(ex.updates, ex.scalar('s'), ex.state('a')), ex.updates) }],
  };
  const modules = ([1, 2] as const).map((unroll) => emitFusedModule(program, { shared: false, maximumPages: 64, unroll }));
  for (const s of scalars) {
    for (const t of scalars) {
      const { y, c } = hostilePairs(s, 7);
      const inputs = { updates: typedArray('float32', y), params: typedArray('float32', y.map(() => 0)), a: typedArray('float32', c) };
      for (const bytes of modules) {
        const actual = runWasm(bytes, program, inputs, [s, t], y.length);
        for (let i = 0; i < y.length; i++) {
          const yi = inputs.updates[i], expected = fma32(t, fma32(yi, s, inputs.a[i]), yi);
          if (!Object.is(actual.a[i], expected) && !(Number.isNaN(actual.a[i]) && Number.isNaN(expected))) assert.fail(`fma(${t}, fma(${yi}, ${s}, ${inputs.a[i]}), ${yi}): wasm ${actual.a[i]}, exact ${expected}`);
        }
      }
    }
  }
});

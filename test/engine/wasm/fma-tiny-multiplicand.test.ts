import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fusedMultiplyAdd } from '../../../src/core/fused-multiply-add.js';
import type { FusedProgram } from '../../../src/engine/program.js';
import { emitFusedModule } from '../../../src/engine/wasm/fused-module.js';
import { ex } from '../../../src/kernel/expr.js';
import { runWasm, typedArray } from './harness.js';

// A per-call multiplicand r is tested once per call for being a power of two (the shortcut
// fl(x * r) + c). That test is exact only where |r| * ulp(1) is normal: in the lowest binades every
// r used to pass it, and the vector loop then rounded twice (random DAG seed 1802329228:
// fma(s, 0.999, s) with s = 1.7632415e-38 gave 3.5247197e-38, one ulp below the fma).
for (const dtype of ['float32', 'float64'] as const) {
  test(`${dtype} fma by a per-call multiplicand in the lowest binades (below ${dtype === 'float32' ? '2^-103' : '2^-970'}) is bit-identical to the exact fma in every lane`, () => {
    const program: FusedProgram = {
      dtype, streams: ['updates', 'b'], scalars: ['s'],
      outputs: [{ stream: 'updates', expr: ex.fma(ex.scalar('s'), ex.state('b'), ex.scalar('s')) }, { stream: 'b', expr: ex.fma(ex.scalar('s'), ex.state('b'), ex.updates) }],
    };
    const modules = ([1, 2] as const).map((unroll) => emitFusedModule(program, { shared: false, maximumPages: 64, unroll }));
    const round = dtype === 'float32' ? Math.fround : (x: number) => x;
    const min = dtype === 'float32' ? 2 ** -126 : 2 ** -1022, top = (dtype === 'float32' ? 2 ** -103 : 2 ** -970) * 4;
    const seen = { regression: false };
    fc.assert(fc.property(
      fc.double({ min, max: top, noNaN: true }).map(round),
      fc.array(fc.double({ min: -4, max: 4, noNaN: true }).map(round), { minLength: 9, maxLength: 9 }),
      fc.array(fc.double({ min: -top, max: top, noNaN: true }).map(round), { minLength: 9, maxLength: 9 }),
      (s, b, c) => {
        const scalars = [s];
        if (dtype === 'float32' && s === Math.fround(1.7632415262334313e-38)) seen.regression = true;
        const inputs = { updates: typedArray(dtype, c), b: typedArray(dtype, b) };
        for (const bytes of modules) {
          const actual = runWasm(bytes, program, inputs, scalars, b.length);
          for (let i = 0; i < b.length; i++) {
            assert.ok(Object.is(actual.updates[i], fusedMultiplyAdd(dtype, s, inputs.b[i], s)), `fma(${s}, ${inputs.b[i]}, ${s}): wasm ${actual.updates[i]}`);
            assert.ok(Object.is(actual.b[i], fusedMultiplyAdd(dtype, s, inputs.b[i], inputs.updates[i])), `fma(${s}, ${inputs.b[i]}, ${inputs.updates[i]}): wasm ${actual.b[i]}`);
          }
        }
      }), { numRuns: 300, examples: dtype === 'float32' ? [[Math.fround(1.7632415262334313e-38), new Array(9).fill(Math.fround(0.999)), new Array(9).fill(Math.fround(1.7632415262334313e-38))]] : [] });
    if (dtype === 'float32') assert.ok(seen.regression);
  });
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fma32 } from '../../../src/core/fused-multiply-add.js';
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

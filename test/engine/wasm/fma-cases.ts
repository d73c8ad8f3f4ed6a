/**
 * Hostile float32 fma operands shared by the WebAssembly fma tests: sums that the float64 sum
 * rounded again to float32 gets wrong, for per-call multiplicands on and off the 2^-30 grid.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FusedProgram } from '../../../src/engine/program.js';
import { emitFusedModule } from '../../../src/engine/wasm/fused-module.js';
import { ex } from '../../../src/kernel/expr.js';
import { fma32 } from '../../../src/core/fused-multiply-add.js';
import { SPECIAL_F32 } from '../random-programs.js';
import { runWasm, typedArray } from './harness.js';

const f32 = Math.fround;

/** The float32 ulp at |r| (the gap above it), as an exponent E (ulp = 2^E). */
function ulpExponent(r: number): number {
  const m = Math.abs(r);
  return m < 2 ** -126 ? -149 : Math.floor(Math.log2(m)) - 23;
}

/**
 * `(y, c)` pairs for a per-call multiplicand `s` whose sums `s * y + c` are hostile to rounding the
 * float64 sum to float32: a product of +-half an ulp of `c` (a tie in the sum) off by 2^-46 relative
 * (inexact in float64, so the float64 sum may land on the midpoint), exactly and nudged by a few
 * float32 ulps; products that cancel `c` down to the subnormal range; and random values.
 */
export function hostilePairs(s: number, seed: number): { y: number[]; c: number[] } {
  const y: number[] = [], c: number[] = [];
  const rs = fc.sample(fc.float({ noNaN: true, noDefaultInfinity: true, min: f32(-3e38), max: f32(3e38) }), { numRuns: 300, seed });
  rs.push(2 ** -149, 3 * 2 ** -149, 2 ** -126, 2 ** -126 - 2 ** -149, 2 ** -125 + 2 ** -148, 1, 1 - 2 ** -24, 3, 2 ** 127 * (2 - 2 ** -23), 2 ** 127 * (2 - 2 ** -22), 0);
  const finite = Number.isFinite(s) && s !== 0;
  for (const r0 of rs) {
    const r = f32(r0);
    // s * y = +-2^(E-1) (1 - 2^-46) when s = 2^e (1 + 2^-23): y = 2^(E-1-e) (1 - 2^-23).
    const e = finite ? Math.floor(Math.log2(Math.abs(s))) : 0;
    const half = ulpExponent(r) - 1;
    for (const nudge of [0, 2 ** -23, -(2 ** -23), 3 * 2 ** -22]) {
      for (const sign of [1, -1]) {
        y.push(f32(sign * 2 ** (half - e) * (1 - 2 ** -23 + nudge)));
        c.push(r);
        y.push(f32(sign * 2 ** (half - e) * (1 - 2 ** -23 + nudge)));
        c.push(-r);
      }
    }
    // Cancellation into (and next to) the subnormal range: c = -fl(s * y) + k 2^-149.
    const yv = f32(r0 * 2 ** -20);
    y.push(yv, yv);
    const p = f32(s * yv);
    c.push(Number.isFinite(p) ? f32(-p + 2 ** -149 * (rs.length % 7)) : 1, Number.isFinite(p) ? f32(-p - 2 ** -140) : -1);
  }
  const rng = fc.sample(fc.float({ noNaN: true, noDefaultInfinity: true }), { numRuns: 400, seed: seed + 1 });
  rng.forEach((v, i) => { y.push(v); c.push(rng[(i * 13 + 5) % rng.length]); });
  // Sums below 2^-126: tiny products and subnormal c.
  for (let k = 0; k < 200; k++) {
    y.push(f32((k % 2 ? -1 : 1) * 2 ** -(120 + (k % 29)) * (1 + k * 2 ** -17)));
    c.push(f32((k % 3 ? 1 : -1) * 2 ** -149 * ((k * 7919) % 2 ** 23)));
  }
  for (const p of SPECIAL_F32) for (const q of SPECIAL_F32) { y.push(p); c.push(q); }
  return { y, c };
}

/**
 * Per-call multiplicands: on the 2^-30 grid (the bits check: adamax's 1 - b1 and b1, 1/3, numbers
 * whose last bit is exactly 2^-30 or above), off it (the probes: last bit 2^-31, 2^-33, and 2^-47,
 * where `2^-24 (1 + 2^-23) * 2^-126 (1 - 2^-23)` is 2^-150 (1 - 2^-46): with an odd multiple of
 * 2^-149 its float64 sum is a subnormal midpoint that the exact sum is not), powers of two
 * (MultiSteps' shortcut first), subnormal, huge, zeros and specials.
 */
export const MULTIPLICANDS = [0.1, 0.9, 1 - 0.999, 0.999, 1 / 3, 2 ** -7 * (1 + 2 ** -23), -(2 ** -7) * (1 + 2 ** -23), 2 ** 5 * (1 + 2 ** -23), 2 ** -8 * (1 + 2 ** -23),
  2 ** -10 * (1 + 2 ** -23), 2 ** -24 * (1 + 2 ** -23), -(2 ** -24) * (1 + 2 ** -23), 0.001, 0.5, 2 ** -20, 2 ** 100 * (1 + 2 ** -23), 2 ** -140, 1.5 * 2 ** -149, 0, -0, Infinity, -Infinity, NaN].map(f32);

/**
 * Runs every multiplicand's hostile pairs through float32 kernels `fma(s, y, c)` and `fma(y, s, c)`
 * (s a per-call scalar), and `fma(y, c, s)` (no scalar multiplicand: the general vector code),
 * with unroll 1 and 2 and the cases shifted across lanes, emitted with `options`; fails on the first
 * result that is not the exact fma's bits (NaNs aside). Returns how many results it compared.
 */
export function checkFloat32Fma(options: { relaxedMadd: boolean }): number {
  let compared = 0;
  MULTIPLICANDS.forEach((s, k) => {
    const { y, c } = hostilePairs(s, 100 + k);
    const forms = [['a', ex.fma(ex.scalar('s'), ex.updates, ex.state('a'))], ['b', ex.fma(ex.updates, ex.scalar('s'), ex.state('a'))], ['none', ex.fma(ex.updates, ex.state('a'), ex.params)]] as const;
    for (const [which, expr] of forms) {
      const program: FusedProgram = { dtype: 'float32', streams: ['updates', 'params', 'a'], scalars: ['s'], outputs: [{ stream: 'a', expr }] };
      for (const unroll of [1, 2] as const) {
        for (const shift of which === 'none' ? [0] : [0, 1, 3]) {
          const n = y.length;
          const at = (arr: number[], i: number): number => arr[(i + shift) % n];
          const inputs = { updates: typedArray('float32', y.map((_, i) => at(y, i))), params: typedArray('float32', y.map(() => s)), a: typedArray('float32', c.map((_, i) => at(c, i))) };
          const actual = runWasm(emitFusedModule(program, { shared: false, maximumPages: 64, unroll, relaxedMadd: options.relaxedMadd }), program, inputs, [s], n);
          for (let i = 0; i < n; i++) {
            const yi = inputs.updates[i], ci = inputs.a[i];
            const expected = which === 'a' ? fma32(s, yi, ci) : which === 'b' ? fma32(yi, s, ci) : fma32(yi, ci, s);
            compared++;
            if (!Object.is(actual.a[i], expected) && !(Number.isNaN(actual.a[i]) && Number.isNaN(expected))) {
              assert.fail(`fma (${which} = ${s}): (${yi}, ${ci}) wasm ${actual.a[i]}, exact ${expected} (unroll ${unroll}, shift ${shift}, relaxedMadd ${options.relaxedMadd})`);
            }
          }
        }
      }
    }
  });
  return compared;
}

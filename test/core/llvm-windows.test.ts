/**
 * optax-ts's order inside XLA:CPU's reduce windows against LLVM's bits, without LLVM: the window sums
 * (and leaf sums) of XLA's reduce-window kernels compiled by LLVM 22 and 19 with XLA's target and
 * pipeline, recorded by scripts/llvm-reduce-order/fixture.ts (docs/numerics.md §3, "Windows, inside").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { reduceWindowTerms, valueTerms, xlaReduceSum, xlaReduceWindows } from '../../src/core/xla-reduce-sum.js';
import { type LlvmWindowCase as Case, floatBits as bits, hostileValues, orderSensitiveValues } from './order-sensitive-values.js';

const fixture = JSON.parse(readFileSync(new URL('./llvm-windows.json', import.meta.url), 'utf8')) as { llvm: string[]; cases: Case[] };

/** A recorded bit pattern, any NaN made canonical (x86 gives inf - inf a negative NaN; JS does not keep NaN signs). */
function recorded(dtype: 'f32' | 'f64', hex: string): string {
  const v = dtype === 'f32' ? new DataView(Uint32Array.of(parseInt(hex, 16)).buffer).getFloat32(0, true) : new DataView(BigUint64Array.of(BigInt(`0x${hex}`)).buffer).getFloat64(0, true);
  return Number.isNaN(v) ? bits(dtype, v) : hex;
}

test('the fixture covers both dtypes, both data sets, padded and unpadded last dimensions, from two LLVMs', () => {
  assert.deepEqual(fixture.llvm, ['opt-22', 'opt-19']);
  const { cases } = fixture;
  for (const dtype of ['f32', 'f64'] as const) {
    for (const data of ['order', 'hostile'] as const) {
      const some = cases.filter((c) => c.dtype === dtype && c.data === data);
      assert.ok(some.filter((c) => xlaReduceWindows(c.shape).levels[0].laneRows).length >= 50, `${dtype} ${data}: padded`);
      assert.ok(some.some((c) => !xlaReduceWindows(c.shape).levels[0].laneRows), `${dtype} ${data}: unpadded`);
    }
  }
  // The lanes are LLVM's: float32 8 by 4, float64 4 by 4, wherever the last dimension is padded (both LLVMs).
  for (const c of cases) {
    if (xlaReduceWindows(c.shape).levels[0].laneRows) assert.deepEqual(c.vf, c.dtype === 'f32' ? ['8x4', '8x4'] : ['4x4', '4x4'], `${c.dtype} [${c.shape}]`);
  }
});

test('every window sum LLVM computes equals optax-ts\'s (in order, or in lanes where the last dimension is padded), and every leaf sum whose final reduce LLVM does not vectorize', () => {
  let windows = 0, sums = 0;
  for (const c of fixture.cases) {
    const n = c.shape.reduce((a, b) => a * b, 1);
    const x = (c.data === 'order' ? orderSensitiveValues : hostileValues)(c.dtype, n, c.seed);
    const dtype = c.dtype === 'f32' ? 'float32' : 'float64';
    const terms = reduceWindowTerms(valueTerms(dtype, x), xlaReduceWindows(c.shape).levels[0]);
    const got = c.windows.map((_, w) => bits(c.dtype, terms.run(w, w + 1, -0)));
    assert.deepEqual(got, c.windows.map((h) => recorded(c.dtype, h)), `${c.dtype} [${c.shape}] ${c.data}`);
    windows += got.length;
    if (c.sum !== undefined) {
      assert.equal(bits(c.dtype, xlaReduceSum(valueTerms(dtype, x), c.shape)), recorded(c.dtype, c.sum), `${c.dtype} [${c.shape}] ${c.data}: leaf sum`);
      sums++;
    }
  }
  assert.ok(windows > 2000 && sums > 200, `${windows} windows, ${sums} leaf sums`);
});

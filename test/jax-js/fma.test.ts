import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import fc from 'fast-check';
import { fma32 } from '../../src/core/fused-multiply-add.js';
import { fmaFloat32 } from '../../src/jax-js/fma.js';
import type { JaxArray } from '../../src/jax-js/index.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

const view = new DataView(new ArrayBuffer(4));
const float32 = (bits: number): number => { view.setUint32(0, bits >>> 0); return view.getFloat32(0); };
const MAX = float32(0x7f7fffff);

/** Float32 operands whose product, added to c, lands (in double) on a float32 rounding boundary beside the exact value. */
function nearBoundary(c: number, side: number, u: number, scaleBits: number): [number, number, number] {
  const ac = Math.abs(c);
  const e = ac === 0 ? -149 : Math.max(Math.floor(Math.log2(ac)) - 23, -149);
  const h = Math.sign(side) * 2 ** (e - 1) * (c < 0 ? -1 : 1);
  return [Math.fround(2 ** scaleBits * (1 + u * 2 ** -23)), Math.fround((h / 2 ** scaleBits) * (1 - u * 2 ** -23)), c];
}

/** Hostile triples: double-rounding boundaries in every binade, subnormals, the overflow threshold, zeros, specials, random bit patterns. */
function hostile(): [number, number, number][] {
  const cases: [number, number, number][] = [
    [Math.fround(1 + 2 ** -23), Math.fround(2 ** -24 * (1 - 2 ** -23)), Math.fround(1 + 2 ** -23)],
    [Math.fround(1 + 2 ** -23), Math.fround(2 ** 103 * (1 - 2 ** -23)), MAX],
    [-Math.fround(1 + 2 ** -23), Math.fround(2 ** 103 * (1 - 2 ** -23)), -MAX],
    [Math.fround(1 + 2 ** -23), Math.fround(2 ** 103 * (1 + 2 ** -23)), MAX],
    [Math.fround(2 ** -75 * (1 + 2 ** -23)), Math.fround(2 ** -75 * (1 - 2 ** -23)), 0],
    [Math.fround(2 ** -75 * (1 + 2 ** -23)), Math.fround(2 ** -75 * (1 - 2 ** -23)), float32(1)],
    [Math.fround(2 ** -75 * (1 + 2 ** -23)), Math.fround(2 ** -75 * (1 - 2 ** -23)), float32(0x007fffff)],
    [-Math.fround(2 ** -75 * (1 + 2 ** -23)), Math.fround(2 ** -75 * (1 - 2 ** -23)), -float32(3)],
    [Math.fround(1 + 2 ** -23), 0.5, 0], [3, 2 ** -25, 1], [0, 5, -0], [-0, 5, -0], [-0, 5, 0], [2, 3, -6], [-2, 3, 6],
    [Infinity, 1, 2], [Infinity, 0, 1], [NaN, 1, 1], [1, 1, NaN], [Infinity, 1, -Infinity], [MAX, 2, -MAX], [MAX, 2, MAX], [MAX, 1, MAX], [2 ** 64, 2 ** 64, -MAX],
  ];
  fc.assert(fc.property(fc.integer({ min: 0, max: 0x7f7fffff }), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 64 }), fc.integer({ min: -40, max: 40 }), (cb, negative, up, u, scale) => {
    const c = negative ? -float32(cb) : float32(cb);
    const [a, b] = nearBoundary(c, up ? 1 : -1, u, scale);
    if (![a, b].every(Number.isFinite)) return;
    cases.push([a, b, c], [b, a, c], [-a, b, -c]);
  }), { numRuns: 1500, seed: 7 });
  const f = fc.integer({ min: 0, max: 0xffffffff }).map(float32);
  fc.assert(fc.property(f, f, f, (a, b, c) => { cases.push([a, b, c]); }), { numRuns: 1500, seed: 8 });
  return cases;
}

const same = (x: number, y: number): boolean => Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y));

function check(got: ArrayLike<number>, cases: readonly [number, number, number][], how: string): void {
  let wrongUnfused = 0;
  cases.forEach(([a, b, c], i) => {
    const expected = fma32(a, b, c);
    if (!same(Math.fround(a * b + c), expected)) wrongUnfused++;
    assert.ok(same(got[i], expected), `${how}: fma(${a}, ${b}, ${c}) = ${got[i]}, expected ${expected}`);
  });
  // The cases do exercise the double rounding the construction corrects.
  assert.ok(wrongUnfused > 1000, `only ${wrongUnfused} double-rounding cases`);
}

const column = (cases: readonly [number, number, number][], k: number): JaxArray => np.array(Float32Array.from(cases, (t) => t[k]));

test('the float32 fma from float64 jax-js ops equals core/fused-multiply-add.ts on hostile values, eagerly and inside jit', async () => {
  const cases = hostile();
  const eager = fmaFloat32(column(cases, 0), column(cases, 1), column(cases, 2)) as JaxArray;
  check(await eager.data(), cases, 'eager');
  const jitted = jax.jit((a: JaxArray, b: JaxArray, c: JaxArray) => fmaFloat32(a, b, c) as JaxArray);
  check(await jitted(column(cases, 0), column(cases, 1), column(cases, 2)).data(), cases, 'jit');
});

test('with constant operands (numbers, as a kernel\'s per-step scalars): the same bits inside jit', async () => {
  const cases = hostile().slice(0, 3000);
  // Group by the constant so each group is one jitted call with that constant baked in.
  for (const k of [0, 1, 2] as const) {
    // A Set keeps one of 0 and -0: -0 is added by hand.
    const constants = [...new Set(cases.slice(0, 40).map((t) => t[k])), -0];
    for (const v of constants) {
      const group = cases.filter((t) => Object.is(t[k], v)).concat(cases.slice(0, 200).map((t) => t.map((x, j) => (j === k ? v : x)) as [number, number, number]));
      const args = [0, 1, 2].map((j) => (j === k ? v : column(group, j)));
      const fn = jax.jit((x: JaxArray, y: JaxArray) => {
        const it = [x, y][Symbol.iterator]();
        const ops = args.map((a) => (typeof a === 'number' ? a : it.next().value!));
        return fmaFloat32(ops[0], ops[1], ops[2]) as JaxArray;
      });
      const arrays = args.filter((a): a is JaxArray => typeof a !== 'number');
      const got = await fn(arrays[0], arrays[1]).data();
      group.forEach(([a, b, c], i) => assert.ok(same(got[i], fma32(a, b, c)), `constant operand ${k} = ${v}: fma(${a}, ${b}, ${c}) = ${got[i]}, expected ${fma32(a, b, c)}`));
    }
  }
});

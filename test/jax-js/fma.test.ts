import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import fc from 'fast-check';
import { fma32, fma64 } from '../../src/core/fused-multiply-add.js';
import { fmaFromOps } from '../../src/jax-js/fma-ops.js';
import { KernelAnchors, float64Array } from '../../src/jax-js/constants.js';
import { fmaFloat32, withFloat32OpsFma } from '../../src/jax-js/fma.js';
import { adamax, adamaxw, applyIfFinite, multiSteps, skipNotFinite, warmupCosineDecaySchedule } from '../../src/index.js';
import { runBoth } from './helpers.js';
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

test('the float32 fma from float32 ops only (the webgl/webgpu algorithm, shared with tfjs) equals fma32 on hostile values on the wasm device, eagerly and inside jit, constants too', async () => {
  const anchors = new KernelAnchors();
  const k = (c: number) => anchors.literal('float32', c);
  const cases = hostile();
  const eager = fmaFromOps('float32', column(cases, 0), column(cases, 1), column(cases, 2), k);
  check(await eager.data(), cases, 'eager');
  const jitted = jax.jit((a: JaxArray, b: JaxArray, c: JaxArray) => fmaFromOps('float32', a, b, c, k));
  check(await jitted(column(cases, 0), column(cases, 1), column(cases, 2)).data(), cases, 'jit');
  // A number operand (a per-step scalar), -0 included.
  for (const v of [0, -0, 1, Math.fround(0.9), MAX, 2 ** -149]) {
    const group = cases.slice(0, 300);
    for (const j of [0, 2]) {
      const args = [0, 1, 2].map((i) => (i === j ? v : column(group, i)));
      const got = await jax.jit((x: JaxArray, y: JaxArray) => { const it = [x, y][Symbol.iterator](); return fmaFromOps('float32', ...(args.map((a) => (typeof a === 'number' ? a : it.next().value!)) as [JaxArray, JaxArray, JaxArray]), k); })(...(args.filter((a) => typeof a !== 'number') as [JaxArray, JaxArray])).data();
      group.forEach((t, i) => { const x = t.map((y, m) => (m === j ? v : y)); assert.ok(same(got[i], fma32(x[0], x[1], x[2])), `fma(${x}) with operand ${j} = ${v}: ${got[i]}`); });
    }
  }
  anchors.dispose();
});

/** Float64 operand families, each aimed at a part of fmaFloat64FromOps (its comment says why each can go wrong). */
function hostile64(): [number, number, number][] {
  let seed = 1;
  const rnd = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const dv = new DataView(new ArrayBuffer(8));
  const anyDouble = () => { dv.setUint32(0, Math.floor(rnd() * 2 ** 32)); dv.setUint32(4, Math.floor(rnd() * 2 ** 32)); return dv.getFloat64(0); };
  const moderate = () => (rnd() * 2 - 1) * 2 ** Math.floor(rnd() * 200 - 100);
  const short = () => 1 + Math.floor(rnd() * 2 ** 26) / 2 ** 26;
  const sign = () => (rnd() < 0.5 ? -1 : 1);
  const M = Number.MAX_VALUE;
  const families: (() => [number, number, number])[] = [
    () => [moderate(), moderate(), moderate()],
    // c cancels the product: the exact result is the product's rounding error
    () => { const a = moderate(), b = moderate(); return [a, b, -a * b * (1 + (rnd() - 0.5) * 2 ** -40)]; },
    () => [anyDouble(), anyDouble(), anyDouble()],
    // products of 27-bit significands beside powers of two: sums on a midpoint, pushed off by the product's error
    () => [short(), short(), sign() * 2 ** Math.floor(rnd() * 60 + 1)],
    () => { const a = short() * 2 ** Math.floor(rnd() * 40 - 20), b = short(); return [a, b, sign() * 2 ** Math.floor(Math.log2(a * b) + 1 + rnd() * 5)]; },
    // the edges of the exact region: products beyond 2^995 or below 2^-960, factors beyond 2^995, c beyond 2^1000, results near overflow
    () => [moderate() * 2 ** 900, moderate() * 2 ** 20, moderate() * 2 ** 950],
    () => [(1 + rnd()) * 2 ** (996 + Math.floor(rnd() * 27)), (1 + rnd()) * 2 ** -(Math.floor(rnd() * 60) + 30), moderate()],
    () => [moderate() * 2 ** 400, moderate() * 2 ** 500, sign() * (1 + rnd()) * 2 ** (1000 + Math.floor(rnd() * 24))],
    () => [1 + Math.floor(rnd() * 8) * 2 ** -52, 2 ** (970 + Math.floor(rnd() * 4)), sign() * M],
    () => [moderate() * 2 ** -450, moderate() * 2 ** -450, moderate() * 2 ** -900],
    () => [(1 + rnd()) * 2 ** -480, (1 + rnd()) * 2 ** -481, (rnd() - 0.5) * 2 ** -(1000 + Math.floor(rnd() * 70))],
    () => [anyDouble() * 2 ** -1000, (1 + rnd()) * 2 ** 100, (rnd() - 0.5) * 2 ** -1010],
    () => { const s = [0, -0, Infinity, -Infinity, NaN, 1, -1, 5e-324, M][Math.floor(rnd() * 9)]; return [moderate(), rnd() < 0.5 ? s : moderate(), rnd() < 0.5 ? s : -s]; },
  ];
  return families.flatMap((make) => Array.from({ length: 3000 }, make));
}

test('the float64 fma from float64 ops equals fma64 (the pure path\'s) on hostile values, eagerly and inside jit', async () => {
  const anchors = new KernelAnchors();
  const k = (c: number) => anchors.literal('float64', c);
  const cases = hostile64();
  const col = (j: number) => float64Array(cases.map((t) => t[j]));
  let unfused = 0;
  for (const [how, f] of [['eager', (a: JaxArray, b: JaxArray, c: JaxArray) => fmaFromOps('float64', a, b, c, k)], ['jit', jax.jit((a: JaxArray, b: JaxArray, c: JaxArray) => fmaFromOps('float64', a, b, c, k))]] as const) {
    const got = await f(col(0), col(1), col(2)).data();
    unfused = 0;
    cases.forEach(([a, b, c], i) => {
      // Products beyond 2^995 or below 2^-960 in magnitude: the plain a * b + c (documented in
      // fmaFloat64FromOps; fma64 now rounds those exactly, not yet reproduced here).
      const size = Math.abs(a * b);
      const want = size >= 2 ** -960 && size <= 2 ** 995 ? fma64(a, b, c) : a * b + c;
      if (!same(a * b + c, want)) unfused++;
      assert.ok(same(got[i], want), `${how}: fma(${a}, ${b}, ${c}) = ${got[i]}, expected ${want}`);
    });
  }
  assert.ok(unfused > 3000, `only ${unfused} double-rounding cases`);
  // Number operands (per-step scalars), through the anchors.
  const group = cases.slice(0, 500);
  for (const v of [0, -0, 1, 0.9, 2 ** 1000, 2 ** -1000]) {
    const got = await jax.jit((a: JaxArray, b: JaxArray) => fmaFromOps('float64', a, v, b, k))(float64Array(group.map((t) => t[0])), float64Array(group.map((t) => t[2]))).data();
    group.forEach(([a, , c], i) => { const size = Math.abs(a * v); const want = size >= 2 ** -960 && size <= 2 ** 995 ? fma64(a, v, c) : a * v + c; assert.ok(same(got[i], want), `fma(${a}, ${v}, ${c}) = ${got[i]}`); });
  }
  anchors.dispose();
});

test('applyIfFinite and multiSteps with the float32-ops fma forced on the wasm device (what webgl and webgpu run): bit-identical to the pure path', async () => {
  const schedule = warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.05, warmupSteps: 3, decaySteps: 12, endValue: 0.001 });
  const poison = (i: number): number | undefined => (i === 3 || i === 4 ? NaN : i === 6 ? Infinity : undefined);
  await withFloat32OpsFma(async () => {
    const a = await runBoth(applyIfFinite(adamaxw(schedule, { weightDecay: 0.01 }), { maxConsecutiveErrors: 1 }), 12, 80, { poison, recordUpdates: true });
    assert.deepEqual(a.jax, a.pure);
    const m = await runBoth(multiSteps(adamax(schedule), { everyKSchedule: 3, shouldSkipUpdateFn: skipNotFinite }), 10, 81, { poison, recordUpdates: true });
    assert.deepEqual(m.jax, m.pure);
  });
});

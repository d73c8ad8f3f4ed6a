import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import { ex, type Expr, type Kernel } from '../../src/kernel/expr.js';
import { evaluateKernel, planKernel } from '../../src/kernel/interpret.js';
import { KernelAnchors } from '../../src/jax-js/constants.js';
import { lowerKernel, literalIsSafe } from '../../src/jax-js/kernel.js';
import type { JaxArray } from '../../src/jax-js/leaf.js';
import { rng } from './helpers.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

// Constants whose products and sums round differently when reassociated (and 0, 1, -1, which jax-js
// rewrites or drops).
const CONSTANTS = [0.3, 0.7, 1.1, -2.5, 1e-3, 3e7, 0, -0, 1, -1, 0.1, 1 / 3].map(Math.fround);

/** A random kernel over the update `g`, a state `s` and four constant scalars: chains of + - * max min neg abs. */
function randomKernel(next: () => number): { kernel: Kernel; scalars: Record<string, number> } {
  const pickOf = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const scalars = Object.fromEntries(['c0', 'c1', 'c2', 'c3'].map((k) => [k, pickOf(CONSTANTS)]));
  const nodes: Expr[] = [ex.updates, ex.state('s')];
  const leaf = (): Expr => (next() < 0.45 ? ex.scalar(pickOf(Object.keys(scalars))) : pickOf(nodes));
  for (let i = 0; i < 2 + Math.floor(next() * 7); i++) {
    const last = nodes[nodes.length - 1];
    const op = pickOf(['add', 'sub', 'mul', 'mul', 'add', 'max', 'min', 'neg', 'abs'] as const);
    // Mostly continue the last node, so chains `(x op c1) op c2` form.
    const a = next() < 0.7 ? last : pickOf(nodes);
    const node = op === 'neg' || op === 'abs' ? ex[op](a) : next() < 0.5 ? ex[op](a, leaf()) : ex[op](leaf(), a);
    nodes.push(node);
  }
  const state = nodes[2 + Math.floor(next() * (nodes.length - 2))];
  return { kernel: { updates: nodes[nodes.length - 1], state: { s: state } }, scalars };
}

const same = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

test('numbers left as literals where jax-js cannot rewrite them: random chains of + - * max min over constants, two kernels fused with p + u inside jit, bit-identical to the reference path', async () => {
  const next = rng(2024);
  const n = 64;
  const values = (seed: number) => {
    const r = rng(seed);
    return Float32Array.from({ length: n }, (_, i) => (i === 0 ? -0 : i === 1 ? Infinity : i === 2 ? NaN : Math.fround((r() - 0.5) * 10 ** Math.floor(r() * 8 - 4))));
  };
  const g = values(1), s = values(2), p = values(3);
  for (let trial = 0; trial < 60; trial++) {
    const first = randomKernel(next), second = randomKernel(next);
    // Reference: the first kernel, its update into the second, then p + u.
    const r1 = evaluateKernel(planKernel(first.kernel), { dtype: 'float32', updates: g, state: { s }, scalars: first.scalars }, ['s']);
    const r2 = evaluateKernel(planKernel(second.kernel), { dtype: 'float32', updates: r1.updates, state: { s: r1.state.s }, scalars: second.scalars }, ['s']);
    const want = [Float32Array.from(r2.updates, (u, i) => p[i] + u), r1.state.s, r2.state.s];
    const anchors = new KernelAnchors();
    const step = jax.jit((gj: JaxArray, sj: JaxArray, pj: JaxArray) => {
      const o1 = lowerKernel('first', first.kernel, ['s'], { updates: gj, params: null, state: { s: sj }, scalars: first.scalars }, 'float32', anchors);
      const o2 = lowerKernel('second', second.kernel, ['s'], { updates: o1.updates, params: null, state: { s: o1.state.s.ref }, scalars: second.scalars }, 'float32', anchors);
      gj.dispose();
      sj.dispose();
      o1.updates.dispose();
      return [np.add(pj, o2.updates), o1.state.s, o2.state.s];
    });
    const got = step(np.array(g), np.array(s), np.array(p)) as JaxArray[];
    for (const [j, out] of got.entries()) {
      const data = await out.data();
      data.forEach((x, i) => assert.ok(same(x, want[j][i]), `trial ${trial}, output ${j}, element ${i} (g ${g[i]}, s ${s[i]}): ${x}, expected ${want[j][i]}; kernels ${JSON.stringify([first, second])}`));
    }
    step.dispose();
    anchors.dispose();
  }
});

test('literalIsSafe: adamax\'s moments take literals; roots, continued chains, max/min, zeros and float64 are anchored', () => {
  const b1 = ex.scalar('b1'), g = ex.updates, mu = ex.state('mu');
  const m1 = ex.mul(b1, mu), m2 = ex.mul(ex.scalar('c'), g), sum = ex.add(m1, m2);
  const consumers = new Map<Expr, { node: Expr; first: boolean }[]>([[m1, [{ node: sum, first: true }]], [m2, [{ node: sum, first: false }]]]);
  const roots = new Set<Expr>([sum]);
  const binary = (e: Expr) => e as Extract<Expr, { kind: 'binary' }>;
  assert.equal(literalIsSafe(binary(m1), Math.fround(0.9), 'float32', roots, consumers), true);
  assert.equal(literalIsSafe(binary(m1), Math.fround(0.9), 'float64', roots, consumers), false);
  assert.equal(literalIsSafe(binary(m1), 0, 'float32', roots, consumers), false);
  assert.equal(literalIsSafe(binary(m1), Math.fround(0.9) + 2 ** -40, 'float32', roots, consumers), false);
  // A root's consumer is unknown; a product continued by a product would be refolded.
  assert.equal(literalIsSafe(binary(ex.mul(b1, g)), Math.fround(0.9), 'float32', new Set([ex.updates]), new Map()), true);
  const root = ex.mul(b1, g);
  assert.equal(literalIsSafe(binary(root), Math.fround(0.9), 'float32', new Set([root]), new Map()), false);
  const inner = ex.mul(b1, g), outer = ex.mul(inner, ex.scalar('c'));
  const chain = new Map<Expr, { node: Expr; first: boolean }[]>([[inner, [{ node: outer, first: true }]]]);
  assert.equal(literalIsSafe(binary(inner), Math.fround(0.9), 'float32', new Set([outer]), chain), false);
  assert.equal(literalIsSafe(binary(ex.add(inner, ex.scalar('c'))), 0.5, 'float32', new Set(), new Map()), true);
  // max/min constants bound value ranges, which jax-js folds ignoring NaN: anchored.
  assert.equal(literalIsSafe(binary(ex.max(ex.add(g, b1), b1)), 0.5, 'float32', new Set(), new Map()), false);
});

/**
 * MultiSteps' accumulating pass with its fast variant (engine/fast-accumulate.ts): the WebAssembly
 * and JS kernels, which skip the inner update's fused multiply-adds where its checks prove the update
 * finite and the parameter not -0, are bit-identical to the exact program on every input, hostile
 * ones and the checks' edges included (overflow of the inner update, zero and subnormal divisors,
 * -0 parameters, NaN and infinite state).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { composeProgram, type ComposableStage } from '../../src/engine/compose.js';
import { CAP_CONSTANT, type FusedProgram, ZERO_CONSTANT } from '../../src/engine/program.js';
import type { Expr } from '../../src/kernel/expr.js';
import { emitFusedModule } from '../../src/engine/wasm/fused-module.js';
import { accumulateKernel } from '../../src/transforms/multi-steps.js';
import { scaleByAdamax } from '../../src/transforms/scale-by-adamax.js';
import { scaleKernel } from '../../src/transforms/scale.js';
import { assertSameBits, runKernel, runReference, runWasm, show, typedArray } from './wasm/harness.js';
import { instantiateJsKernel, jsKernelSource } from '../../src/engine/js-kernel.js';

type Dtype = 'float32' | 'float64';

/** MultiSteps(adamax)'s accumulating (or emitting) pass, as compile() composes it (traced inner chain). */
function accumulatingPass(dtype: Dtype, oneLeaf: boolean, pass: 'accumulate' | 'emit' = 'accumulate'): FusedProgram {
  const adamax = scaleByAdamax().elementwise!;
  const stages: ComposableStage[] = [
    { index: 0, kernel: accumulateKernel(true), stateLeaves: ['acc'] },
    { index: 1, kernel: oneLeaf ? adamax.singleLeafKernel! : adamax.kernel, stateLeaves: ['mu', 'nu'] },
    { index: 2, kernel: scaleKernel, stateLeaves: [], constantScalars: ['step_size'] },
  ];
  return composeProgram(dtype, stages, { traced: true, accumulator: { stage: 0, pass, leaves: 'many' } });
}

function values(dtype: Dtype): fc.Arbitrary<number> {
  // The capped checks' cap (2^40) and its neighbours too.
  const big = [...(dtype === 'float32' ? [3.4e38, -3.4e38, 1.7e38, 1e37, 2 ** 100, 2 ** 101, 2 ** 99] : [1.7e308, -1.7e308, 2 ** 100, 2 ** 101, 1e300]), 2 ** 40, -(2 ** 40), 2 ** 40 * (1 - 2 ** -24), -(2 ** 41), 1e12];
  const tiny = dtype === 'float32' ? [1e-40, -1e-42, 1.4e-45, 1.1754943508222875e-38, 2 ** -100] : [5e-324, -1e-310, 2.2250738585072014e-308, 2 ** -100];
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, ...big, ...tiny) },
    { weight: 6, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
    { weight: 1, arbitrary: fc.double({ noNaN: false }) },
  );
}

/** The scalars by name: a step of adamax with these hyperparameters, at mini-step `n`. */
function scalarsFor(program: FusedProgram, dtype: Dtype, h: { n: number; b1: number; b2: number; eps: number; bias: number; lr: number }): number[] {
  const round = (x: number): number => (dtype === 'float32' ? Math.fround(x) : x);
  const byName: Record<string, number> = {
    's0.r': round(1 / (h.n + 1)), 's0.zero': 0,
    's1.b1': round(h.b1), 's1.one_minus_b1': round(1 - h.b1), 's1.b2': round(h.b2), 's1.eps': round(h.eps), 's1.bias': round(h.bias), 's1.one': 1,
    's2.step_size': round(-h.lr),
  };
  return program.scalars.map((name) => {
    assert.ok(name in byName, `unexpected scalar ${name}`);
    return byName[name];
  });
}

for (const dtype of ['float32', 'float64'] as const) {
  test(`accumulating pass with its fast variant: WebAssembly and JS kernels bit-identical to the exact program (${dtype}), hostile values and the checks' edges`, () => {
    for (const oneLeaf of [true, false]) {
      const program = accumulatingPass(dtype, oneLeaf);
      assert.ok(program.fast, 'the accumulating pass of multiSteps(adamax) has a fast variant');
      const bytes = emitFusedModule(program, { shared: false, maximumPages: 64, unroll: 2 });
      const js = jsKernelSource(program);
      const hyper = fc.record({
        n: fc.integer({ min: 0, max: 5 }),
        b1: fc.constantFrom(0.9, 0.5, 0, 1, 2),
        b2: fc.constantFrom(0.999, 0, 1),
        eps: fc.constantFrom(1e-8, 0, 1e-40, -1),
        // bias = 1 - b1^t: ordinary, tiny (1 / bias overflows or nearly: the inner update near overflow), zero.
        bias: fc.constantFrom(0.1, 1, 1e-3, 1e-30, 3e-39, 2 ** -100, 0),
        lr: fc.constantFrom(1e-3, 1),
      });
      fc.assert(fc.property(hyper, fc.array(fc.tuple(values(dtype), values(dtype), values(dtype), values(dtype), values(dtype)), { minLength: 1, maxLength: 40 }), (h, rows) => {
        const n = rows.length;
        const column = (k: number): number[] => rows.map((r) => r[k]);
        const inputs: Record<string, Float32Array | Float64Array> = {};
        const source: Record<string, number[]> = { updates: column(0), params: column(1), 's0.acc': column(2), 's1.mu': column(3), 's1.nu': column(4) };
        for (const s of program.streams) inputs[s] = typedArray(dtype, source[s]);
        const scalars = scalarsFor(program, dtype, h);
        const expected = runReference(program, inputs, scalars, n);
        const context = (): string => `${oneLeaf ? 'one leaf' : 'many leaves'}, ${JSON.stringify(h)}, rows ${rows.map((r) => `[${r.map(show).join(', ')}]`).join(' ')}`;
        assertSameBits(runWasm(bytes, program, inputs, scalars, n), expected, () => `wasm: ${context()}`);
        assertSameBits(runKernel((memory) => instantiateJsKernel(js, memory.buffer), program, inputs, scalars, n), expected, () => `js: ${context()}`);
      }), { numRuns: 400 });
    }
  });
}

test('accumulating pass: the fast variant skips the fma of the inner update, and every edge of its checks is met', () => {
  const program = accumulatingPass('float32', true);
  const bytes = emitFusedModule(program, { shared: false, maximumPages: 64, unroll: 1 });
  // One vector per case: four lanes alike.
  const cases: { name: string; p: number; g: number; acc: number; mu: number; nu: number; bias?: number; eps?: number }[] = [
    { name: 'ordinary', p: 0.5, g: 0.25, acc: 0.125, mu: 0.01, nu: 0.02 },
    { name: '-0 param, negative update', p: -0, g: 0.25, acc: 0.125, mu: 0.01, nu: 0.02 },
    { name: '-0 param, positive update', p: -0, g: -0.25, acc: -0.125, mu: -0.01, nu: 0.02 },
    { name: '+0 param', p: 0, g: 0.25, acc: 0.125, mu: -0.01, nu: 0.02 },
    { name: 'update overflows (huge mu, tiny bias)', p: 1, g: 1, acc: 1, mu: 3e38, nu: 1, bias: 1e-3 },
    { name: 'update just finite', p: 1, g: 1, acc: 1, mu: 3e36, nu: 1, bias: 0.1 },
    { name: 'zero divisor (eps 0, zero gradients and nu)', p: 1, g: 0, acc: 0, mu: 0, nu: 0, eps: 0 },
    { name: 'subnormal divisor', p: 1, g: 0, acc: 0, mu: 1e-30, nu: 1e-40, eps: 0 },
    { name: 'NaN mu', p: 1, g: 1, acc: 1, mu: NaN, nu: 1 },
    { name: 'infinite nu', p: 1, g: 1, acc: 1, mu: 1, nu: Infinity },
    { name: 'NaN param', p: NaN, g: 1, acc: 1, mu: 1, nu: 1 },
  ];
  for (const c of cases) {
    const rows = 4;
    const source: Record<string, number[]> = { updates: Array(rows).fill(c.g), params: Array(rows).fill(c.p), 's0.acc': Array(rows).fill(c.acc), 's1.mu': Array(rows).fill(c.mu), 's1.nu': Array(rows).fill(c.nu) };
    const inputs: Record<string, Float32Array> = {};
    for (const s of program.streams) inputs[s] = typedArray('float32', source[s]) as Float32Array;
    const scalars = scalarsFor(program, 'float32', { n: 1, b1: 0.9, b2: 0.999, eps: c.eps ?? 1e-8, bias: c.bias ?? 0.1, lr: 1e-3 });
    const expected = runReference(program, inputs, scalars, rows);
    assertSameBits(runWasm(bytes, program, inputs, scalars, rows), expected, () => `wasm: ${c.name}`);
    assertSameBits(runKernel((memory) => instantiateJsKernel(jsKernelSource(program), memory.buffer), program, inputs, scalars, rows), expected, () => `js: ${c.name}`);
  }
  // The reference really differs from leaving p alone on those edges (so each is a real check).
  const edge = (p: number, mu: number, bias: number, eps = 1e-8, nu = 1): number => {
    const inputs: Record<string, Float32Array> = {};
    const source: Record<string, number[]> = { updates: [1], params: [p], 's0.acc': [1], 's1.mu': [mu], 's1.nu': [nu] };
    for (const s of program.streams) inputs[s] = typedArray('float32', source[s]) as Float32Array;
    return runReference(program, inputs, scalarsFor(program, 'float32', { n: 1, b1: 0.9, b2: 0.999, eps, bias, lr: 1e-3 }), 1).params[0];
  };
  assert.ok(Number.isNaN(edge(1, 3e38, 1e-3)), 'an overflowing update makes p NaN');
  assert.ok(Object.is(edge(-0, 0.01, 0.1), 0), 'a positive update turns -0 into +0');
});

/** Evaluates a per-call expression of the capped checks in float32 (the kernel's scalar ops). */
function evaluateUniform(e: Expr, scalar: (name: string) => number): number {
  const r = Math.fround;
  switch (e.kind) {
    case 'scalar': return e.name === CAP_CONSTANT ? 2 ** CAP_LOG2_OF_TEST : e.name === ZERO_CONSTANT ? 0 : scalar(e.name);
    case 'unary': return e.op === 'abs' ? Math.abs(evaluateUniform(e.a, scalar)) : e.op === 'neg' ? -evaluateUniform(e.a, scalar) : NaN;
    case 'binary': {
      const a = evaluateUniform(e.a, scalar), b = evaluateUniform(e.b, scalar);
      return e.op === 'add' ? r(a + b) : e.op === 'mul' ? r(a * b) : e.op === 'div' ? r(a / b) : e.op === 'max' ? Math.max(a, b) : NaN;
    }
    default: return NaN;
  }
}
const CAP_LOG2_OF_TEST = 40;

test('accumulating pass: capped checks (a cap on mu and the running mean, b2 * nu not NaN), which hold per call for usual hyperparameters, and are bit-identical at the cap', () => {
  const program = accumulatingPass('float32', true);
  const capped = program.fast!.capped!;
  assert.equal(capped.capLog2, CAP_LOG2_OF_TEST);
  const names = (list: readonly Expr[]): string[] => list.map((e) => (e.kind === 'state' ? e.name : e.kind));
  assert.deepEqual(names(capped.caps), ['s1.mu', 'fma']);
  assert.deepEqual(names(capped.notNaN), ['s1.nu'], 'b2 * nu is not NaN where nu is not, given b2 finite and not 0 (per call)');
  const holds = (h: { n: number; b1: number; b2: number; eps: number; bias: number; lr: number }): boolean => {
    const values = scalarsFor(program, 'float32', h);
    const scalar = (name: string): number => values[program.scalars.indexOf(name)];
    return capped.uniform.every((c) => evaluateUniform(c.a, scalar) < (c.b ? Math.fround(evaluateUniform(c.b, scalar) * 2 ** c.k) : 2 ** c.k));
  };
  const usual = { n: 2, b1: 0.9, b2: 0.999, eps: 1e-8, bias: 0.1, lr: 1e-3 };
  assert.ok(holds(usual), 'the per-call checks hold for adamax defaults at step 1');
  assert.ok(holds({ ...usual, b1: 0.999, bias: 1e-3 }), 'and for b1 = 0.999 at step 1');
  assert.ok(!holds({ ...usual, eps: 0 }), 'not for eps = 0 (the divisor may be 0)');
  assert.ok(!holds({ ...usual, eps: -1 }), 'not for a negative eps');
  assert.ok(!holds({ ...usual, bias: 0 }), 'not for a zero bias correction');
  assert.ok(!holds({ ...usual, b2: 0 }), 'not for b2 = 0 (b2 * nu is NaN where nu is infinite)');
  // Each value at the cap, just below it, and the other checks' edges, in a vector of its own.
  const bytes = emitFusedModule(program, { shared: false, maximumPages: 64, unroll: 1 });
  const below = Math.fround(2 ** 40 * (1 - 2 ** -24));
  const cases: { name: string; p: number; g: number; acc: number; mu: number; nu: number; b2?: number }[] = [
    { name: 'mu at the cap', p: 1, g: 1, acc: 1, mu: 2 ** 40, nu: 1 },
    { name: 'mu just below the cap', p: 1, g: 1, acc: 1, mu: -below, nu: 1 },
    { name: 'running mean at the cap', p: 1, g: 2 ** 41, acc: 0, mu: 1, nu: 1 },
    { name: 'running mean just below the cap', p: 1, g: below, acc: below, mu: 1, nu: 1 },
    { name: 'NaN nu', p: 1, g: 1, acc: 1, mu: 1, nu: NaN },
    { name: 'b2 * nu NaN (b2 = 0, nu infinite)', p: 1, g: 1, acc: 1, mu: 1, nu: Infinity, b2: 0 },
    { name: 'infinite gradient', p: 1, g: -Infinity, acc: 1, mu: 1, nu: 1 },
    { name: '-0 param', p: -0, g: -1, acc: -1, mu: -1, nu: 1 },
  ];
  for (const c of cases) {
    // The edge in lane 2 of a vector of ordinary lanes.
    const lane = <T>(edge: T, ordinary: T): T[] => [ordinary, ordinary, edge, ordinary];
    const source: Record<string, number[]> = { updates: lane(c.g, 0.25), params: lane(c.p, 0.5), 's0.acc': lane(c.acc, 0.125), 's1.mu': lane(c.mu, 0.01), 's1.nu': lane(c.nu, 0.02) };
    const inputs: Record<string, Float32Array> = {};
    for (const s of program.streams) inputs[s] = typedArray('float32', source[s]) as Float32Array;
    for (const n of [0, 1, 2]) {
      const h = { ...usual, n, b2: c.b2 ?? usual.b2 };
      assert.equal(holds(h), h.b2 !== 0, `${c.name}: the capped checks run (but where b2 = 0)`);
      const scalars = scalarsFor(program, 'float32', h);
      assertSameBits(runWasm(bytes, program, inputs, scalars, 4), runReference(program, inputs, scalars, 4), () => `wasm: ${c.name}, n = ${n}`);
    }
  }
});

test('both passes of multiSteps(adamax), float32: a vector off the common path (a failed check, an fma the shortcuts do not settle) among ordinary ones is computed exactly, and the loop goes on, at every mini-step and unrolling', () => {
  // Mostly ordinary values; short ones (k / 8), whose sums often land on float32 midpoints in
  // float64 (the fma then leaves the common path); now and then a hostile one (-0, NaN, huge, tiny).
  const value = fc.oneof(
    { weight: 40, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
    { weight: 20, arbitrary: fc.integer({ min: -64, max: 64 }).map((k) => k / 8) },
    { weight: 1, arbitrary: values('float32') },
  );
  const hyper = fc.record({ n: fc.integer({ min: 0, max: 6 }), b1: fc.constant(0.9), b2: fc.constant(0.999), eps: fc.constantFrom(1e-8, 0), bias: fc.constantFrom(0.1, 1e-3), lr: fc.constant(1e-3) });
  for (const pass of ['accumulate', 'emit'] as const) {
    for (const oneLeaf of [true, false]) {
      const program = accumulatingPass('float32', oneLeaf, pass);
      for (const unroll of [1, 2, 4] as const) {
        const bytes = emitFusedModule(program, { shared: false, maximumPages: 64, unroll });
        fc.assert(fc.property(hyper, fc.array(fc.tuple(value, value, value, value, value), { minLength: 1, maxLength: 300 }), (h, rows) => {
          const n = rows.length;
          const source: Record<string, number[]> = { updates: [], params: [], 's0.acc': [], 's1.mu': [], 's1.nu': [] };
          for (const r of rows) ['updates', 'params', 's0.acc', 's1.mu', 's1.nu'].forEach((k, j) => source[k].push(r[j]));
          const inputs: Record<string, Float32Array | Float64Array> = {};
          for (const s of program.streams) inputs[s] = typedArray('float32', source[s]);
          const scalars = scalarsFor(program, 'float32', h);
          assertSameBits(runWasm(bytes, program, inputs, scalars, n), runReference(program, inputs, scalars, n), () => `${pass}, ${oneLeaf ? 'one leaf' : 'many leaves'}, unroll ${unroll}, ${JSON.stringify(h)}, rows ${rows.map((r) => `[${r.map(show).join(', ')}]`).join(' ')}`);
        }), { numRuns: 40 });
      }
    }
  }
});

/**
 * The real kernels: scaleByAdamax composed with scale(-lr) and applyUpdates' `p + u`, composed by hand
 * into one FusedProgram, run by the emitted WebAssembly step after step, against the transformations'
 * own reference path (chain(...).update then applyUpdates).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Dtype } from '../../../src/core/dtype.js';
import type { FusedProgram } from '../../../src/engine/program.js';
import { emitFusedModule } from '../../../src/engine/wasm/fused-module.js';
import { type Expr, type Kernel, ex, substitute } from '../../../src/kernel/expr.js';
import { type CompiledElementwise, definitionScalars, kernelForTree } from '../../../src/kernel/elementwise.js';
import { type ScaleByAdamaxOptions, scaleByAdamax } from '../../../src/transforms/scale-by-adamax.js';
import { applyKernel, applyUpdates } from '../../../src/transforms/apply-updates.js';
import { chain } from '../../../src/transforms/chain.js';
import { scaleByLearningRate } from '../../../src/transforms/scale-by-learning-rate.js';
import { type Streams, assertSameBits, runWasm, typedArray } from './harness.js';

/** adamax -> scale(-lr) -> p + u as one program; state streams 'mu', 'nu'; scalars prefixed by stage. */
function adamaxProgram(dtype: Dtype, adamaxKernel: Kernel, lrKernel: Kernel): FusedProgram {
  const memo = new Map<Expr, Expr>();
  const stage0 = (e: Expr): Expr => (e.kind === 'scalar' ? ex.scalar(`adamax.${e.name}`) : e);
  const u0 = substitute(adamaxKernel.updates, stage0, memo);
  const mu = substitute(adamaxKernel.state.mu, stage0, memo);
  const nu = substitute(adamaxKernel.state.nu, stage0, memo);
  const u1 = substitute(lrKernel.updates, (e) => (e.kind === 'updates' ? u0 : e.kind === 'scalar' ? ex.scalar(`lr.${e.name}`) : e));
  const p = substitute(applyKernel.updates, (e) => (e.kind === 'updates' ? u1 : e));
  const scalars: string[] = [];
  const collect = (e: Expr): void => {
    if (e.kind === 'scalar' && !scalars.includes(e.name)) scalars.push(e.name);
    else if (e.kind === 'unary') collect(e.a);
    else if (e.kind === 'binary') { collect(e.a); collect(e.b); }
  };
  [p, mu, nu].forEach(collect);
  return { dtype, streams: ['updates', 'params', 'mu', 'nu'], scalars, outputs: [{ stream: 'params', expr: p }, { stream: 'mu', expr: mu }, { stream: 'nu', expr: nu }] };
}

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e38, -1e38, 3.4e38, -3.4e38, 2 ** -149, -(2 ** -126), 1e-40, 1e-8, -1e-8];

function grads(dtype: Dtype): fc.Arbitrary<number> {
  return dtype === 'float32'
    ? fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...SPECIAL.map(Math.fround)) }, { weight: 4, arbitrary: fc.float({ min: -10, max: 10, noNaN: true }) }, { weight: 1, arbitrary: fc.float() })
    : fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...SPECIAL, 1e300, 5e-324) }, { weight: 4, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) }, { weight: 1, arbitrary: fc.double() });
}

const OPTIONS: readonly ScaleByAdamaxOptions[] = [{}, { b1: 0.5, b2: 0.9, eps: 0 }, { b1: 0, b2: 1, eps: 1e-3 }];

for (const dtype of ['float32', 'float64'] as const) {
  for (const leaves of [1, 2] as const) {
    test(`adamax + lr + apply, ${leaves === 1 ? 'one-leaf' : 'multi-leaf'} kernel, matches chain(...).update + applyUpdates (${dtype})`, () => {
      fc.assert(fc.property(
        fc.integer({ min: 0, max: 70 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom(...OPTIONS), fc.constantFrom(1e-3, 0.1, 1, 0),
        fc.constantFrom(0, 5, 2 ** 31 - 2), fc.constantFrom(1, 2, 4) as fc.Arbitrary<1 | 2 | 4>, fc.nat(),
        (n, steps, options, lr, startCount, unroll, seed) => {
          const adamax = scaleByAdamax(options);
          const lrTx = scaleByLearningRate(lr);
          const def = adamax.elementwise!;
          // The tree: one leaf of n elements, or two leaves splitting them (the kernel is elementwise, so
          // the fused program runs on their concatenation, as the engine's arena lays them out).
          const cut = leaves === 1 ? n : seed % (n + 1);
          const kernel = kernelForTree(def as CompiledElementwise<any>, leaves === 1 ? [n] : [cut, n - cut]).kernel;
          const program = adamaxProgram(dtype, kernel, lrTx.elementwise!.kernel);
          const bytes = emitFusedModule(program, { shared: false, maximumPages: 64, unroll });
          const split = (a: ArrayLike<number>): Record<string, Float32Array | Float64Array> =>
            leaves === 1 ? { w: typedArray(dtype, Array.from(a)) } : { a: typedArray(dtype, Array.from(a).slice(0, cut)), b: typedArray(dtype, Array.from(a).slice(cut)) };
          const join = (t: Record<string, Float32Array | Float64Array>): number[] => Object.keys(t).sort().flatMap((k) => Array.from(t[k]));
          const rng = fc.sample(fc.array(grads(dtype), { minLength: n * (steps + 1), maxLength: n * (steps + 1) }), { seed, numRuns: 1 })[0];
          const tx = chain(adamax, lrTx);
          let params = split(rng.slice(0, n));
          let state = tx.init(params);
          state[0].count = startCount;
          let fused: Streams = { updates: typedArray(dtype, []), params: typedArray(dtype, join(params)), mu: typedArray(dtype, new Array<number>(n).fill(0)), nu: typedArray(dtype, new Array<number>(n).fill(0)) };
          for (let t = 1; t <= steps; t++) {
            const g = rng.slice(n * t, n * (t + 1));
            const scalars = { ...definitionScalars(def, { count: state[0].count }, dtype, undefined), ...definitionScalars(lrTx.elementwise!, {}, dtype, undefined) };
            const args = program.scalars.map((s) => {
              const [stage, name] = s.split('.');
              assert.ok(stage === 'adamax' || stage === 'lr');
              return scalars[name] as number;
            });
            fused = runWasm(bytes, program, { ...fused, updates: typedArray(dtype, g) }, args, n);
            const [u, next] = tx.update(split(g), state, params);
            params = applyUpdates(params, u);
            state = next;
            const expected: Streams = { updates: typedArray(dtype, g), params: typedArray(dtype, join(params)), mu: typedArray(dtype, join(state[0].mu as never)), nu: typedArray(dtype, join(state[0].nu as never)) };
            assertSameBits(fused, expected, () => `step ${t}, n=${n}, options=${JSON.stringify(options)}, lr=${lr}, count=${startCount}, unroll=${unroll}`);
          }
        },
      ), { numRuns: 60, includeErrorInReport: true });
    });
  }
}

test('the adamax program reads each stream once and divides as the kernels say', () => {
  const adamax = scaleByAdamax().elementwise!;
  const program = adamaxProgram('float32', adamax.kernel, scaleByLearningRate(0.1).elementwise!.kernel);
  assert.deepEqual(program.streams, ['updates', 'params', 'mu', 'nu']);
  assert.deepEqual([...program.scalars].sort(), ['adamax.b1', 'adamax.b2', 'adamax.bias', 'adamax.eps', 'adamax.one_minus_b1', 'lr.step_size']);
  assert.ok(WebAssembly.validate(emitFusedModule(program, { shared: true, maximumPages: 65536 })));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ex, type BinaryOp, type UnaryOp, withFlushedSubnormals } from '../../src/index.js';
import { applyBinary, applyUnary } from '../../src/kernel/expr.js';
import { evaluateKernel, planKernel, runPlan } from '../../src/kernel/interpret.js';
import { fusedMultiplyAdd } from '../../src/core/fused-multiply-add.js';

const BINARY: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'max', 'min'];
const UNARY: UnaryOp[] = ['neg', 'abs', 'sqrt'];
const SPECIAL = [0, -0, NaN, Infinity, -Infinity, 1e-45, -1e-45, 2 ** -126, 3.4e38, -3.4e38, 1e-310, 1e308, 1, -1];
const value = fc.oneof(fc.constantFrom(...SPECIAL), fc.double());
const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

// The interpreter's loops are written out per op and operand form for speed; they must all agree with
// the one definition of each op (applyBinary / applyUnary), rounded to the dtype by the store.
for (const dtype of ['float32', 'float64'] as const) {
  const Arr = dtype === 'float32' ? Float32Array : Float64Array;
  const make = (n: number, f: (i: number) => number) => { const a = new Arr(n); for (let i = 0; i < n; i++) a[i] = f(i); return a; };
  test(`every op in every operand form matches its definition (${dtype})`, () => {
    fc.assert(fc.property(fc.array(value, { minLength: 1, maxLength: 9 }), fc.array(value, { minLength: 9, maxLength: 9 }), value, (xs, ys, s) => {
      const x = Arr.from(xs), y = Arr.from(ys.slice(0, xs.length));
      const sc = Arr.of(s)[0];
      for (const op of BINARY) {
        const cases = [
          { k: { [op]: ex[op](ex.updates, ex.state('y')) }, f: (i: number) => applyBinary(op, x[i], y[i]) },
          { k: { [op]: ex[op](ex.scalar('s'), ex.state('y')) }, f: (i: number) => applyBinary(op, sc, y[i]) },
          { k: { [op]: ex[op](ex.updates, ex.scalar('s')) }, f: (i: number) => applyBinary(op, x[i], sc) },
          { k: { [op]: ex[op](ex.scalar('s'), ex.scalar('s')) }, f: () => applyBinary(op, sc, sc) },
        ];
        for (const c of cases) {
          const plan = planKernel({ updates: c.k[op], state: { y: ex.state('y') } });
          const out = evaluateKernel(plan, { dtype, updates: x, state: { y }, scalars: { s: sc } }, ['y']);
          const want = make(x.length, c.f);
          out.updates.forEach((v, i) => assert.ok(same(v, want[i]), `${op} @${i}: ${v} vs ${want[i]}`));
        }
      }
      // a * b + c, rounded once: array and scalar operands in each position.
      const fma = (a: number, b: number, c: number): number => fusedMultiplyAdd(dtype, a, b, c);
      for (const [k, f] of [
        [ex.fma(ex.updates, ex.state('y'), ex.updates), (i: number) => fma(x[i], y[i], x[i])],
        [ex.fma(ex.scalar('s'), ex.updates, ex.state('y')), (i: number) => fma(sc, x[i], y[i])],
        [ex.fma(ex.updates, ex.scalar('s'), ex.scalar('s')), (i: number) => fma(x[i], sc, sc)],
      ] as const) {
        const out = evaluateKernel(planKernel({ updates: k, state: { y: ex.state('y') } }), { dtype, updates: x, state: { y }, scalars: { s: sc } }, ['y']);
        out.updates.forEach((v, i) => assert.ok(same(v, f(i)), `fma @${i}: ${v} vs ${f(i)}`));
      }
      for (const op of UNARY) {
        const out = evaluateKernel(planKernel({ updates: ex[op](ex.updates), state: {} }), { dtype, updates: x, state: {}, scalars: {} }, []);
        const want = make(x.length, (i) => applyUnary(op, x[i]));
        out.updates.forEach((v, i) => assert.ok(same(v, want[i]), `${op} @${i}`));
      }
    }), { numRuns: 300 });
  });
}

test('outputs may alias inputs (in-place state update), and block-wise runs equal one whole run', () => {
  const kernel = { updates: ex.mul(ex.state('m'), ex.scalar('s')), state: { m: ex.add(ex.state('m'), ex.updates) } };
  const plan = planKernel(kernel);
  const g = Float32Array.from({ length: 37 }, (_, i) => Math.sin(i));
  const m0 = Float32Array.from({ length: 37 }, (_, i) => Math.cos(i));
  const whole = evaluateKernel(plan, { dtype: 'float32', updates: g, state: { m: m0 }, scalars: { s: 0.5 } }, ['m']);
  const m = m0.slice(), u = new Float32Array(37);
  for (let lo = 0; lo < 37; lo += 8) runPlan(plan, { dtype: 'float32', updates: g, state: { m }, scalars: { s: 0.5 } }, { updates: u, state: { m } }, lo, Math.min(37, lo + 8));
  assert.deepEqual(Array.from(m), Array.from(whole.state.m));
  assert.deepEqual(Array.from(u), Array.from(whole.updates));
});

test('flush mode reads subnormal inputs as zero and flushes subnormal results, keeping the sign', () => {
  const plan = planKernel({ updates: ex.mul(ex.updates, ex.scalar('s')), state: {} });
  const g = new Float32Array([2 ** -130, -(2 ** -126), 1]);
  const run = () => evaluateKernel(plan, { dtype: 'float32', updates: g, state: {}, scalars: { s: 0.5 } }, []).updates;
  assert.deepEqual(Array.from(run()), [2 ** -131, -(2 ** -127), 0.5]);
  const flushed = withFlushedSubnormals(run);
  assert.ok(Object.is(flushed[0], 0) && Object.is(flushed[1], -0) && flushed[2] === 0.5);
});

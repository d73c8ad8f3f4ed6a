import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Dtype } from '../../../src/core/dtype.js';
import type { FusedProgram } from '../../../src/engine/program.js';
import { emitFusedModule } from '../../../src/engine/wasm/fused-module.js';
import { type BinaryOp, type Expr, type UnaryOp, ex } from '../../../src/kernel/expr.js';
import { type Streams, assertSameBits, runReference, runWasm, typedArray } from './harness.js';

const f32 = Math.fround;
const SPECIAL_F32 = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, -2, 0.1, 1e-8, 1e38, -1e38, 3.4e38, -3.4e38, 3.4028234663852886e38,
  2 ** -126, -(2 ** -126), 2 ** -149, -(2 ** -149), 1e-40, -1e-40, 1e-30, 1e30, -1e30, 0.9, 0.999].map(f32);
const SPECIAL_F64 = [...SPECIAL_F32, 1e308, -1e308, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE,
  2.2250738585072014e-308, 1e-310, -1e-310, 1e-300, 1e300, 0.1, 1e-8];

function values(dtype: Dtype): fc.Arbitrary<number> {
  return dtype === 'float32'
    ? fc.oneof(fc.constantFrom(...SPECIAL_F32), fc.float(), fc.float({ min: -4, max: 4, noNaN: true }))
    : fc.oneof(fc.constantFrom(...SPECIAL_F64), fc.double(), fc.double({ min: -4, max: 4, noNaN: true }));
}

const OPS: readonly (UnaryOp | BinaryOp)[] = ['neg', 'abs', 'sqrt', 'add', 'sub', 'mul', 'div', 'max', 'min'];
const UNARY = new Set<string>(['neg', 'abs', 'sqrt']);
const EXTRA_STREAMS = ['params', 'a', 'b', 'c'];

/** A leaf reading stream or scalar `name` (a fresh object each call: structurally equal leaves must merge). */
function leaf(name: string, isScalar: boolean): Expr {
  if (isScalar) return ex.scalar(name);
  return name === 'updates' ? ex.updates : name === 'params' ? ex.params : ex.state(name);
}

function show(e: Expr): string {
  switch (e.kind) {
    case 'updates': return 'g';
    case 'params': return 'p';
    case 'state': return e.name;
    case 'scalar': return `$${e.name}`;
    case 'unary': return `${e.op}(${show(e.a)})`;
    case 'binary': return `${e.op}(${show(e.a)}, ${show(e.b)})`;
  }
}

/** Random DAG programs: operands pick earlier nodes (shared) or fresh leaves; outputs go to distinct streams. */
function programs(dtype: Dtype): fc.Arbitrary<FusedProgram> {
  return fc.record({
    extra: fc.subarray(EXTRA_STREAMS),
    scalarCount: fc.integer({ min: 0, max: 3 }),
    ops: fc.array(fc.record({ op: fc.constantFrom(...OPS), a: fc.nat(), b: fc.nat(), freshA: fc.boolean(), freshB: fc.boolean() }), { minLength: 0, maxLength: 14 }),
    outputs: fc.array(fc.record({ node: fc.nat(), stream: fc.nat(), last: fc.boolean() }), { minLength: 1, maxLength: 4 }),
  }).map(({ extra, scalarCount, ops, outputs }) => {
    const streams = ['updates', ...extra];
    const scalars = Array.from({ length: scalarCount }, (_, i) => `s${i}`);
    const names = [...streams.map((s) => ({ s, scalar: false })), ...scalars.map((s) => ({ s, scalar: true }))];
    const fresh = (k: number): Expr => leaf(names[k % names.length].s, names[k % names.length].scalar);
    const pool: Expr[] = names.map((_, k) => fresh(k));
    for (const o of ops) {
      const pick = (k: number, isFresh: boolean): Expr => (isFresh ? fresh(k) : pool[k % pool.length]);
      const a = pick(o.a, o.freshA);
      pool.push(UNARY.has(o.op) ? ({ kind: 'unary', op: o.op as UnaryOp, a }) : ({ kind: 'binary', op: o.op as BinaryOp, a, b: pick(o.b, o.freshB) }));
    }
    const used = new Set<string>();
    const outs: { stream: string; expr: Expr }[] = [];
    for (const o of outputs) {
      const stream = streams[o.stream % streams.length];
      if (used.has(stream)) continue;
      used.add(stream);
      outs.push({ stream, expr: o.last ? pool[pool.length - 1] : pool[o.node % pool.length] });
    }
    return { dtype, streams, scalars, outputs: outs };
  });
}

interface Case {
  program: FusedProgram;
  n: number;
  inputs: Streams;
  scalars: number[];
  unroll: 1 | 2 | 4;
  base: number;
}

function cases(dtype: Dtype): fc.Arbitrary<Case> {
  return fc.tuple(programs(dtype), fc.integer({ min: 0, max: 70 }), fc.constantFrom(1, 2, 4) as fc.Arbitrary<1 | 2 | 4>, fc.integer({ min: 0, max: 8 }))
    .chain(([program, n, unroll, base]) => fc.record({
      program: fc.constant(program),
      n: fc.constant(n),
      unroll: fc.constant(unroll),
      base: fc.constant(base * 16),
      inputs: fc.tuple(...program.streams.map(() => fc.array(values(dtype), { minLength: n, maxLength: n })))
        .map((arrays) => Object.fromEntries(program.streams.map((s, k) => [s, typedArray(dtype, arrays[k])]))),
      scalars: fc.array(values(dtype), { minLength: program.scalars.length, maxLength: program.scalars.length }),
    }));
}

function describeCase(c: Case): string {
  const outs = c.program.outputs.map((o) => `  ${o.stream} <- ${show(o.expr)}`).join('\n');
  const ins = Object.entries(c.inputs).map(([s, a]) => `  ${s} = [${Array.from(a).join(', ')}]`).join('\n');
  return `${c.program.dtype} n=${c.n} unroll=${c.unroll} base=${c.base} scalars=[${c.scalars.join(', ')}]\n${outs}\n${ins}`;
}

for (const dtype of ['float32', 'float64'] as const) {
  test(`random DAG kernels are bit-identical to the interpreter (${dtype})`, () => {
    fc.assert(fc.property(cases(dtype), (c) => {
      const bytes = emitFusedModule(c.program, { shared: false, maximumPages: 64, unroll: c.unroll });
      const actual = runWasm(bytes, c.program, c.inputs, c.scalars, c.n, { base: c.base });
      assertSameBits(actual, runReference(c.program, c.inputs, c.scalars, c.n), () => describeCase(c));
    }), { numRuns: 400, includeErrorInReport: true });
  });
}

test('a kernel of scalars only (hoisted) and a plain copy', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const s = ex.div(ex.sqrt(ex.scalar('x')), ex.scalar('y'));
    const program: FusedProgram = { dtype, streams: ['updates', 'params', 'a'], scalars: ['x', 'y'], outputs: [
      { stream: 'params', expr: s },
      { stream: 'a', expr: ex.updates },
      { stream: 'updates', expr: ex.mul(ex.updates, s) },
    ] };
    for (const n of [0, 1, 3, 4, 5, 8, 9, 17, 33]) {
      const inputs = Object.fromEntries(program.streams.map((st, k) => [st, typedArray(dtype, Array.from({ length: n }, (_, i) => (i + 1) * (k + 1) * 0.3))]));
      const scalars = [f32(2), f32(3)];
      for (const unroll of [1, 2, 4] as const) {
        const actual = runWasm(emitFusedModule(program, { shared: false, maximumPages: 64, unroll }), program, inputs, scalars, n);
        assertSameBits(actual, runReference(program, inputs, scalars, n), () => `${dtype} n=${n} unroll=${unroll}`);
      }
    }
  }
});

test('runs on a shared memory when emitted with shared: true', () => {
  const program: FusedProgram = { dtype: 'float32', streams: ['updates', 'params'], scalars: ['lr'], outputs: [
    { stream: 'params', expr: ex.sub(ex.params, ex.mul(ex.scalar('lr'), ex.updates)) },
  ] };
  const n = 37;
  const inputs = { updates: typedArray('float32', Array.from({ length: n }, (_, i) => i - 10)), params: typedArray('float32', Array.from({ length: n }, (_, i) => 1 / (i + 1))) };
  const bytes = emitFusedModule(program, { shared: true, maximumPages: 16 });
  const actual = runWasm(bytes, program, inputs, [f32(0.1)], n, { shared: true, maximumPages: 16 });
  assertSameBits(actual, runReference(program, inputs, [f32(0.1)], n), () => 'shared');
  // A shared module cannot import an unshared memory, nor a memory whose maximum exceeds its own.
  assert.throws(() => new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: new WebAssembly.Memory({ initial: 1, maximum: 16 }) } }), WebAssembly.LinkError);
  assert.throws(() => new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: new WebAssembly.Memory({ initial: 1, maximum: 17, shared: true }) } }), WebAssembly.LinkError);
});

test('rejects malformed programs and options', () => {
  const ok: FusedProgram = { dtype: 'float32', streams: ['updates', 'params'], scalars: ['lr'], outputs: [{ stream: 'params', expr: ex.mul(ex.scalar('lr'), ex.updates) }] };
  const opts = { shared: false, maximumPages: 1 };
  assert.ok(WebAssembly.validate(emitFusedModule(ok, opts)));
  assert.throws(() => emitFusedModule({ ...ok, streams: ['params'] }, opts), /reads stream 'updates'/);
  assert.throws(() => emitFusedModule({ ...ok, scalars: [] }, opts), /reads scalar 'lr'/);
  assert.throws(() => emitFusedModule({ ...ok, outputs: [{ stream: 'mu', expr: ex.updates }] }, opts), /writes stream 'mu'/);
  assert.throws(() => emitFusedModule({ ...ok, outputs: [] }, opts), /no outputs/);
  assert.throws(() => emitFusedModule(ok, { ...opts, unroll: 3 as 2 }), /unroll/);
  assert.throws(() => emitFusedModule(ok, { shared: true, maximumPages: 65537 }), /maximumPages/);
  assert.throws(() => emitFusedModule(ok, { shared: false, maximumPages: 4, initialPages: 5 }), /initialPages/);
  // n, 2 pointers and 997 scalars make 1000 parameters: the most a function may take.
  const many = ['lr', ...Array.from({ length: 997 }, (_, i) => `s${i}`)];
  assert.throws(() => emitFusedModule({ ...ok, scalars: many }, opts), /at most 1000/);
  assert.ok(WebAssembly.validate(emitFusedModule({ ...ok, scalars: many.slice(0, 997) }, opts)));
});

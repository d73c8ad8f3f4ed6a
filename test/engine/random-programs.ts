/**
 * Random fused programs for the kernel generators' tests: DAGs of every kernel op over streams and
 * scalars, with special values (NaN, ±Inf, ±0, subnormals, extremes) among the inputs.
 */
import fc from 'fast-check';
import type { Dtype } from '../../src/core/dtype.js';
import type { FusedProgram } from '../../src/engine/program.js';
import { type BinaryOp, type Expr, type UnaryOp, ex } from '../../src/kernel/expr.js';
import { type Streams, typedArray } from './wasm/harness.js';
const f32 = Math.fround;
export const SPECIAL_F32 = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, -2, 0.1, 1e-8, 1e38, -1e38, 3.4e38, -3.4e38, 3.4028234663852886e38,
  2 ** -126, -(2 ** -126), 2 ** -149, -(2 ** -149), 1e-40, -1e-40, 1e-30, 1e30, -1e30, 0.9, 0.999].map(f32);
export const SPECIAL_F64 = [...SPECIAL_F32, 1e308, -1e308, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE,
  2.2250738585072014e-308, 1e-310, -1e-310, 1e-300, 1e300, 0.1, 1e-8];

/**
 * Values whose sums, differences, products and quotients land in or next to the subnormal range: both
 * sides of the smallest normal, its neighbours, random subnormals, square roots of it (whose products
 * underflow), and magnitudes whose quotients do.
 */
export function nearSubnormal(dtype: Dtype): fc.Arbitrary<number> {
  const min = dtype === 'float32' ? 2 ** -126 : 2 ** -1022;
  const round = dtype === 'float32' ? Math.fround : (x: number) => x;
  const ulp = dtype === 'float32' ? 2 ** -149 : Number.MIN_VALUE;
  const around = [min, min + ulp, min - ulp, 2 * min, 1.5 * min, min / 2, ulp, 3 * ulp, Math.sqrt(min), Math.sqrt(min) * 0.75, 1 / min, 0.5, 2].map(round);
  const sign = fc.constantFrom(1, -1);
  return fc.oneof(
    fc.tuple(fc.constantFrom(...around), sign).map(([x, s]) => s * x),
    fc.tuple(fc.integer({ min: 1, max: 2 ** 20 }), sign).map(([k, s]) => round(s * k * ulp)),
    fc.tuple(fc.double({ min: 1, max: 2, noNaN: true }), fc.integer({ min: -8, max: 8 }), sign).map(([m, e, s]) => round(s * m * min * 2 ** e)),
  );
}

export function values(dtype: Dtype, subnormalHeavy = false): fc.Arbitrary<number> {
  const base = dtype === 'float32'
    ? fc.oneof(fc.constantFrom(...SPECIAL_F32), fc.float(), fc.float({ min: -4, max: 4, noNaN: true }))
    : fc.oneof(fc.constantFrom(...SPECIAL_F64), fc.double(), fc.double({ min: -4, max: 4, noNaN: true }));
  return subnormalHeavy ? fc.oneof({ arbitrary: nearSubnormal(dtype), weight: 3 }, { arbitrary: base, weight: 1 }) : base;
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
    case 'fma': return `fma(${show(e.a)}, ${show(e.b)}, ${show(e.c)})`;
  }
}

/**
 * Random DAG programs: operands pick earlier nodes (shared) or fresh leaves; outputs go to distinct
 * streams. `withFma`: fused multiply-adds too (for the generators that have them).
 */
export function programs(dtype: Dtype, withFma = false): fc.Arbitrary<FusedProgram> {
  const ops: readonly (UnaryOp | BinaryOp | 'fma')[] = withFma ? [...OPS, 'fma', 'fma'] : OPS;
  return fc.record({
    extra: fc.subarray(EXTRA_STREAMS),
    scalarCount: fc.integer({ min: 0, max: 3 }),
    ops: fc.array(fc.record({ op: fc.constantFrom(...ops), a: fc.nat(), b: fc.nat(), c: fc.nat(), freshA: fc.boolean(), freshB: fc.boolean() }), { minLength: 0, maxLength: 14 }),
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
      if (o.op === 'fma') pool.push(ex.fma(a, pick(o.b, o.freshB), pool[o.c % pool.length]));
      else pool.push(UNARY.has(o.op) ? ({ kind: 'unary', op: o.op as UnaryOp, a }) : ({ kind: 'binary', op: o.op as BinaryOp, a, b: pick(o.b, o.freshB) }));
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

export interface Case {
  program: FusedProgram;
  n: number;
  inputs: Streams;
  scalars: number[];
  unroll: 1 | 2 | 4;
  base: number;
  /** Emit with the layout's stream offsets compiled in (`streamOffsets`), as the engine does. */
  fixed: boolean;
  /** Emit reading the scalars from float64 slots in memory (`scalarOffsets`), as the engine does. */
  scalarsInMemory: boolean;
}

/** `subnormalHeavy`: inputs and scalars mostly near the subnormal range (for XLA's subnormal mode). */
export function cases(dtype: Dtype, withFma = false, subnormalHeavy = false): fc.Arbitrary<Case> {
  return fc.tuple(programs(dtype, withFma), fc.integer({ min: 0, max: 70 }), fc.constantFrom(1, 2, 4) as fc.Arbitrary<1 | 2 | 4>, fc.integer({ min: 0, max: 8 }), fc.boolean(), fc.boolean())
    .chain(([program, n, unroll, base, fixed, scalarsInMemory]) => fc.record({
      fixed: fc.constant(fixed),
      scalarsInMemory: fc.constant(scalarsInMemory),
      program: fc.constant(program),
      n: fc.constant(n),
      unroll: fc.constant(unroll),
      base: fc.constant(base * 16),
      inputs: fc.tuple(...program.streams.map(() => fc.array(values(dtype, subnormalHeavy), { minLength: n, maxLength: n })))
        .map((arrays) => Object.fromEntries(program.streams.map((s, k) => [s, typedArray(dtype, arrays[k])]))),
      scalars: fc.array(values(dtype, subnormalHeavy), { minLength: program.scalars.length, maxLength: program.scalars.length }),
    }));
}

export function describeCase(c: Case): string {
  const outs = c.program.outputs.map((o) => `  ${o.stream} <- ${show(o.expr)}`).join('\n');
  const ins = Object.entries(c.inputs).map(([s, a]) => `  ${s} = [${Array.from(a).join(', ')}]`).join('\n');
  return `${c.program.dtype} n=${c.n} unroll=${c.unroll} base=${c.base} fixed=${c.fixed} scalarsInMemory=${c.scalarsInMemory} scalars=[${c.scalars.join(', ')}]\n${outs}\n${ins}`;
}


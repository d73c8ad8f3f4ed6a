import { type Expr, topologicalOrder } from '../kernel/expr.js';
import { type FusedProgram, type KernelFunction, bytesPerElement } from './program.js';

/**
 * The plain-JS fused loop: one `for` loop per program, generated from its expression graph, with every
 * intermediate in a local variable (no temporary arrays, one pass over memory).
 *
 * Rounding: a float32 op is computed in double and rounded with `Math.fround`. For `+ - * /` and
 * `sqrt` of float32 operands this is the correctly rounded float32 result (a double carries more than
 * 2*24+2 bits, so rounding twice is harmless), exactly what the reference interpreter gets by storing
 * into a Float32Array; `neg`, `abs`, `max` and `min` are exact. Float64 needs no rounding at all.
 */

const BINARY: Readonly<Record<string, (a: string, b: string) => string>> = {
  add: (a, b) => `${a} + ${b}`,
  sub: (a, b) => `${a} - ${b}`,
  mul: (a, b) => `${a} * ${b}`,
  div: (a, b) => `${a} / ${b}`,
  max: (a, b) => `max(${a}, ${b})`,
  min: (a, b) => `min(${a}, ${b})`,
};

/**
 * The source of a kernel factory for `program`: an expression evaluating to `(buffer) => run`, where
 * `run(n, ...bytePointers, ...scalars)` is the {@link KernelFunction} over that buffer. It is a string
 * so that worker threads can build the same function.
 */
export function jsKernelSource(program: FusedProgram): string {
  const f32 = program.dtype === 'float32';
  const shift = Math.log2(bytesPerElement(program.dtype));
  const round = (code: string): string => (f32 ? `fr(${code})` : code);
  const order = topologicalOrder(program.outputs.map((o) => o.expr));
  const names = new Map<Expr, string>();
  // A node that depends on scalars only is the same for every element: computed once, before the loop.
  const uniform = new Set<Expr>();
  const hoisted: string[] = [];
  const body: string[] = [];
  order.forEach((e, k) => {
    const v = `v${k}`;
    switch (e.kind) {
      case 'updates':
      case 'params':
      case 'state': {
        const stream = e.kind === 'state' ? e.name : e.kind;
        names.set(e, v);
        body.push(`const ${v} = M[p${program.streams.indexOf(stream)} + i];`);
        return;
      }
      case 'scalar':
        names.set(e, `s${program.scalars.indexOf(e.name)}`);
        uniform.add(e);
        return;
      case 'unary': {
        const a = names.get(e.a)!;
        const code = e.op === 'neg' ? `-${a}` : e.op === 'abs' ? `abs(${a})` : round(`sqrt(${a})`);
        names.set(e, v);
        if (uniform.has(e.a)) { uniform.add(e); hoisted.push(`const ${v} = ${code};`); } else body.push(`const ${v} = ${code};`);
        return;
      }
      case 'binary': {
        const a = names.get(e.a)!, b = names.get(e.b)!;
        const exact = e.op === 'max' || e.op === 'min';
        const code = exact ? BINARY[e.op](a, b) : round(BINARY[e.op](a, b));
        names.set(e, v);
        if (uniform.has(e.a) && uniform.has(e.b)) { uniform.add(e); hoisted.push(`const ${v} = ${code};`); } else body.push(`const ${v} = ${code};`);
        return;
      }
    }
  });
  // Stores come after every load of the iteration: outputs may overwrite the streams they read.
  for (const o of program.outputs) body.push(`M[p${program.streams.indexOf(o.stream)} + i] = ${names.get(o.expr)!};`);
  const ptrArgs = program.streams.map((_, j) => `a${j}`);
  const scalarArgs = program.scalars.map((_, j) => `s${j}`);
  const ptrs = program.streams.map((_, j) => `p${j} = a${j} >>> ${shift}`);
  return [
    '(function (buffer) {',
    '"use strict";',
    `const M = new ${f32 ? 'Float32Array' : 'Float64Array'}(buffer);`,
    'const fr = Math.fround, abs = Math.abs, sqrt = Math.sqrt, max = Math.max, min = Math.min;',
    `return function run(${['n', ...ptrArgs, ...scalarArgs].join(', ')}) {`,
    ptrs.length ? `const ${ptrs.join(', ')};` : '',
    ...hoisted,
    'for (let i = 0; i < n; i++) {',
    ...body,
    '}',
    '};',
    '})',
  ].join('\n');
}

/** Builds a kernel factory from its source (throws an EvalError where `eval` is forbidden, e.g. CSP). */
export function instantiateJsKernel(source: string, buffer: ArrayBufferLike): KernelFunction {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function(`return ${source};`)() as (b: ArrayBufferLike) => KernelFunction;
  return factory(buffer);
}

/** True when code can be generated at run time (`new Function` is allowed). */
export function codeGenerationAllowed(): boolean {
  try {
    return new Function('return 1')() === 1;
  } catch {
    return false;
  }
}

import { fmaFloat32, fmaFloat64, fmaFunctionsSource } from '../core/fused-multiply-add.js';
import { type Expr, topologicalOrder } from '../kernel/expr.js';
import { CAP_CONSTANT, type FusedProgram, type KernelFunction, ZERO_CONSTANT, bytesPerElement, checkStreamDtypes, isNarrowStream, streamDtype } from './program.js';
import { MIN_NORMAL, type SubnormalMode, canMakeSubnormal } from './subnormals.js';

/**
 * The plain-JS fused loop: one `for` loop per program, generated from its expression graph, with every
 * intermediate in a local variable (no temporary arrays, one pass over memory).
 *
 * Rounding: a float32 op is computed in double and rounded with `Math.fround`. For `+ - * /` and
 * `sqrt` of float32 operands this is the correctly rounded float32 result (a double carries more than
 * 2*24+2 bits, so rounding twice is harmless), exactly what the reference interpreter gets by storing
 * into a Float32Array; `neg`, `abs`, `max` and `min` are exact. Float64 needs no rounding at all.
 * A fused multiply-add calls the exact emulation of core/fused-multiply-add.ts, whose functions the
 * generated source embeds (their own source text, so the kernel computes with the same code).
 *
 * Float32 division by a value that is the same for every element (optax's `m / (1 - b1^t)`) is a
 * multiplication by its double reciprocal, because a division costs several multiplications in V8
 * (measured: a many-leaf adamax step, which divides twice, ran 1.9x slower per element than a
 * one-leaf step, which divides once). It is still the correctly rounded float32 quotient:
 * - write `a = A 2^i`, `b = B 2^j` with integer significands `A, B < 2^24`. A float32 rounding
 *   boundary (a midpoint of two neighbours) in the binade of a normal `q = a / b` is an odd multiple
 *   of `2^(e-24)`, `q` in `[2^e, 2^(e+1))`; `q` minus it is an integer over `B 2^(24-e+i-j)`, and
 *   not 0 (that would make an odd number equal to an even one), so it is at least `2^-49 q`;
 * - `fl(a * fl(1 / b))` is within `2^-52 q` of `q` (two double roundings): it rounds to the same
 *   float32;
 * - a subnormal quotient can be a midpoint exactly (`147 2^-149 / 98`), so where the product is
 *   below `2^-125`, or 0, or NaN, the code divides. Inf and zero divisors give what `/` gives.
 * The kernel tests compare it with `Math.fround(a / b)` on millions of pairs, those midpoints included.
 */

/** Below this (`2^-125`) a float32 quotient may be subnormal: divide, do not multiply by the reciprocal. */
const RECIPROCAL_SAFE_MIN = 2.350988701644575e-38;

/** Elements per iteration of the main loop (measured: 4 is ~20% faster than 1 for adamax in V8). */
const UNROLL = 4;

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
 * `run(n, ...bytePointers, ...scalars)` is the {@link KernelFunction} over that buffer (with
 * `scalarOffsets`, the byte offsets of the scalars' float64 slots in the buffer: `run(n,
 * ...bytePointers)`). It is a string so that worker threads can build the same function.
 */
export function jsKernelSource(program: FusedProgram, unroll = UNROLL, scalarOffsets?: readonly number[], subnormals: SubnormalMode = 'ieee'): string {
  if (scalarOffsets && (scalarOffsets.length !== program.scalars.length || scalarOffsets.some((o) => !Number.isInteger(o) || o < 0 || o % 8 !== 0))) {
    throw new RangeError(`scalarOffsets must be ${program.scalars.length} non-negative multiples of 8, got [${scalarOffsets.join(', ')}]`);
  }
  if (!Number.isInteger(unroll) || unroll < 1) throw new RangeError(`unroll must be an integer >= 1, got ${unroll}`);
  checkStreamDtypes(program);
  const f32 = program.dtype === 'float32';
  // A float32 stream of a float64 program (MultiSteps' accumulator) is read and written through a
  // Float32Array: a load widens exactly, a store rounds.
  const narrow = program.streams.map((s) => isNarrowStream(program, s));
  const memoryOf = (stream: number): string => (narrow[stream] ? 'N' : 'M');
  const round = (code: string): string => (f32 ? `fr(${code})` : code);
  // XLA's subnormal mode (engine/subnormals.ts): values read and results of + - * / fma are flushed.
  const flush = subnormals === 'flush';
  const ftz = (code: string): string => (flush ? `ftz(${code})` : code);
  // The fast variant (program.ts, engine/fast-accumulate.ts), in IEEE mode only: its checks, then per
  // element the exact or the fast outputs.
  const fast = flush ? undefined : program.fast;
  const checkRoots = fast ? [...fast.below.flatMap((c) => (c.b ? [c.a, c.b] : [c.a])), ...fast.notNegativeZero] : [];
  // Its capped checks (program.ts CappedChecks): a main loop of their own for calls where they hold.
  const capped = fast?.capped;
  const cappedRoots = capped ? [...capped.caps, ...capped.notNaN, ...fast!.notNegativeZero] : [];
  const order = topologicalOrder([...program.outputs.map((o) => o.expr), ...(fast ? [...fast.outputs.map((o) => o.expr), ...checkRoots, ...cappedRoots] : [])]);
  // Per node: code computing it for element `i + k` (k = 0 .. unroll-1) from the names of its operands.
  const names = new Map<Expr, (k: number) => string>();
  // A node that depends on scalars only is the same for every element: computed once, before the loop.
  const uniform = new Set<Expr>();
  const hoisted: string[] = [];
  const loads: ((k: number) => string)[] = [];
  const ops: ((k: number) => string)[] = [];
  /** The node each entry of `ops` computes. */
  const opNodes: Expr[] = [];
  let usesFma = false;
  order.forEach((e, n) => {
    const v = (k: number): string => `v${n}_${k}`;
    switch (e.kind) {
      case 'updates':
      case 'params':
      case 'state': {
        const stream = program.streams.indexOf(e.kind === 'state' ? e.name : e.kind);
        names.set(e, v);
        loads.push((k) => `const ${v(k)} = ${ftz(`${memoryOf(stream)}[p${stream} + i${k ? ` + ${k}` : ''}]`)};`);
        return;
      }
      case 'scalar': {
        const s = `s${program.scalars.indexOf(e.name)}`;
        uniform.add(e);
        if (!flush) { names.set(e, () => s); return; }
        names.set(e, () => `u${n}`);
        hoisted.push(`const u${n} = ftz(${s});`);
        return;
      }
      case 'unary':
      case 'binary':
      case 'fma': {
        const code = (k: number): string => {
          const a = names.get(e.a)!(k);
          if (e.kind === 'unary') return e.op === 'neg' ? `-${a}` : e.op === 'abs' ? `abs(${a})` : round(`sqrt(${a})`);
          const b = names.get(e.b)!(k);
          // The exact emulation of core/fused-multiply-add.ts, embedded below; it rounds to the dtype.
          if (e.kind === 'fma') return ftz(`${f32 ? fmaFloat32.name : fmaFloat64.name}(${a}, ${b}, ${names.get(e.c)!(k)}, FMA_VIEW)`);
          return e.op === 'max' || e.op === 'min' ? BINARY[e.op](a, b) : (canMakeSubnormal(e) ? ftz : String)(round(BINARY[e.op](a, b)));
        };
        if (e.kind === 'fma') usesFma = true;
        if (uniform.has(e.a) && (e.kind === 'unary' || uniform.has(e.b)) && (e.kind !== 'fma' || uniform.has(e.c))) {
          uniform.add(e);
          names.set(e, () => `u${n}`);
          hoisted.push(`const u${n} = ${code(0)};`);
        } else if (f32 && e.kind === 'binary' && e.op === 'div' && uniform.has(e.b)) {
          const b = names.get(e.b)!(0);
          names.set(e, v);
          hoisted.push(`const r${n} = 1 / ${b};`);
          opNodes.push(e);
          ops.push((k) => {
            const a = names.get(e.a)!(k);
            return `const t${n}_${k} = ${a} * r${n}; const ${v(k)} = ${ftz(`abs(t${n}_${k}) >= ${RECIPROCAL_SAFE_MIN} ? fr(t${n}_${k}) : fr(${a} / ${b})`)};`;
          });
        } else {
          names.set(e, v);
          opNodes.push(e);
          ops.push((k) => `const ${v(k)} = ${code(k)};`);
        }
        return;
      }
    }
  });
  // Stores come after every load of the iteration: outputs may overwrite the streams they read.
  const storesOf = (outputs: FusedProgram['outputs']): ((k: number) => string)[] => outputs.map((o) => {
    const stream = program.streams.indexOf(o.stream);
    return (k: number) => `${memoryOf(stream)}[p${stream} + i${k ? ` + ${k}` : ''}] = ${names.get(o.expr)!(k)};`;
  });
  const stores = storesOf(program.outputs);
  // With a fast variant, element by element: the checks' operations, then the exact outputs where a
  // check fails, the fast ones where all hold.
  let fastElement: ((k: number) => string) | undefined, cappedElement: ((k: number) => string) | undefined;
  if (fast) {
    const reach = (roots: readonly Expr[]): Set<Expr> => new Set(topologicalOrder(roots));
    const exact = reach(program.outputs.map((o) => o.expr)), quick = reach(fast.outputs.map((o) => o.expr));
    const opsIn = (set: Set<Expr>, except?: Set<Expr>): ((k: number) => string)[] => ops.filter((_, j) => set.has(opNodes[j]) && !except?.has(opNodes[j]));
    const fastStores = storesOf(fast.outputs);
    const notNegativeZero = (k: number): string[] => fast.notNegativeZero.map((x) => `!(${names.get(x)!(k)} === 0 && 1 / ${names.get(x)!(k)} < 0)`);
    // The checks' operations, then the fast outputs where every check holds, else the exact ones.
    const element = (roots: readonly Expr[], holds: (k: number) => string) => {
      const checked = reach(roots);
      const [checkOps, exactOps, fastOps] = [opsIn(checked), opsIn(exact, checked), opsIn(quick, checked)];
      return (k: number): string => [...checkOps.map((line) => line(k)), `if (${holds(k)}) {`, ...fastOps.map((line) => line(k)), ...fastStores.map((line) => line(k)), '} else {', ...exactOps.map((line) => line(k)), ...stores.map((line) => line(k)), '}'].join('\n');
    };
    fastElement = element(checkRoots, (k) => [
      ...fast.below.map((c) => `${names.get(c.a)!(k)} < ${c.b ? `${names.get(c.b)!(k)} * ${2 ** c.k}` : `${2 ** c.k}`}`),
      ...notNegativeZero(k),
    ].join(' && '));
    if (capped) {
      cappedElement = element(cappedRoots, (k) => [
        ...capped.caps.map((x) => `abs(${names.get(x)!(k)}) < ${2 ** capped.capLog2}`),
        ...capped.notNaN.map((x) => `${names.get(x)!(k)} === ${names.get(x)!(k)}`),
        ...notNegativeZero(k),
      ].join(' && '));
      hoisted.push(`const cappedHolds = ${capped.uniform.map((c) => `${uniformCode(c.a)} < ${c.b ? round(`${uniformCode(c.b)} * ${2 ** c.k}`) : `${2 ** c.k}`}`).join(' && ')};`);
    }
  }
  // A per-call expression of the capped checks, with the kernel's ops and rounding.
  function uniformCode(e: Expr): string {
    switch (e.kind) {
      case 'scalar':
        return e.name === CAP_CONSTANT ? `${2 ** capped!.capLog2}` : e.name === ZERO_CONSTANT ? '0' : `s${program.scalars.indexOf(e.name)}`;
      case 'unary':
        if (e.op === 'abs') return `abs(${uniformCode(e.a)})`;
        if (e.op === 'neg') return `(-${uniformCode(e.a)})`;
        break;
      case 'binary':
        if (e.op === 'max') return `max(${uniformCode(e.a)}, ${uniformCode(e.b)})`;
        if (e.op === 'add' || e.op === 'mul' || e.op === 'div') return round(`(${BINARY[e.op](uniformCode(e.a), uniformCode(e.b))})`);
        break;
      default:
        break;
    }
    throw new Error(`capped check: unexpected ${e.kind} in a per-call bound`);
  }
  // `unroll` elements per iteration, their independent operations interleaved, so that the CPU
  // overlaps their dependency chains (one element's chain of rounded ops is long); then one at a time.
  const lines = (list: readonly ((k: number) => string)[], u: number): string[] => list.flatMap((line) => Array.from({ length: u }, (_, k) => line(k)));
  const iteration = (u: number, each = fastElement): string[] => (each ? [...lines(loads, u), ...Array.from({ length: u }, (_, k) => each(k))] : [loads, ops, stores].flatMap((list) => lines(list, u)));
  const mainLoop = (each = fastElement): string[] => [`for (; i + ${unroll} <= n; i += ${unroll}) {`, ...iteration(unroll, each), '}'];
  const ptrArgs = program.streams.map((_, j) => `a${j}`);
  // Scalars are arguments, or (scalarOffsets) read from their float64 slots in the buffer at each call.
  const scalarArgs = scalarOffsets ? [] : program.scalars.map((_, j) => `s${j}`);
  const scalarReads = scalarOffsets ? program.scalars.map((_, j) => `s${j} = SC[${scalarOffsets[j] / 8}]`) : [];
  const ptrs = program.streams.map((s, j) => `p${j} = a${j} >>> ${Math.log2(bytesPerElement(streamDtype(program, s)))}`);
  return [
    '(function (buffer) {',
    '"use strict";',
    `const M = new ${f32 ? 'Float32Array' : 'Float64Array'}(buffer);`,
    narrow.some(Boolean) ? 'const N = new Float32Array(buffer);' : '',
    scalarOffsets ? 'const SC = new Float64Array(buffer);' : '',
    'const fr = Math.fround, abs = Math.abs, sqrt = Math.sqrt, max = Math.max, min = Math.min;',
    // A subnormal becomes a zero of its sign (x * 0); NaN, infinities and normal values pass.
    flush ? `const ftz = (x) => (abs(x) < ${MIN_NORMAL[program.dtype]} ? x * 0 : x);` : '',
    ...(usesFma ? fmaFunctionsSource() : []),
    `return function run(${['n', ...ptrArgs, ...scalarArgs].join(', ')}) {`,
    ptrs.length ? `const ${ptrs.join(', ')};` : '',
    scalarReads.length ? `const ${scalarReads.join(', ')};` : '',
    ...hoisted,
    'let i = 0;',
    ...(cappedElement ? ['if (cappedHolds) {', ...mainLoop(cappedElement), '} else {', ...mainLoop(), '}'] : mainLoop()),
    'for (; i < n; i++) {',
    ...iteration(1),
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

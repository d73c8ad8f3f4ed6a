import type { Dtype } from '../core/dtype.js';
import { XLA_REDUCE_WINDOW, XLA_ROW_LANES } from '../core/xla-reduce-sum.js';
import { type DtypePlan, FLAG_ACCUMULATE, FLAG_LANES, FLAG_SQUARES, HEADER_WORDS } from './norm-plan.js';
import { MIN_NORMAL } from './subnormals.js';

/**
 * The JS runner of a norm table (norm-plan.ts: the format, and what one operation computes), generated
 * as source for one dtype and subnormal mode and built with `new Function` per table, so that:
 *
 * - a padded window's row is added in XLA's lanes (`laneRowSum`, core/xla-reduce-sum.ts) as straight
 *   code derived from the lane model {@link XLA_ROW_LANES}: window position `j` goes to chain
 *   `j mod (lanes * parts)`, each chain a local summed in order of `j` (from -0, chain 0 from the sum
 *   so far), part `p`'s chains added to part 0's in turn (`chain + lane`), the lanes halved. A
 *   position outside the row (the padding) is the term -0: `x + -0 = x` for every `x` (NaN, -0 and
 *   infinities included), so it changes nothing, as the skipped position of the model. A loop over
 *   the model with its sums in an array took 0.88 of a plain JS adamax step on 2000 float32 leaves of
 *   500 (interleaved, one thread); this straight code, no branch, array or loop per position, about
 *   0.35 (0.33 to 0.39 over runs on a loaded machine). Lane by lane, so only the lanes' sums stay live;
 * - each stepper's runner is its own function, specialized to its dtype (one typed-array kind, one
 *   rounding) and mode: nothing of one stepper's type feedback reaches another's.
 *
 * Float32 additions and squares are computed in double and rounded with `Math.fround`, the correctly
 * rounded float32 result (js-kernel.ts says why). test/engine/global-norm.test.ts holds the runner
 * bit-identical to the reference `globalNorm`.
 */

/** Windows summed side by side in an operation without lanes (each its own chain of additions). */
const INTERLEAVED = 4;

/**
 * The source of a runner factory: an expression evaluating to `(buffer, table) => run`, where `run()`
 * runs the operations of `table` (an Int32Array) over the memory `buffer`.
 */
export function normRunnerSource(dtype: Dtype, flush: boolean): string {
  const f32 = dtype === 'float32';
  const { lanes, parts } = XLA_ROW_LANES[dtype];
  const stride = lanes * parts;
  const round = (code: string): string => (f32 ? `fr(${code})` : code);
  // A square, rounded, and in XLA's subnormal mode 0 when below the smallest normal.
  const square = (x: string): string => (flush ? `((q = ${round(`${x} * ${x}`)}) < ${MIN_NORMAL[dtype]} ? 0 : q)` : round(`${x} * ${x}`));
  const term = (x: string, squares: boolean): string => (squares ? square(x) : x);
  /**
   * A lanes row as a block adding it to `s` (window position j at m[row + j]; `first`, `end`: the
   * row's positions). Inline, not a function: a double crossing a call that V8 does not inline (this
   * one is too long) is boxed, an allocation per row.
   */
  const laneRow = (squares: boolean, full: boolean): string => {
    const lines: string[] = [];
    const at = (j: number): string => {
      const t = term(`m[row + ${j}]`, squares);
      return full ? t : `(${j} >= first && ${j} < end ? ${t} : -0)`;
    };
    // Lane by lane (only the lanes' sums stay live): each part's chain, then added to the lane.
    for (let l = 0; l < lanes; l++) {
      for (let p = 0; p < parts; p++) {
        const c = p * lanes + l;
        const positions: number[] = [];
        for (let j = c; j < XLA_REDUCE_WINDOW; j += stride) positions.push(j);
        // -0 + t is t: a chain other than 0 starts at its first term.
        let chain = c === 0 ? 's' : positions.length ? at(positions.shift()!) : '-0';
        for (const j of positions) chain = round(`${chain} + ${at(j)}`);
        lines.push(p === 0 ? `let l${l} = ${chain};` : `l${l} = ${round(`${chain} + l${l}`)};`);
      }
    }
    for (let half = lanes >> 1; half >= 1; half >>= 1) for (let l = 0; l < half; l++) lines.push(`l${l} = ${round(`l${l} + l${l + half}`)};`);
    return ['{', ...lines, 's = l0;', '}'].join('\n');
  };
  /** Windows without lanes, INTERLEAVED at a time, then one at a time (`at`: the first pointer pair). */
  const plainWindows = (squares: boolean): string => {
    const k = Array.from({ length: INTERLEAVED }, (_, u) => u);
    return [
      'for (; at + ' + 2 * INTERLEAVED + ' <= stop; at += ' + 2 * INTERLEAVED + ') {',
      ...k.map((u) => `const d${u} = table[at + ${2 * u + 1}] >>> ${f32 ? 2 : 3};`),
      ...k.map((u) => `let s${u} = acc ? m[d${u}] : 0, a${u} = table[at + ${2 * u}] >>> ${f32 ? 2 : 3};`),
      'for (let r = 0; r < rows; r++) {',
      'for (let e = 0; e < len; e++) {',
      ...k.map((u) => `s${u} = ${round(`s${u} + ${term(`m[a${u} + e]`, squares)}`)};`),
      '}',
      ...k.map((u) => `a${u} += rs;`),
      '}',
      ...k.map((u) => `m[d${u}] = s${u};`),
      '}',
      'for (; at < stop; at += 2) {',
      `const d = table[at + 1] >>> ${f32 ? 2 : 3};`,
      'let s = acc ? m[d] : 0;',
      `for (let r = 0, a = table[at] >>> ${f32 ? 2 : 3}; r < rows; r++, a += rs) for (let e = 0; e < len; e++) s = ${round(`s + ${term('m[a + e]', squares)}`)};`,
      'm[d] = s;',
      '}',
    ].join('\n');
  };
  /** Windows with lanes: each row through its lanes function (`full`: rows spanning the whole window). */
  const laneWindows = (squares: boolean): string => {
    return [
      `const full = first === 0 && len === ${XLA_REDUCE_WINDOW}, end = first + len;`,
      'for (; at < stop; at += 2) {',
      `const d = table[at + 1] >>> ${f32 ? 2 : 3};`,
      'let s = acc ? m[d] : 0;',
      `let row = (table[at] >>> ${f32 ? 2 : 3}) - first;`,
      `if (full) for (let r = 0; r < rows; r++, row += rs) ${laneRow(squares, true)}`,
      `else for (let r = 0; r < rows; r++, row += rs) ${laneRow(squares, false)}`,
      'm[d] = s;',
      '}',
    ].join('\n');
  };
  return [
    '(function (buffer, table) {',
    '"use strict";',
    `const m = new ${f32 ? 'Float32Array' : 'Float64Array'}(buffer);`,
    'const fr = Math.fround;',
    'return function run() {',
    flush ? 'let q;' : '',
    'for (let at = 0, n = table.length; at < n;) {',
    `const flags = table[at], count = table[at + 1], rows = table[at + 2], rs = table[at + 3] >>> ${f32 ? 2 : 3}, len = table[at + 4], first = table[at + 5];`,
    `const acc = (flags & ${FLAG_ACCUMULATE}) !== 0;`,
    `at += ${HEADER_WORDS};`,
    'const stop = at + 2 * count;',
    `if ((flags & ${FLAG_LANES}) !== 0) {`,
    `if ((flags & ${FLAG_SQUARES}) !== 0) {`,
    laneWindows(true),
    '} else {',
    laneWindows(false),
    '}',
    `} else if ((flags & ${FLAG_SQUARES}) !== 0) {`,
    plainWindows(true),
    '} else {',
    plainWindows(false),
    '}',
    '}',
    '};',
    '})',
  ].join('\n');
}

/**
 * A JS function running a dtype's operations over the memory `buffer` (the engine's; `flush`: XLA's
 * subnormal mode): the generated runner of {@link normRunnerSource}, its own instance (throws an
 * EvalError where `eval` is forbidden). Its views are made once: a call allocates nothing.
 */
export function normTableRunner(plan: DtypePlan, dtype: Dtype, buffer: ArrayBufferLike, flush: boolean): () => void {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function(`return ${normRunnerSource(dtype, flush)};`)() as (buffer: ArrayBufferLike, table: Int32Array) => () => void;
  return factory(buffer, plan.table);
}

/**
 * Turns an example block into a module the doc-test child can run:
 *
 * - each `console.log(` call becomes `__doctestLog(<block>, <site>, ` so that every printed value is
 *   attributed to the call that printed it (a print from a line without an expected comment is then
 *   not mistaken for the next expected line);
 * - the expected output of a call is the trailing `// ...` comment on the line where the call closes;
 * - module specifiers `'optax-ts'` and `'optax-ts/<sub>'` are rewritten to file URLs of the sources.
 *
 * Rewrites keep every line where it was, so line numbers in a stack trace still point into the block.
 */
import { codeMask, lineIndex, scanSpans, type Span } from './scan.js';

/** One `console.log(...)` call of a block. */
export interface LogSite {
  /** Index of the call in the block (0-based, source order). */
  readonly index: number;
  /** 1-based line of the block where the call closes (where its expected comment is). */
  readonly line: number;
  /** The trailing `// ...` comment on that line, trimmed; undefined when there is none. */
  readonly expected: string | undefined;
}

/** A module specifier of a block. */
export interface ImportSite {
  readonly specifier: string;
  /** 1-based line of the block. */
  readonly line: number;
  /** The names imported with `import { a, b as c, type D } from` (`a`, `b`, `D`); empty for other forms. */
  readonly names: readonly string[];
}

/** A block prepared for running. */
export interface InstrumentedBlock {
  readonly code: string;
  readonly sites: readonly LogSite[];
  readonly imports: readonly ImportSite[];
}

/** The global function the rewritten calls go to (installed by the child runner). */
export const LOG_FUNCTION = '__doctestLog';

/**
 * Rewrites `code` (block number `blockId`); `resolveSpecifier` maps a specifier to its replacement, or
 * returns undefined to keep it.
 */
export function instrument(code: string, blockId: number, resolveSpecifier: (specifier: string) => string | undefined): InstrumentedBlock {
  const spans = scanSpans(code);
  const isCode = codeMask(spans);
  const lineOf = lineIndex(code);
  const edits: { start: number; end: number; text: string }[] = [];

  // console.log call sites, in source order.
  const calls: { start: number; openParen: number; closeParen: number }[] = [];
  const pattern = /console\s*\.\s*log\s*\(/g;
  for (let m = pattern.exec(code); m; m = pattern.exec(code)) {
    const before = m.index > 0 ? code[m.index - 1] : '';
    if (!isCode(m.index) || /[A-Za-z0-9_$.]/.test(before)) continue;
    const openParen = m.index + m[0].length - 1;
    calls.push({ start: m.index, openParen, closeParen: matchingParen(code, openParen, isCode) });
  }
  const lineComments = spans.filter((s) => s.kind === 'line-comment');
  const sites: LogSite[] = calls.map((call, index) => {
    const line = lineOf(call.closeParen);
    // The comment belongs to the last call closing on its line.
    const laterOnLine = calls.some((other, j) => j > index && lineOf(other.closeParen) === line);
    const comment = laterOnLine ? undefined : commentAfter(lineComments, call.closeParen, line, lineOf);
    const expected = comment === undefined ? undefined : code.slice(comment.start + 2, comment.end).trim();
    edits.push({ start: call.start, end: call.openParen + 1, text: `${LOG_FUNCTION}(${blockId}, ${index}, ` });
    return { index, line, expected };
  });

  // Module specifiers: a string right after `from`, `import` or `import(`.
  const imports: ImportSite[] = [];
  for (const span of spans) {
    if (span.kind !== 'string') continue;
    const head = code.slice(Math.max(0, span.start - 40), span.start);
    if (!/(?:\bfrom|\bimport|\bimport\s*\()\s*$/.test(head) || !isCode(span.start - 1)) continue;
    const specifier = code.slice(span.start + 1, span.end - 1);
    const named = /\{([^{}]*)\}\s*from\s*$/.exec(code.slice(Math.max(0, code.lastIndexOf('import', span.start)), span.start));
    const names = named ? named[1].split(',').map((s) => s.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0].trim()).filter(Boolean) : [];
    imports.push({ specifier, line: lineOf(span.start), names });
    const replacement = resolveSpecifier(specifier);
    if (replacement !== undefined) edits.push({ start: span.start, end: span.end, text: JSON.stringify(replacement) });
  }

  edits.sort((a, b) => b.start - a.start);
  let out = code;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return { code: out, sites, imports };
}

// The offset of the `)` closing the `(` at `open` (counting only parentheses in code); the end of the
// source when unbalanced.
function matchingParen(code: string, open: number, isCode: (offset: number) => boolean): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (!isCode(i)) continue;
    if (code[i] === '(') depth++;
    else if (code[i] === ')' && --depth === 0) return i;
  }
  return code.length - 1;
}

function commentAfter(comments: readonly Span[], offset: number, line: number, lineOf: (o: number) => number): Span | undefined {
  return comments.find((c) => c.start > offset && lineOf(c.start) === line);
}

/**
 * A small lexical scanner for TypeScript/JavaScript source: it finds the spans that are *not* code
 * (comments, string and template text, regular-expression literals) so that the doc-test tools can
 * look for `console.log(`, doc comments and `export` statements without being fooled by the same
 * characters inside a string or a comment. It is not a parser: it only has to be right about where
 * strings, comments and regexes start and end.
 */

/** What a non-code span is. */
export type SpanKind = 'line-comment' | 'block-comment' | 'string' | 'template' | 'regex';

/** A non-code span `[start, end)` of the source. */
export interface Span {
  readonly kind: SpanKind;
  readonly start: number;
  readonly end: number;
}

// After one of these keywords a `/` starts a regex, not a division.
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'instanceof', 'yield', 'await']);
const IDENT = /[A-Za-z0-9_$]/;

/** Scans `src` and returns its non-code spans, in order. */
export function scanSpans(src: string): Span[] {
  const spans: Span[] = [];
  // One entry per open `${` of a template literal: the brace depth at which it closes.
  const templateStack: number[] = [];
  let braceDepth = 0;
  let i = 0;
  const n = src.length;

  // Scans template text from i (just after '`' or '}') up to the closing '`' or the next '${'.
  const scanTemplateText = (from: number): number => {
    let j = from;
    while (j < n) {
      const c = src[j];
      if (c === '\\') { j += 2; continue; }
      if (c === '`') { spans.push({ kind: 'template', start: from - 1, end: j + 1 }); return j + 1; }
      if (c === '$' && src[j + 1] === '{') {
        spans.push({ kind: 'template', start: from - 1, end: j + 2 });
        templateStack.push(braceDepth);
        braceDepth++;
        return j + 2;
      }
      j++;
    }
    spans.push({ kind: 'template', start: from - 1, end: n });
    return n;
  };

  while (i < n) {
    const c = src[i];
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      const end = src.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      spans.push({ kind: 'line-comment', start: i, end: stop });
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      spans.push({ kind: 'block-comment', start: i, end: stop });
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      spans.push({ kind: 'string', start: i, end: Math.min(j + 1, n) });
      i = j + 1;
    } else if (c === '`') {
      i = scanTemplateText(i + 1);
    } else if (c === '/' && regexAllowed(src, spans, i)) {
      let j = i + 1;
      let inClass = false;
      while (j < n && src[j] !== '\n') {
        const d = src[j];
        if (d === '\\') { j += 2; continue; }
        if (d === '[') inClass = true;
        else if (d === ']') inClass = false;
        else if (d === '/' && !inClass) break;
        j++;
      }
      j++;
      while (j < n && IDENT.test(src[j])) j++; // flags
      spans.push({ kind: 'regex', start: i, end: Math.min(j, n) });
      i = j;
    } else if (c === '{') {
      braceDepth++;
      i++;
    } else if (c === '}') {
      braceDepth--;
      if (templateStack.length > 0 && templateStack[templateStack.length - 1] === braceDepth) {
        templateStack.pop();
        i = scanTemplateText(i + 1);
      } else {
        i++;
      }
    } else {
      i++;
    }
  }
  return spans;
}

// A `/` starts a regex where an expression may start: after an operator or punctuation, at the start,
// or after a keyword such as `return`.
function regexAllowed(src: string, spans: readonly Span[], at: number): boolean {
  let j = at - 1;
  while (j >= 0) {
    const last = spans[spans.length - 1];
    if (last && last.end === j + 1 && (last.kind === 'line-comment' || last.kind === 'block-comment')) {
      j = last.start - 1;
      continue;
    }
    if (/\s/.test(src[j])) { j--; continue; }
    break;
  }
  if (j < 0) return true;
  const p = src[j];
  if (IDENT.test(p)) {
    let k = j;
    while (k >= 0 && IDENT.test(src[k])) k--;
    return REGEX_AFTER_WORD.has(src.slice(k + 1, j + 1));
  }
  return !(p === ')' || p === ']' || p === '}' || p === '"' || p === "'" || p === '`');
}

/** A predicate telling whether an offset of the source is code (not in a comment, string or regex). */
export function codeMask(spans: readonly Span[]): (offset: number) => boolean {
  return (offset) => {
    // Binary search: spans are sorted and disjoint.
    let lo = 0;
    let hi = spans.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = spans[mid];
      if (offset < s.start) hi = mid - 1;
      else if (offset >= s.end) lo = mid + 1;
      else return false;
    }
    return true;
  };
}

/** 1-based line number of each offset, computed once per source. */
export function lineIndex(src: string): (offset: number) => number {
  const starts = [0];
  for (let i = 0; i < src.length; i++) if (src[i] === '\n') starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

/**
 * Finds the runnable examples of the project: every fenced ```ts block after an `@example` tag of a
 * TSDoc comment in `src/**\/*.ts`, and every ```ts block of README.md.
 *
 * A block is kept with the file line of its first code line, so that a failure (and each of its
 * `console.log` sites) can be reported at the line a reader would edit.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { lineIndex, scanSpans } from './scan.js';

/** One runnable example. */
export interface ExampleBlock {
  /** Stable id within one run (index in the collected list). */
  readonly id: number;
  /** Path relative to the repository root, with forward slashes (`src/transforms/scale.ts`). */
  readonly file: string;
  /** 1-based line, in `file`, of the opening fence. */
  readonly fenceLine: number;
  /** 1-based line, in `file`, of the block's first code line (`code` line 1). */
  readonly firstLine: number;
  /** The code, doc-comment prefixes (` * `) stripped. */
  readonly code: string;
  /** Set when the fence's info string asks not to run it (```ts ignore): reported as skipped. */
  readonly skip: boolean;
}

// ```ts, ```typescript, ```mts, with an optional info string (```ts ignore).
const OPEN_FENCE = /^(\s*)```\s*(ts|typescript|mts)(?:\s+(.*))?\s*$/;
const CLOSE_FENCE = /^\s*```\s*$/;
const SKIP_INFO = /\b(ignore|skip|no-run|norun)\b/;

interface RawBlock { fenceLine: number; firstLine: number; code: string; skip: boolean }

/**
 * The ```ts blocks of a list of text lines. `lineOf(k)` maps index k of `lines` to a file line.
 * Indentation of the fence is removed from the block's lines (fences inside Markdown lists).
 */
export function fencedBlocks(lines: readonly string[], lineOf: (k: number) => number): RawBlock[] {
  const blocks: RawBlock[] = [];
  for (let k = 0; k < lines.length; k++) {
    const open = OPEN_FENCE.exec(lines[k]);
    if (!open) continue;
    const indent = open[1].length;
    const body: string[] = [];
    let j = k + 1;
    while (j < lines.length && !CLOSE_FENCE.test(lines[j])) {
      const line = lines[j];
      body.push(/^\s*$/.test(line.slice(0, indent)) ? line.slice(indent) : line.trimStart());
      j++;
    }
    blocks.push({ fenceLine: lineOf(k), firstLine: lineOf(k + 1), code: body.join('\n'), skip: SKIP_INFO.test(open[3] ?? '') });
    k = j;
  }
  return blocks;
}

/** A TSDoc comment of a source file: its text lines with the ` * ` prefixes stripped. */
export interface DocComment {
  /** Offset of `/**` in the source. */
  readonly start: number;
  /** Offset just after `*\/`. */
  readonly end: number;
  /** 1-based line of `/**`; `lines[k]` is on line `line + k`. */
  readonly line: number;
  readonly lines: readonly string[];
}

/** Every `/** ... *\/` comment of a source (not the ones inside strings), prefixes stripped. */
export function docComments(src: string): DocComment[] {
  const lineOf = lineIndex(src);
  const out: DocComment[] = [];
  for (const span of scanSpans(src)) {
    if (span.kind !== 'block-comment' || !src.startsWith('/**', span.start) || src.startsWith('/**/', span.start)) continue;
    const text = src.slice(span.start + 3, span.end - 2);
    const lines = text.split('\n').map((l, k) => (k === 0 ? l.replace(/^\s?/, '') : l.replace(/^\s*\* ?/, '').replace(/^\s*$/, '')));
    out.push({ start: span.start, end: span.end, line: lineOf(span.start), lines });
  }
  return out;
}

/** The ```ts blocks of a doc comment that come after an `@example` tag (until the next other tag). */
export function exampleBlocksOf(comment: DocComment): RawBlock[] {
  const blocks: RawBlock[] = [];
  let inExample = false;
  let inFence = false;
  let from = -1;
  const flush = (to: number): void => {
    if (from < 0) return;
    blocks.push(...fencedBlocks(comment.lines.slice(from, to), (k) => comment.line + from + k));
    from = -1;
  };
  comment.lines.forEach((line, k) => {
    // Tags inside a fence (a `@` in example code) are code, not tags.
    if (/^\s*```/.test(line)) {
      if (!inFence) { inFence = true; return; }
      if (CLOSE_FENCE.test(line)) { inFence = false; return; }
    }
    if (inFence) return;
    const tag = /^\s*@(\w+)/.exec(line);
    if (!tag) return;
    flush(k);
    inExample = tag[1] === 'example';
    if (inExample) from = k + 1;
  });
  flush(comment.lines.length);
  return blocks;
}

/** True when a doc comment has an `@example` tag holding at least one ```ts block. */
export function hasRunnableExample(comment: DocComment): boolean {
  return exampleBlocksOf(comment).length > 0;
}

/** Every `.ts` file under `dir`, sorted, as paths relative to `root`. */
export function sourceFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(relative(root, p).split('\\').join('/'));
    }
  };
  if (existsSync(join(root, dir))) walk(join(root, dir));
  return out;
}

/** All examples of the repository at `root`: `src/**\/*.ts` doc comments, then README.md (if present). */
export function collectExamples(root: string): ExampleBlock[] {
  const raw: { file: string; block: RawBlock }[] = [];
  for (const file of sourceFiles(root, 'src')) {
    for (const comment of docComments(readFileSync(join(root, file), 'utf8'))) {
      for (const block of exampleBlocksOf(comment)) raw.push({ file, block });
    }
  }
  const readme = join(root, 'README.md');
  if (existsSync(readme)) {
    const lines = readFileSync(readme, 'utf8').split('\n');
    for (const block of fencedBlocks(lines, (k) => k + 1)) raw.push({ file: 'README.md', block });
  }
  return raw.map(({ file, block }, id) => ({ id, file, ...block }));
}

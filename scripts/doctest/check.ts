/**
 * Judges one example run: compares what each `console.log` printed with the `// expected` comment on
 * its line, and turns errors into messages that point at the documented file's lines.
 *
 * Matching rule: the printed text equals the comment (trimmed). A value that node prints over several
 * lines (util.inspect breaks objects wider than 72 columns) cannot be written in a one-line comment, so
 * a multi-line print matches when it equals the comment with runs of whitespace folded to one space.
 */
import { isPeerSpecifier } from './peers.js';
import { pathToFileURL } from 'node:url';
import type { ExampleBlock } from './extract.js';
import type { ImportSite, InstrumentedBlock } from './instrument.js';
import type { BlockOutcome } from './run.js';

/** Runs of whitespace folded to one space, ends trimmed. */
export function foldWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Whether a printed text satisfies an expected comment (see the file comment). */
export function printedMatches(printed: string, expected: string): boolean {
  const text = printed.trimEnd();
  return text === expected || (text.includes('\n') && foldWhitespace(text) === foldWhitespace(expected));
}

/**
 * The problems of one example run (empty when it passed), each naming a line of `block.file`.
 * `declaredAt(name)` tells where a name is declared in src/, for the hint on an import that
 * src/index.ts does not provide; problems in `alreadyReported` (from importProblems) are not repeated.
 */
export function judgeOutcome(block: ExampleBlock, instrumented: InstrumentedBlock, outcome: BlockOutcome, declaredAt: (name: string) => readonly string[] = () => [], alreadyReported: readonly string[] = []): string[] {
  const at = (blockLine: number): string => `${block.file}:${block.firstLine + blockLine - 1}`;
  const shown = (text: string): string => (text.includes('\n') ? `${foldWhitespace(text)}   (printed on ${text.split('\n').length} lines; folded)` : text);
  const problems: string[] = [];

  for (const error of outcome.errors) {
    const missing = /does not provide an export named '([^']+)'/.exec(error);
    if (missing) {
      // Usually found before running by importProblems; this catches the forms it does not parse.
      if (!alreadyReported.some((p) => p.includes(`imports ${missing[1]} `))) problems.push(missingExport(missing[1], declaredAt));
    } else {
      problems.push(`the example threw:\n    ${mapStack(error, outcome.file, at).split('\n').join('\n    ')}`);
    }
  }
  // Nothing ran if an import failed: the lines below would only repeat it.
  if (outcome.errors.some((e) => /^SyntaxError|\nSyntaxError/.test(e)) && outcome.printed.length === 0) return problems;

  const checked = instrumented.sites.filter((s) => s.expected !== undefined);
  const checkedIds = new Set(checked.map((s) => s.index));
  const printedBySite = new Map<number, string[]>();
  for (const p of outcome.printed) printedBySite.set(p.site, [...(printedBySite.get(p.site) ?? []), p.text]);

  for (const site of checked) {
    const prints = printedBySite.get(site.index) ?? [];
    const expected = site.expected!;
    if (prints.length === 0) {
      problems.push(`${at(site.line)}: console.log never ran\n    expected: ${expected}`);
    } else if (prints.length > 1) {
      problems.push(`${at(site.line)}: console.log ran ${prints.length} times, its comment can only check one print\n    expected: ${expected}\n    actual:   ${prints.map(shown).join('\n              ')}`);
    } else if (!printedMatches(prints[0], expected)) {
      problems.push(`${at(site.line)}: printed output differs\n    expected: ${expected}\n    actual:   ${shown(prints[0])}`);
    }
  }

  // "In order": the checked prints must come in the order of their lines.
  const order = outcome.printed.filter((p) => checkedIds.has(p.site)).map((p) => p.site);
  const sorted = [...order].sort((a, b) => a - b);
  if (problems.length === 0 && order.some((s, k) => s !== sorted[k])) {
    const lineOfSite = (s: number): string => at(instrumented.sites[s].line);
    problems.push(`the checked console.log lines printed out of source order: ${order.map(lineOfSite).join(', ')}`);
  }

  return problems;
}

/**
 * Problems with a block's imports: examples are what users paste, so they import only 'optax-ts' (and
 * node builtins, and the packages of the optional peers that adapter subpaths need: `peers`, see peers.ts), and only names the package exports (`provides`); `declaredAt(name)` tells where a
 * missing name is declared in src/.
 */
export function importProblems(block: ExampleBlock, imports: readonly ImportSite[], provides: (name: string) => boolean, declaredAt: (name: string) => readonly string[], peers: readonly string[] = []): string[] {
  const at = (blockLine: number): string => `${block.file}:${block.firstLine + blockLine - 1}`;
  const problems: string[] = [];
  for (const i of imports.filter((x) => x.specifier === 'optax-ts')) {
    for (const name of i.names.filter((n) => !provides(n))) problems.push(`${at(i.line)}: ${missingExport(name, declaredAt)}`);
  }
  problems.push(...imports
    .filter((i) => i.specifier !== 'optax-ts' && !i.specifier.startsWith('optax-ts/') && !i.specifier.startsWith('node:') && !isPeerSpecifier(i.specifier, peers))
    .map((i) => `${at(i.line)}: imports '${i.specifier}'; an example imports only from 'optax-ts' (or node: builtins, or an optional peer's packages)`));
  if (!imports.some((i) => i.specifier === 'optax-ts' || i.specifier.startsWith('optax-ts/'))) {
    problems.push(`${at(1)}: the example does not import from 'optax-ts'`);
  }
  return problems;
}

// Rewrites frames of the temporary module to the documented file's lines and drops frames of the
// doc-test machinery and node internals.
function mapStack(stack: string, tempFile: string, at: (blockLine: number) => string): string {
  const url = pathToFileURL(tempFile).href;
  const escaped = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const frame = new RegExp(`(?:${escaped(url)}|${escaped(tempFile)}):(\\d+)(?::(\\d+))?`, 'g');
  return stack
    .split('\n')
    .filter((line) => !/^\s+at .*(node:internal|scripts[\\/]doctest[\\/]child\.ts|node_modules[\\/]tsx)/.test(line))
    .map((line) => line.replace(frame, (_m, l: string, c?: string) => `${at(Number(l))}${c ? `:${c}` : ''}`))
    .join('\n');
}

function missingExport(name: string, declaredAt: (name: string) => readonly string[]): string {
  const sites = declaredAt(name);
  return `imports ${name} from 'optax-ts': ${sites.length > 0 ? `declared at ${sites.join(', ')} but not exported from src/index.ts` : 'not declared anywhere in src/'}`;
}

/**
 * Doc tests: every TSDoc `@example` (```ts blocks in `src/**\/*.ts`) and every ```ts block of README.md
 * runs as its own module against the sources (`'optax-ts'` is rewritten to `src/index.ts`), and each
 * `console.log(...)` line with a trailing `// <output>` comment must print exactly that, in order. A
 * `console.log` line without a comment is run but not checked; a block must not throw. A value node
 * prints over several lines matches its one-line comment with whitespace runs folded (check.ts). A
 * block imports only from 'optax-ts' (and node: builtins), and only names src/index.ts exports.
 *
 * Each block must also type-check as a user would compile it (strict, ESM, one `tsc` run for all).
 *
 * One test per example, named `<file>:<line of the opening fence>`; failures name the line of each
 * wrong `console.log`. A fence written ```ts ignore is reported as skipped.
 *
 * Then the public surface: every function, class and const exported by src/index.ts has a TSDoc
 * comment with an `@example` ```ts block that uses it; every exported type has a TSDoc comment.
 *
 * The blocks run in a few child processes (`node --import tsx`), the blocks of one file together and
 * in order (see scripts/doctest/run.ts). OPTAX_DOCTEST_ALL_EXPORTS=1 runs them against every export
 * of every module under src/ instead of src/index.ts: it tells a wrong example from one whose export
 * is not wired into src/index.ts yet.
 */
import { after, test } from 'node:test';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { collectExamples, exampleBlocksOf, sourceFiles } from '../../scripts/doctest/extract.js';
import { instrument } from '../../scripts/doctest/instrument.js';
import { runBlocks } from '../../scripts/doctest/run.js';
import { importProblems, judgeOutcome } from '../../scripts/doctest/check.js';
import { declarationSites, publicExports, type PublicExport } from '../../scripts/doctest/exports.js';
import { typecheckBlocks } from '../../scripts/doctest/typecheck.js';
import { isPeerSpecifier, peerPackages } from '../../scripts/doctest/peers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

const entry = process.env.OPTAX_DOCTEST_ALL_EXPORTS === '1' ? allExportsModule() : join(root, 'src/index.ts');

// A module re-exporting src/index.ts and every module under src/ (but the CLI, which runs on import).
function allExportsModule(): string {
  const dir = mkdtempSync(join(tmpdir(), 'optax-ts-doctest-entry-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const modules = ['src/index.ts', ...sourceFiles(root, 'src').filter((f) => !f.startsWith('src/cli/'))];
  const file = join(dir, 'all-exports.mts');
  writeFileSync(file, modules.map((m) => `export * from ${JSON.stringify(join(root, m))};\n`).join(''));
  return file;
}

const peers = peerPackages(root);

// 'optax-ts' -> the entry; 'optax-ts/<sub>' -> src/<sub>/index.ts or src/<sub>.ts; an optional peer's
// package -> its file in node_modules (the blocks run from a temporary directory).
function resolveSpecifier(specifier: string): string | undefined {
  if (specifier === 'optax-ts') return pathToFileURL(entry).href;
  if (isPeerSpecifier(specifier, peers)) return import.meta.resolve(specifier);
  if (!specifier.startsWith('optax-ts/')) return undefined;
  const sub = specifier.slice('optax-ts/'.length);
  const file = [join(root, 'src', sub, 'index.ts'), join(root, 'src', `${sub}.ts`)].find(existsSync);
  return file && pathToFileURL(file).href;
}

const examples = collectExamples(root).map((block) => ({ block, instrumented: instrument(block.code, block.id, resolveSpecifier) }));
const runnable = examples.filter(({ block }) => !block.skip);
// Both start now and overlap: the children run the blocks while tsc checks them.
const outcomes = runBlocks(runnable.map(({ block, instrumented }) => ({ id: block.id, group: block.file, code: instrumented.code })), { cwd: root });
const typecheck = typecheckBlocks(root, runnable.map(({ block }) => ({ id: block.id, code: block.code })), entry);
const declared = declarationSites(root);
const surface = publicExports(root, 'src/index.ts');
const exported = new Set(surface.map((e) => e.name));
// In the preview mode every declared name counts as provided.
const provides = (name: string): boolean => exported.has(name) || (entry !== join(root, 'src/index.ts') && declared.has(name));

/** A failure whose message is the whole report (no stack trace of the test harness). */
class ExampleFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExampleFailure';
    this.stack = `${this.name}: ${message}`;
  }
}

for (const { block, instrumented } of examples) {
  test(`${block.file}:${block.fenceLine}`, { skip: block.skip ? 'fence marked ignore' : false }, async (t) => {
    const outcome = await outcomes.get(block.id)!;
    const declaredAt = (name: string): string[] => declared.get(name) ?? [];
    const imports = importProblems(block, instrumented.imports, provides, declaredAt, peers);
    const problems = [...imports, ...judgeOutcome(block, instrumented, outcome, declaredAt, imports)];
    const types = await typecheck;
    if (types.failure) problems.push(`could not type-check the examples: ${types.failure}`);
    const missing = [...problems.join('\n').matchAll(/imports (\S+) from 'optax-ts'/g)].map((m) => m[1]);
    for (const p of types.problems.get(block.id) ?? []) {
      // A name missing from src/index.ts is reported above, with where it is declared.
      if (/^TS(2305|2724|2614):/.test(p.message) && missing.some((name) => p.message.includes(`'${name}'`))) continue;
      problems.push(`${block.file}:${block.firstLine + p.line - 1}:${p.column}: does not type-check: ${p.message}`);
    }
    if (!instrumented.sites.some((s) => s.expected !== undefined)) t.diagnostic('no console.log line with an expected `// output` comment: nothing is checked but that it runs');
    if (problems.length > 0) throw new ExampleFailure(`example at ${block.file}:${block.fenceLine}\n  ${problems.join('\n  ')}`);
  });
}

test('README.md has runnable examples', (t) => {
  if (!examples.some(({ block }) => block.file === 'README.md')) t.diagnostic('README.md has no ```ts block (or does not exist yet)');
});

const where = (e: PublicExport): string => (e.declaration ? `${e.declaration.kind}, ${e.declaration.file}:${e.declaration.line}` : 'declaration not found');

test('public API: every exported function, class and const has a TSDoc @example with a ```ts block using it', () => {
  const missing: string[] = [];
  for (const e of surface.filter((x) => x.kind === 'value')) {
    const doc = e.declaration?.doc;
    const blocks = doc ? exampleBlocksOf(doc) : [];
    const why = !e.declaration ? 'its declaration was not found'
      : !doc ? 'no TSDoc comment'
      : blocks.length === 0 ? 'TSDoc comment has no @example with a ```ts block'
      : !blocks.some((b) => new RegExp(`\\b${e.declaredName.replace(/\$/g, '\\$')}\\b`).test(b.code)) ? `the @example does not use ${e.declaredName}`
      : undefined;
    if (why) missing.push(`${e.name} (${where(e)}): ${why}`);
  }
  if (missing.length > 0) throw new ExampleFailure(`${missing.length} public export(s) without a runnable example:\n  ${missing.join('\n  ')}`);
});

test('public API: every exported type and interface has a TSDoc comment', () => {
  const missing = surface.filter((e) => e.kind === 'type' && !e.declaration?.doc).map((e) => `${e.name} (${where(e)})`);
  if (missing.length > 0) throw new ExampleFailure(`${missing.length} public type(s) without a TSDoc comment:\n  ${missing.join('\n  ')}`);
});

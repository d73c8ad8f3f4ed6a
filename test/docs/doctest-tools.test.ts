/**
 * Tests of the doc-test machinery itself (scripts/doctest): the lexer, the extraction of examples and
 * expected outputs, the public-surface reader, the output matching, and one real run of the child.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeMask, scanSpans } from '../../scripts/doctest/scan.js';
import { collectExamples, docComments, exampleBlocksOf, fencedBlocks } from '../../scripts/doctest/extract.js';
import { instrument } from '../../scripts/doctest/instrument.js';
import { foldWhitespace, importProblems, judgeOutcome, printedMatches } from '../../scripts/doctest/check.js';
import { publicExports } from '../../scripts/doctest/exports.js';
import { isPeerSpecifier, peerPackages } from '../../scripts/doctest/peers.js';
import { runBlocks } from '../../scripts/doctest/run.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const keep = (): undefined => undefined;

test('scanSpans: strings, templates with ${...}, regexes and comments are not code', () => {
  const src = "const a = '//x'; const b = `t ${f('}')} u`; const r = /[/]x/g; // c\nconst d = 1 / 2; /* e */";
  const kinds = scanSpans(src).map((s) => [s.kind, src.slice(s.start, s.end)]);
  assert.deepEqual(kinds, [
    ['string', "'//x'"],
    ['template', '`t ${'],
    ['string', "'}'"],
    ['template', '} u`'],
    ['regex', '/[/]x/g'],
    ['line-comment', '// c'],
    ['block-comment', '/* e */'],
  ]);
  const isCode = codeMask(scanSpans(src));
  assert.equal(isCode(src.indexOf('f(')), true);
  assert.equal(isCode(src.indexOf('1 / 2') + 2), true, 'a division is code');
});

test('docComments + exampleBlocksOf: strips " * ", keeps indentation, stops at the next tag', () => {
  const src = [
    '/**',
    ' * Does a thing.',
    ' *',
    ' * @example',
    ' * ```ts',
    " * import { f } from 'optax-ts';",
    ' * for (const x of [1]) {',
    ' *   console.log(f(x)); // 2',
    ' * }',
    ' * ```',
    ' * @see other',
    ' * ```ts',
    ' * not an example',
    ' * ```',
    ' */',
    'export function f(x: number) { return 2 * x; }',
  ].join('\n');
  const [comment] = docComments(src);
  const blocks = exampleBlocksOf(comment);
  assert.equal(blocks.length, 1);
  assert.equal(blocks[0].fenceLine, 5);
  assert.equal(blocks[0].firstLine, 6);
  assert.equal(blocks[0].code, "import { f } from 'optax-ts';\nfor (const x of [1]) {\n  console.log(f(x)); // 2\n}");
});

test('fencedBlocks: ts/typescript fences, indented fences, and ```ts ignore', () => {
  const md = ['text', '```ts', 'a();', '```', '- item', '  ```typescript', '  b();', '  ```', '```sh', 'ls', '```', '```ts ignore', 'c();', '```'];
  const blocks = fencedBlocks(md, (k) => k + 1);
  assert.deepEqual(blocks.map((b) => [b.fenceLine, b.code, b.skip]), [[2, 'a();', false], [6, 'b();', false], [12, 'c();', true]]);
});

test('instrument: console.log calls are attributed, expected comments found, imports rewritten', () => {
  const code = [
    "import { a, type B, c as d } from 'optax-ts';",
    "import { readFileSync } from 'node:fs';",
    'console.log(1, "// not a comment"); // 1 // not a comment',
    'console.log(',
    '  2,',
    '); // 2',
    'console.log(3);',
    'console.log(4); console.log(5); // 5',
    "const s = 'console.log(6)';",
  ].join('\n');
  const out = instrument(code, 7, (s) => (s === 'optax-ts' ? 'file:///src/index.ts' : undefined));
  assert.deepEqual(out.sites.map((s) => [s.line, s.expected]), [[3, '1 // not a comment'], [6, '2'], [7, undefined], [8, undefined], [8, '5']]);
  assert.deepEqual(out.imports.map((i) => [i.specifier, i.names]), [['optax-ts', ['a', 'B', 'c']], ['node:fs', ['readFileSync']]]);
  assert.match(out.code, /^import \{ a, type B, c as d \} from "file:\/\/\/src\/index\.ts";/);
  assert.match(out.code, /__doctestLog\(7, 0, 1, "\/\/ not a comment"\)/);
  assert.match(out.code, /'console\.log\(6\)'/, 'strings are left alone');
  assert.equal(out.code.split('\n').length, code.split('\n').length, 'lines stay where they were');
});

test('printedMatches: exact, or whitespace-folded for a print node spread over several lines', () => {
  assert.equal(printedMatches('1 2', '1 2'), true);
  assert.equal(printedMatches('1  2', '1 2'), false, 'a one-line print must match exactly');
  assert.equal(printedMatches("{\n  a: Float32Array(1) [ 1 ],\n  b: 'x'\n}", "{ a: Float32Array(1) [ 1 ], b: 'x' }"), true);
  assert.equal(foldWhitespace('  a \n  b '), 'a b');
});

test('judgeOutcome: wrong output, missing print, repeated print, errors mapped to the file lines', () => {
  const block = { id: 0, file: 'src/x.ts', fenceLine: 10, firstLine: 11, code: '', skip: false };
  const instrumented = instrument('console.log(1); // 1\nconsole.log(2); // 2\nfor (const i of [1, 2]) console.log(i); // 1', 0, keep);
  const problems = judgeOutcome(block, instrumented, {
    printed: [{ site: 0, text: '1' }, { site: 1, text: '3' }],
    errors: ['Error: boom\n    at file:///tmp/b.mts:3:5'],
    finished: false,
    file: '/tmp/b.mts',
  });
  assert.equal(problems.length, 3);
  assert.match(problems[0], /the example threw:\n\s+Error: boom\n\s+at src\/x\.ts:13:5/);
  assert.match(problems[1], /^src\/x\.ts:12: printed output differs\n\s+expected: 2\n\s+actual:   3$/);
  assert.match(problems[2], /^src\/x\.ts:13: console\.log never ran/);
  const twice = judgeOutcome(block, instrumented, { printed: [{ site: 0, text: '1' }, { site: 1, text: '2' }, { site: 2, text: '1' }, { site: 2, text: '2' }], errors: [], finished: true, file: '/tmp/b.mts' });
  assert.match(twice.join('\n'), /src\/x\.ts:13: console\.log ran 2 times/);
});

test('importProblems: only optax-ts, node: builtins and the optional peers\' packages, and only names the package exports', () => {
  const block = { id: 0, file: 'README.md', fenceLine: 1, firstLine: 2, code: '', skip: false };
  const code = "import { a, b } from 'optax-ts';\nimport { c } from '../src/c.js';\nimport * as tf from '@tensorflow/tfjs';\nimport x from 'left-pad';";
  const { imports } = instrument(code, 0, keep);
  const problems = importProblems(block, imports, (n) => n === 'a', (n) => (n === 'b' ? ['src/b.ts:3'] : []), ['@tensorflow/']);
  assert.deepEqual(problems, [
    "README.md:2: imports b from 'optax-ts': declared at src/b.ts:3 but not exported from src/index.ts",
    "README.md:3: imports '../src/c.js'; an example imports only from 'optax-ts' (or node: builtins, or an optional peer's packages)",
    "README.md:5: imports 'left-pad'; an example imports only from 'optax-ts' (or node: builtins, or an optional peer's packages)",
  ]);
});

test('peerPackages: the scopes of package.json\'s peerDependencies', () => {
  assert.ok(peerPackages(root).includes('@tensorflow/'));
  assert.ok(isPeerSpecifier('@tensorflow/tfjs', ['@tensorflow/']) && !isPeerSpecifier('@tensorflowx/a', ['@tensorflow/']) && isPeerSpecifier('a/b', ['a']) && !isPeerSpecifier('ab', ['a']));
});

test('publicExports: follows export *, renames, local re-exports, and tells values from types', () => {
  const dir = mkdtempSync(join(tmpdir(), 'optax-ts-doctest-fixture-'));
  try {
    mkdirSync(join(dir, 'src/sub'), { recursive: true });
    writeFileSync(join(dir, 'src/index.ts'), [
      "export * from './sub/index.js';",
      "export { inner as renamed, type Shape } from './b.js';",
      "export type { Alias } from './b.js';",
      "import { local } from './b.js';",
      'export { local };',
    ].join('\n'));
    writeFileSync(join(dir, 'src/sub/index.ts'), "export { documented } from './a.js';\n");
    writeFileSync(join(dir, 'src/sub/a.ts'), '/**\n * Doc.\n * @example\n * ```ts\n * documented();\n * ```\n */\nexport function documented(): void {}\n');
    writeFileSync(join(dir, 'src/b.ts'), [
      '/** Inner. */',
      'export const inner = 1;',
      'export interface Shape { a: number }',
      'export type Alias = number;',
      '/** Local. */',
      'function local(): void {}',
      'export { local };',
    ].join('\n'));
    const surface = publicExports(dir, 'src/index.ts');
    const summary = surface.map((e) => [e.name, e.kind, e.declaration?.kind, e.declaration?.file, e.declaration?.doc ? exampleBlocksOf(e.declaration.doc).length : -1]);
    assert.deepEqual(summary, [
      ['Alias', 'type', 'type', 'src/b.ts', -1],
      ['Shape', 'type', 'interface', 'src/b.ts', -1],
      ['documented', 'value', 'function', 'src/sub/a.ts', 1],
      ['local', 'value', 'function', 'src/b.ts', 0],
      ['renamed', 'value', 'const', 'src/b.ts', 0],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('collectExamples finds the examples of this repository', () => {
  const examples = collectExamples(root);
  assert.ok(examples.some((e) => e.file === 'src/core/numerics.ts'), 'safeIncrement has an example');
  assert.ok(examples.every((e) => e.code.length > 0));
});

test('runBlocks: a throwing block does not hide the next one of its group; prints are attributed', async () => {
  const blocks = [
    instrument('console.log("a", 1); // a 1\nthrow new TypeError("boom");', 0, keep),
    instrument('await Promise.resolve();\nconsole.log({ b: 2 }); // { b: 2 }', 1, keep),
  ];
  const outcomes = runBlocks(blocks.map((b, id) => ({ id, group: 'g', code: b.code })), { cwd: root, concurrency: 1 });
  const [first, second] = await Promise.all([outcomes.get(0)!, outcomes.get(1)!]);
  assert.deepEqual(first.printed, [{ site: 0, text: 'a 1' }]);
  assert.equal(first.finished, false);
  assert.match(first.errors[0], /TypeError: boom/);
  assert.deepEqual(second.printed, [{ site: 0, text: '{ b: 2 }' }]);
  assert.equal(second.finished, true);
  assert.deepEqual(second.errors, []);
});

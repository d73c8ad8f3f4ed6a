// A guard against the class of bug behind issue 8's item 4: `'key' in obj` on a value that came from a
// caller counts inherited names (`constructor`, `toString`, anything on a polluted prototype) as
// present. The library tests own keys only (`Object.hasOwn`, `hasOwn`, `hasExactKeys`); this test
// fails on any `in` test of a string key anywhere in src/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) yield* sources(join(dir, e.name));
    else if (e.name.endsWith('.ts')) yield join(dir, e.name);
  }
}

test('item 4: no `in` key test in src/ (own keys only)', () => {
  const found: string[] = [];
  for (const file of sources(join(root, 'src'))) {
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '').replace(/`[^`]*`/g, '``');
      if (/^\s*(\*|\/\*)/.test(line)) return; // doc comments
      if (/(['"][^'"]*['"]|\b[A-Za-z_$][\w$]*\))\s+in\s+[A-Za-z_$(]/.test(code) && !/\bfor\s*\(/.test(code)) found.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, [], `use Object.hasOwn / hasOwn instead:\n${found.join('\n')}`);
});

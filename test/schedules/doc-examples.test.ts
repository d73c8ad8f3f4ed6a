// Runs the @example blocks of src/schedules/*.ts and checks each `console.log(...); // printed` line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { format } from 'node:util';
import * as S from '../../src/schedules/index.js';

const dir = new URL('../../src/schedules/', import.meta.url);

for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) {
  const source = readFileSync(new URL(file, dir), 'utf8');
  const blocks = [...source.matchAll(/@example\s*\n((?:\s*\*.*\n)*?)\s*\*\s*```ts\n((?:\s*\*.*\n)*?)\s*\*\s*```/g)];
  blocks.forEach((m, index) => {
    test(`${file} example ${index + 1}`, () => {
      const code = m[2].split('\n').map((l) => l.replace(/^\s*\* ?/, '')).join('\n');
      const imports = [...code.matchAll(/import \{([^}]*)\} from 'optax-ts';/g)];
      assert.ok(imports.length > 0, 'the example imports from optax-ts');
      const expected = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((x) => x[1]);
      const printed: string[] = [];
      const body = code.replace(/import \{([^}]*)\} from 'optax-ts';/g, 'const {$1} = S;');
      new Function('S', 'console', body)(S, { log: (...args: unknown[]) => printed.push(format(...args)) });
      assert.deepEqual(printed, expected);
    });
  });
}

// Hostile vectors files: whatever the JSON, checking it either accepts it or throws an OptaxError
// naming a JSON path; and an accepted file runs to a verdict per case without throwing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { OptaxError } from '../../src/core/errors.js';
import { checkVectorsFile, runVectorsFile } from '../../src/conformance/runner.js';
import { setWarningHandler } from '../../src/core/warnings.js';

const root = new URL('../../', import.meta.url).pathname;
const shipped = (name: string) => JSON.parse(readFileSync(join(root, 'conformance', name), 'utf8'));

test('every shipped file is valid', () => {
  for (const name of readdirSync(join(root, 'conformance')).filter((f) => f.endsWith('.json'))) checkVectorsFile(shipped(name), name);
});

/** Every [container, key] of a JSON value, for mutation. */
function slots(x: unknown, out: [any, string | number][] = []): [any, string | number][] {
  if (Array.isArray(x)) x.forEach((v, i) => { out.push([x, i]); slots(v, out); });
  else if (x && typeof x === 'object') for (const k of Object.keys(x)) { out.push([x, k]); slots((x as any)[k], out); }
  return out;
}

const hostile = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1.5, 2 ** 31, NaN, '', 'x', '\u001b[2K', [], {}, { $array: 'float32' }, { $array: 'float64', shape: [1e9], b64: '' },
    { $array: 'int32', shape: [1], b64: 'AAAA' }, { name: 'lion' }, { __proto__: null }, JSON.parse('{"__proto__": {"polluted": 1}}'), { name: 'constructor', args: {} }),
  fc.jsonValue({ maxDepth: 3 }),
);

test('mutated files: accepted, or an OptaxError with a JSON path; accepted ones run to a verdict', () => {
  const base = shipped('public_f32.json');
  base.cases = base.cases.filter((c: any) => ['doc_example_quadratic', 'nested_tree_with_none', 'masked_adamax'].includes(c.name) || c.kind === 'schedule').slice(0, 5);
  const previous = setWarningHandler(() => {});
  try {
    fc.assert(fc.property(fc.nat(), hostile, fc.boolean(), (at, value, remove) => {
      const f = structuredClone(base);
      const all = slots(f);
      const [container, key] = all[at % all.length];
      if (remove && !Array.isArray(container)) delete container[key];
      else container[key] = value;
      let file;
      try {
        file = checkVectorsFile(f, 'f.json');
      } catch (e) {
        assert.ok(e instanceof OptaxError, `not an OptaxError: ${String(e)}`);
        assert.match(e.message, /^f\.json: \$/);
        return;
      }
      const results = runVectorsFile(file, 'f.json');
      assert.equal(results.length, file.cases.length);
      for (const r of results) assert.equal(typeof r.passed, 'boolean');
    }), { numRuns: 300 });
  } finally {
    setWarningHandler(previous);
  }
  assert.equal(({} as any).polluted, undefined);
});

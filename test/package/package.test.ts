// The published package as a user gets it: CommonJS require, the files it ships, the links its README
// follows. Runs against dist/ (npm test builds first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const [major, minor] = process.versions.node.split('.').map(Number);

test('item 13: require("optax-ts") works from CommonJS (Node >= 20.19), and import too', { skip: major === 20 && minor < 19 ? 'require(esm) needs Node >= 20.19' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'optax-ts-cjs-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'optax-ts'), 'dir');
    const script = `
      const { adamax, applyUpdates } = require('optax-ts');
      const solver = adamax(0.003);
      let params = new Float32Array([1, 2, 3]);
      let state = solver.init(params);
      for (let i = 0; i < 5; i++) {
        const [updates, next] = solver.update(params.map((v) => 2 * v), state, params);
        params = applyUpdates(params, updates);
        state = next;
      }
      console.log(params.reduce((s, v) => Math.fround(s + Math.fround(v * v)), 0).toExponential(2));`;
    const out = execFileSync(process.execPath, ['--input-type=commonjs', '-e', script], { cwd: dir, encoding: 'utf8' });
    assert.equal(out.trim(), '1.38e+1');
    const esm = execFileSync(process.execPath, ['--input-type=module', '-e', "import { adamax } from 'optax-ts'; console.log(typeof adamax);"], { cwd: dir, encoding: 'utf8' });
    assert.equal(esm.trim(), 'function');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('item 15: the package ships LICENSE, CHANGELOG and every file its README links to, and no source maps', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  assert.equal(pkg.license, 'Apache-2.0');
  assert.match(readFileSync(join(root, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004[\s\S]*END OF TERMS AND CONDITIONS/);
  assert.ok(Array.isArray(pkg.keywords) && pkg.keywords.length > 0 && pkg.repository, 'keywords and repository');
  assert.ok(Array.isArray(pkg.sideEffects) || pkg.sideEffects === false, 'sideEffects declared');
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }));
  const files = new Set<string>(packed.files.map((f: { path: string }) => f.path));
  for (const f of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']) assert.ok(files.has(f), `${f} is shipped`);
  assert.deepEqual([...files].filter((f) => f.endsWith('.map')), [], 'no source maps (they would point at src/, not shipped)');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  for (const [, target] of readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
    if (/^[a-z]+:/.test(target)) continue;
    const path = target.replace(/^\.\//, '').replace(/\/$/, '');
    assert.ok(files.has(path) || [...files].some((f) => f.startsWith(`${path}/`)), `README links to ${target}, which the package does not ship`);
  }
});

test('item 15: sideEffects lets a bundler drop what README example 1 does not use', async () => {
  const { build } = await import('esbuild');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const example = /```ts\n(import \{ adamax, applyUpdates \} from 'optax-ts';[\s\S]*?)```/.exec(readme)![1];
  const dir = mkdtempSync(join(tmpdir(), 'optax-ts-bundle-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'optax-ts'), 'dir');
    // ignoreAnnotations makes esbuild disregard package.json's sideEffects: the size without it.
    const size = async (ignoreAnnotations: boolean) => (await build({
      stdin: { contents: example, loader: 'ts', resolveDir: dir }, bundle: true, minify: true, format: 'esm', platform: 'browser',
      write: false, ignoreAnnotations, logLevel: 'silent',
    })).outputFiles[0].contents.length;
    const [declared, ignored] = [await size(false), await size(true)];
    assert.ok(declared < 0.6 * ignored, `README example 1: ${declared} bytes minified with sideEffects, ${ignored} without`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

/**
 * The core must run in browsers: bundle test/browser/page.ts, serve it cross-origin isolated (so that
 * SharedArrayBuffer and Web Worker threads are available), load it in headless Chromium, and read back
 * what the page found. `.ci/run` installs Debian's chromium; without it this test is skipped, saying so.
 */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

test('in headless Chromium: every backend and Web Worker threads are bit-identical to the reference', { skip: CHROMIUM ? false : 'Chromium is not installed (apt-get install chromium)', timeout: 120_000 }, async () => {
  const bundled = await build({ entryPoints: [new URL('./page.ts', import.meta.url).pathname], bundle: true, format: 'esm', write: false, logLevel: 'silent' });
  const js = bundled.outputFiles[0].text;
  const html = '<!doctype html><html><body>loading</body><script type="module" src="page.js"></script></html>';
  const server = createServer((req, res) => {
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    if (req.url === '/page.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(js);
    else res.writeHead(200, { 'Content-Type': 'text/html' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    const profile = mkdtempSync(join(tmpdir(), 'optax-ts-chromium-'));
    // Chromium runs in a child process while this process keeps serving: spawn it asynchronously.
    const dom = await new Promise<string>((resolve, reject) => {
      const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--virtual-time-budget=30000', '--dump-dom', `http://127.0.0.1:${port}/`];
      execFile(CHROMIUM!, args, { timeout: 100_000, maxBuffer: 1 << 24 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    const text = dom.replace(/<[^>]*>/g, '\n');
    assert.doesNotMatch(text, /ERROR/, text);
    for (const line of ['wasm threads=1 identical=true', 'wasm threads=2 identical=true', 'js threads=1 identical=true', 'interpreter threads=1 identical=true', 'flax count=5', 'isolated=true shared=true']) {
      assert.ok(text.includes(line), `expected "${line}" in the page, got:\n${text.trim()}`);
    }
  } finally {
    server.close();
  }
});


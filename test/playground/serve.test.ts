import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createStaticServer } from '../../playground/serve.js';

/** A raw request (fetch would normalize `..` away before it reaches the server). */
function get(port: number, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the playground server: cross-origin isolation headers, content types, nothing outside its folder', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'optax-ts-serve-'));
  const dir = join(parent, 'site');
  mkdirSync(dir);
  writeFileSync(join(dir, 'index.html'), '<!doctype html>hello');
  writeFileSync(join(dir, 'main.js'), 'export {}');
  writeFileSync(join(parent, 'secret.txt'), 'secret');
  const server = createStaticServer(dir);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const index = await get(port, '/');
    assert.equal(index.status, 200);
    assert.equal(index.body, readFileSync(join(dir, 'index.html'), 'utf8'));
    assert.equal(index.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(index.headers['cross-origin-embedder-policy'], 'require-corp');
    assert.match(String(index.headers['content-type']), /^text\/html/);
    const js = await get(port, '/main.js?v=1');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.equal(js.headers['cross-origin-embedder-policy'], 'require-corp');
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/missing.js', '/%00', '/%E0%A4%A']) {
      const res = await get(port, path);
      assert.ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`);
      assert.doesNotMatch(res.body, /secret/);
    }
    const post = await get(port, '/', 'POST');
    assert.equal(post.status, 405);
    const head = await get(port, '/main.js', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  } finally {
    server.close();
  }
});

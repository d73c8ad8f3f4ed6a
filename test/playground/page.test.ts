import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { buildPlayground } from '../../playground/build.js';
import { createStaticServer } from '../../playground/serve.js';

/**
 * The playground in a real browser: build it, serve it (cross-origin isolated), and drive headless
 * Chromium through playwright-core: change settings, play, check where the quadratic bowl's trajectory
 * ends, that the URL restores the view, that the network view trains (on two worker threads), that no
 * console error appears and nothing is loaded from elsewhere. Screenshots go to
 * $PLAYGROUND_SCREENSHOTS (a folder; docs/ for the README's) or a temporary folder.
 * `.ci/run` installs Debian's chromium; without it this test is skipped, saying so.
 */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

test('playground in headless Chromium: settings, trajectories, URL, network view, no console error', { skip: CHROMIUM ? false : 'Chromium is not installed (apt-get install chromium)', timeout: 90_000 }, async () => {
  const site = mkdtempSync(join(tmpdir(), 'optax-ts-playground-'));
  await buildPlayground(site);
  const shots = process.env.PLAYGROUND_SCREENSHOTS ?? site;
  mkdirSync(shots, { recursive: true });
  const server = createStaticServer(site);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => { if (!/^(data|blob):/.test(r.url()) && !r.url().startsWith(`${origin}/`)) problems.push(`request outside the server: ${r.url()}`); });
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    await page.goto(`${origin}/`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.match(await page.textContent('#engine-status') ?? '', /cross-origin isolated: yes/);
    assert.match(await page.textContent('#engine-status') ?? '', /Run A: wasm, 1 thread/);

    // The quadratic bowl, three optimizers, run A at learning rate 0.2 for 200 steps.
    await page.selectOption('#fn', 'bowl');
    await page.click('.add-run');
    const setNumber = async (name: string, value: string) => {
      await page.fill(`input[name="${name}"]`, value);
      await page.dispatchEvent(`input[name="${name}"]`, 'change');
    };
    await setNumber('steps', '200');
    await setNumber('run0-lr-value', '0.2');
    await page.click('#play');
    await page.waitForSelector('.functions-view[data-state="done"]', { timeout: 15_000 });
    const runs = await page.$$eval('#summary li[data-run]', (lis) => lis.map((li) => ({ x: Number(li.dataset.x), y: Number(li.dataset.y), identical: li.dataset.identical })));
    assert.equal(runs.length, 3);
    assert.ok(Math.hypot(runs[0].x, runs[0].y) < 0.05, `run A should end near the minimum (0, 0), ended at (${runs[0].x}, ${runs[0].y})`);
    for (const r of runs) assert.ok(Math.hypot(r.x, r.y) < 0.5, `every run ends near the minimum: (${r.x}, ${r.y})`);
    assert.deepEqual(runs.map((r) => r.identical), ['true', 'true', 'true'], 'the fused engine agrees with tx.update bit for bit');
    // Every preset (the third has MultiSteps and weight decay) is fused, and the header says so.
    assert.match(await page.textContent('#engine-status') ?? '', /Run A: wasm, 1 thread.*Run B: wasm, 1 thread.*Run C: wasm, 1 thread/);
    assert.match(await page.locator('.engine-run').nth(2).getAttribute('title') ?? '', /^Fused/);
    assert.equal(await page.textContent('#math [data-k="t"]'), '200');
    assert.equal(await page.textContent('#math [data-k="lr"]'), '0.2');
    await page.screenshot({ path: join(shots, 'playground.png') });

    // The URL holds the settings: a fresh page at it shows the same view.
    const url = page.url();
    assert.match(decodeURIComponent(url), /"fn":"bowl"/);
    const again = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    again.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await again.goto(url);
    await again.waitForSelector('body[data-ready="true"]');
    assert.equal(await again.inputValue('#fn'), 'bowl');
    assert.equal(await again.inputValue('input[name="run0-lr-value"]'), '0.2');
    assert.equal(await again.$$eval('#summary li[data-run]', (lis) => lis.map((li) => li.dataset.x).join()), runs.map((r) => String(r.x)).join());
    await again.close();

    // Clicking the contour plot moves the start point.
    const box = (await page.locator('#contour .u-over').boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.75, box.y + box.height * 0.25);
    assert.ok(Number(await page.inputValue('input[name="x0"]')) > 1, 'start x follows the click');
    assert.ok(Number(await page.inputValue('input[name="y0"]')) > 1, 'start y follows the click');

    // A bad option shows the library's message on its card, not a console error.
    await setNumber('run1-b1', '1.5');
    assert.match(await page.textContent('.run-card[data-run="1"] .error') ?? '', /b1/);
    await setNumber('run1-b1', '0.9');

    // The network view: XOR, two engine threads, training live.
    await page.click('nav button[data-view="classify"]');
    await page.selectOption('#dataset', 'xor');
    await page.selectOption('#threads', '2');
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('.classify-view')?.dataset.step) >= 150, undefined, { timeout: 30_000 });
    await page.waitForFunction(() => /Run A: wasm, 2 threads/.test(document.getElementById('engine-status')?.textContent ?? ''), undefined, { timeout: 10_000 });
    const losses = await page.$$eval('.board[data-run]', (els) => els.map((el) => Number((el as HTMLElement).dataset.loss)));
    assert.ok(losses[0] < 0.4, `run A learns XOR: loss ${losses[0]}`);
    await page.click('#train');
    await page.screenshot({ path: join(shots, 'playground-network.png') });
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    server.close();
  }
});

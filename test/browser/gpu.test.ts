import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import type { BackendReport } from './gpu-page.js';

/**
 * The adapters on GPU backends: test/browser/gpu-page.ts, bundled, in headless Chromium with
 * SwiftShader (Chromium's software Vulkan) behind both WebGL (ANGLE) and WebGPU (Dawn), since CI has no
 * GPU. Each backend that does not come up is skipped, saying why. `.ci/run` installs Debian's chromium.
 */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

/**
 * WebGL: ANGLE on SwiftShader (Chromium refuses software WebGL unless told it is meant). WebGPU:
 * Linux Chromium exposes navigator.gpu only with --enable-unsafe-webgpu, and the SwiftShader adapter
 * only when asked for.
 */
const GPU_FLAGS = ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

function report(t: { diagnostic(message: string): void }, r: BackendReport): void {
  t.diagnostic(`${r.backend} on ${r.device} (${Math.round(r.ms)} ms)`);
  for (const c of r.cases) t.diagnostic(`  ${c.tx} [${c.path}]: max ulps ${JSON.stringify(c.ulps)}; normwise ${JSON.stringify(c.scaledUlps)}; resumed identical ${c.resumedIdentical}${c.dataSyncs !== undefined ? `; dataSyncs ${c.dataSyncs}` : ''}${c.numTensors ? `; numTensors ${c.numTensors.join(' ')}` : ''}${c.count ? `; count ${c.count.join(' ')}, unconsumed ${c.unconsumed}` : ''}${c.eagerIdentical !== undefined ? `; eager identical ${c.eagerIdentical}` : ''}${c.ms !== undefined ? ` (${Math.round(c.ms)} ms; first step ${Math.round(c.firstStepMs!)} ms, then ${c.stepMs!.toFixed(1)} ms)` : ''}; mu amplification ${JSON.stringify(c.muAmplification)}`);
}

/**
 * The distance from the pure path a GPU device may show, in float32 ulps (normwise: ulps of each
 * leaf's largest magnitude, see gpu-page.ts), derived from what WebGL and WebGPU guarantee:
 *
 * - `+`, `-`, `*`, `abs`, `max` are correctly rounded (GLSL ES 3.00 §4.5.1; WGSL's floating-point
 *   accuracy table), so adamax's moments `mu = b1*mu + (1-b1)*g`, `nu = max(|g| + eps, b2*nu)` are
 *   bit-exact when the gradients are: 0 ulps.
 * - Division is within 2.5 ulps (both specs), and jax-js divides as `a * (1/b)` (3 ulps). An update
 *   `-lr * (mu / (1 - b1^t)) / nu` (+ `wd * p`) is then within about 7 ulps of itself, and |u| is at
 *   most lr (0.05) times about 1, so it adds under 0.1 ulp of a parameter of magnitude 5; the sum
 *   `p + u` may round the other way: each step adds at most 1 ulp of the leaf's scale, so the
 *   params are within `steps + 1` ulps normwise.
 * - A sum of n non-negative float32 squares is within γ_n = n·2^-24/(1 - n·2^-24) of the exact sum,
 *   relatively, in any order (Higham, Accuracy and Stability of Numerical Algorithms, §4.2), so two
 *   orders (XLA's sequential one, a GPU's tree reduction) differ by at most 2γ_n, and their square
 *   roots by γ_n; with the roundings of the sqrt and of the reciprocal, the clip scale's relative error
 *   is ρ = γ_n + 2^-22. Every clipped gradient then carries relative error ρ, and so does nu (max,
 *   abs, scaling by b2 keep relative error): 2^23·ρ + steps ulps. mu averages the clipped gradients
 *   with weights (1 - b1)·b1^k summing to 1 - b1^steps, so its error is at most ρ times the largest
 *   clipped gradient times that sum: normwise, 2^23·ρ times `muAmplification` (measured on the pure
 *   path's values in the page), plus steps. The params are unaffected to first order (a common factor
 *   of mu and nu cancels in mu/nu): `steps + 1` again.
 */
function checkBounds(r: BackendReport, c: BackendReport['cases'][number]): void {
  const u = 2 ** -24;
  const gamma = (r.elements * u) / (1 - r.elements * u);
  const rho = gamma + 2 ** -22;
  const what = `${r.backend}, ${c.tx} [${c.path}]`;
  const reducesElsewhere = c.tx.startsWith('chain(clipByGlobalNorm') && c.path !== 'engine';
  for (const [leaf, scaled] of Object.entries(c.scaledUlps)) {
    let bound: number;
    if (leaf.startsWith('params/')) bound = r.steps + 1;
    else if (!reducesElsewhere) bound = 0;
    else if (leaf.includes("'nu'")) bound = 2 ** 23 * rho + r.steps;
    else bound = 2 ** 23 * rho * c.muAmplification[leaf] + r.steps;
    assert.ok(scaled <= bound, `${what}: ${leaf} is ${scaled} ulps (normwise) from the pure path; the bound is ${bound}`);
  }
}

test('GPU backends in headless Chromium (SwiftShader): the tfjs and jax-js adapters against the pure path', { skip: CHROMIUM ? false : 'Chromium is not installed (apt-get install chromium)', timeout: 420_000 }, async (t) => {
  const bundled = await build({ entryPoints: [new URL('./gpu-page.ts', import.meta.url).pathname], bundle: true, format: 'esm', write: false, logLevel: 'silent' });
  const js = bundled.outputFiles[0].text;
  const server = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(js);
    else res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><html><body></body><script type="module" src="page.js"></script></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const profile = mkdtempSync(join(tmpdir(), 'optax-ts-chromium-gpu-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...GPU_FLAGS],
  });
  const run = async (lib: 'tfjs' | 'jaxjs', backend: string): Promise<BackendReport> => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${origin}/`);
      await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 30_000 });
      return await page.evaluate(([l, b]) => (globalThis as any).optaxGpu[l](b), [lib, backend] as const);
    } finally {
      await page.close();
      assert.deepEqual(errors, []);
    }
  };
  try {
    for (const [lib, backend] of [['tfjs', 'webgl'], ['tfjs', 'webgpu'], ['jaxjs', 'webgl'], ['jaxjs', 'webgpu']] as const) {
      await t.test(`${lib} ${backend}`, async (st) => {
        const r = await run(lib, backend);
        if (!r.available) {
          st.skip(r.reason);
          return;
        }
        report(st, r);
        if (lib === 'tfjs') {
          // The tfjs runs: the path auto chose (tfjs ops on a GPU backend), the demo's chain through the
          // engine, then the combinators (ops too, and no synchronous read: nothing went through the engine).
          assert.deepEqual(r.cases.map((c) => c.path), ['ops', 'ops', 'ops', 'engine', 'ops', 'ops', 'ops', 'ops', 'ops']);
          for (const c of r.cases) assert.equal(c.dataSyncs, c.path === 'engine' ? c.dataSyncs : 0, `${r.backend}, ${c.tx}: synchronous reads during the steps`);
          assert.ok(r.cases[3].dataSyncs! > 0, 'the engine path on a GPU backend reads the gradients back (the spy must see it)');
          const { path, losses, numTensors } = r.trained!;
          st.diagnostic(`  trained by minimize [${path}]: loss ${losses.map((l) => l.toPrecision(3)).join(' ')}; numTensors ${numTensors.join(' ')}`);
          assert.equal(path, 'ops');
          assert.ok(losses.every(Number.isFinite) && losses.at(-1)! < losses[0] / 20, `the loss must fall at least 20-fold: ${losses.join(' ')}`);
          assert.equal(numTensors[1], numTensors[0], 'tensors leaked while training');
          st.diagnostic(`  layers model saved with includeOptimizer, loaded, fitted on [${r.trained!.modelPath}]: resumed identical ${r.trained!.modelResumedIdentical}`);
          assert.equal(r.trained!.modelPath, 'ops');
          assert.ok(r.trained!.modelResumedIdentical, 'model.save(..., { includeOptimizer: true }), tf.loadLayersModel, fit: not the uninterrupted fit\'s weights');
        }
        // jax-js: the demo's three, the NaN cases (gpu-page.ts's JAX_NAN_CASES), and applyIfFinite(adamax)
        // and multiSteps (JAX_COMBINATORS; on WebGL with their kernels cut).
        assert.equal(r.cases.length, lib === 'tfjs' ? 9 : 7);
        for (const c of r.cases) {
          const what = `${r.backend}, ${c.tx} [${c.path}]`;
          assert.ok(c.resumedIdentical, `${what}: saved midway and restored, training did not resume bit-identically`);
          if (lib === 'tfjs') {
            // The engine runs on the CPU, whatever the backend: always the pure path's bits. The ops
            // path on SwiftShader, which rounds every float32 operation (division included) as IEEE
            // does: measured bit-identical too, and asserted so; on another adapter, the GPU bounds.
            // The global norm is the backend's reduction (another order than XLA's): within the bounds.
            // The combinators' fused multiply-adds (applyIfFinite's and multiSteps' traced inner step)
            // are exactFma's error-free float32 ops: exact wherever + - * round correctly, as here;
            // the partition's global norm (of the 7-element leaf) measured equal to XLA's order too.
            if (c.path === 'engine' || (/swiftshader/i.test(r.device ?? '') && !c.tx.startsWith('chain(clipByGlobalNorm'))) assert.ok(Object.values(c.ulps).every((x) => x === 0), `${what}: expected bit-identical, got ulps ${JSON.stringify(c.ulps)}`);
            else checkBounds(r, c);
            const [afterFirst, afterLast, afterSave, afterSaves] = c.numTensors!;
            assert.equal(afterLast, afterFirst, `${what}: tensors leaked over ${r.steps} steps`);
            assert.equal(afterSaves, afterSave, `${what}: tensors leaked over 5 saves and restores`);
          } else {
            // The combinators (on leaf b, with a NaN at step 4) count their own steps: every scalar of
            // the state (counts, applyIfFinite's flags, multiSteps' mini steps) as the pure path's.
            assert.deepEqual(c.scalarMismatches, [], `${what}: the state's scalars`);
            if (!c.tx.endsWith('[b]')) assert.deepEqual(c.count, c.count!.map(() => r.steps), `${what}: the step count in the state`);
            assert.equal(c.unconsumed, 0, `${what}: arrays handed to the jitted step were left alive`);
            // WebGL's cuts are exact copies: the cut jitted steps give the eager steps' bits.
            if (c.eagerIdentical !== undefined || (r.backend === 'jax-js-webgl' && /^(applyIfFinite\(adamax|multiSteps\()/.test(c.tx))) assert.equal(c.eagerIdentical, true, `${what}: the jitted (cut) steps and the eager ones differ`);
            checkBounds(r, c);
          }
        }
      });
    }
  } finally {
    await browser.close();
    server.close();
  }
});

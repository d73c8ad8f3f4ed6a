/**
 * Builds the playground into a folder for static hosting: index.html, main.js (the page, optax-ts and
 * uPlot bundled by esbuild, nothing loaded from elsewhere) and main.css.
 *
 *     npm run playground:build [-- OUT_DIR]      (default: playground/dist)
 *
 * A host must send `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy:
 * require-corp` for the engine's worker threads; without them the page still runs, on one thread.
 */
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const HERE = fileURLToPath(new URL('.', import.meta.url));
export const DEFAULT_OUT_DIR = join(HERE, 'dist');

/** Bundles the page into `outDir`; returns the files written and their sizes in bytes. */
export async function buildPlayground(outDir = DEFAULT_OUT_DIR): Promise<Record<string, number>> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: { main: join(HERE, 'src', 'main.ts') },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    outdir: outDir,
    logLevel: 'warning',
    // The core's Node thread platform is reached only through process.getBuiltinModule, absent in browsers.
    platform: 'browser',
  });
  copyFileSync(join(HERE, 'index.html'), join(outDir, 'index.html'));
  return Object.fromEntries(['index.html', 'main.js', 'main.css'].map((f) => [f, statSync(join(outDir, f)).size]));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = resolve(process.argv[2] ?? DEFAULT_OUT_DIR);
  const files = await buildPlayground(out);
  for (const [f, bytes] of Object.entries(files)) console.log(`${join(out, f)}  ${(bytes / 1024).toFixed(1)} kB`);
}

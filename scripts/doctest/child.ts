/**
 * The doc-test child process: runs the example modules listed in a manifest, one after the other,
 * each in its own module scope, and appends what happened to a JSON-lines file:
 *
 *   {"t":"start","block":3}  {"t":"log","block":3,"site":0,"text":"1 2"}  {"t":"done","block":3}
 *   {"t":"error","block":3,"message":"<stack>"}   (the block threw or rejected; the next one still runs)
 *
 * Run as `node --import tsx scripts/doctest/child.ts <manifest.json>` (see run.ts).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { format, inspect } from 'node:util';

interface Manifest {
  readonly out: string;
  readonly blocks: readonly { readonly id: number; readonly url: string }[];
}

const manifest = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Manifest;
let current = -1;

function record(entry: Record<string, unknown>): void {
  // Synchronous, so that nothing is lost if a block ends the process.
  appendFileSync(manifest.out, JSON.stringify(entry) + '\n');
}

function describeError(error: unknown): string {
  return error instanceof Error && typeof error.stack === 'string' ? error.stack : inspect(error);
}

// What `console.log` prints to a pipe: util.format of the arguments, no colours.
(globalThis as Record<string, unknown>).__doctestLog = (block: number, site: number, ...args: unknown[]): void => {
  record({ t: 'log', block, site, text: format(...args) });
};

// An asynchronous error belongs to the block whose module its stack goes through (block-<id>.mts),
// else to the block running now.
function owner(message: string): number {
  const m = /block-(\d+)\.mts/.exec(message);
  return m ? Number(m[1]) : current;
}
process.on('uncaughtException', (error) => {
  const message = describeError(error);
  record({ t: 'error', block: owner(message), message: `uncaught: ${message}` });
});
process.on('unhandledRejection', (error) => {
  const message = describeError(error);
  record({ t: 'error', block: owner(message), message: `unhandled rejection: ${message}` });
});

for (const { id, url } of manifest.blocks) {
  current = id;
  record({ t: 'start', block: id });
  try {
    await import(url);
    record({ t: 'done', block: id });
  } catch (error) {
    record({ t: 'error', block: id, message: describeError(error) });
  }
}

// Let late asynchronous output arrive, but do not wait for an example that keeps the process alive.
setTimeout(() => {
  record({ t: 'lingering' });
  process.exit(0);
}, 2000).unref();

/**
 * Runs one heap-growth measurement in a fresh process (spawned by run.ts with --expose-gc), so that
 * nothing the other columns left behind (tfjs, jax-js, the reference path's garbage, pending
 * finalizers) is collected during the measured window. Prints the result as one JSON line.
 *
 * Usage: node --expose-gc --import tsx bench/heap-child.ts '<layout json>' <js|wasm> <threads> <steps> [combinator id]
 */
import type { Layout } from './config.js';
import { measureHeap } from './heap.js';

const [layoutJson, backend, threads, steps, combinator] = process.argv.slice(2);
if (backend !== 'js' && backend !== 'wasm') throw new Error(`backend must be js or wasm, got ${backend}`);
const result = await measureHeap(JSON.parse(layoutJson) as Layout, backend, Number(threads), Number(steps), combinator);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);

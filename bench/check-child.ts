/**
 * Runs the bit-exactness check of one fused backend in its own process (spawned by run.ts with a time
 * limit). Prints the results as one JSON line.
 *
 * Usage: node --import tsx bench/check-child.ts <js|wasm> <threads>
 */
import { checkBitExact } from './check.js';

const [backend, threads] = process.argv.slice(2);
if (backend !== 'js' && backend !== 'wasm') throw new Error(`backend must be js or wasm, got ${backend}`);
process.stdout.write(`${JSON.stringify(await checkBitExact(backend, Number(threads)))}\n`);
process.exit(0);

/**
 * Child process of the atomicity test: saves checkpoint after checkpoint to FILE (version i: every
 * param element and the count equal i), printing each version once it is saved, until it is killed.
 * Usage: checkpoint-writer.ts FILE FIRST_VERSION
 */
import { adamax } from '../../src/index.js';
import { saveCheckpointSync } from '../../src/node/index.js';

const [file, first] = process.argv.slice(2);
const tx = adamax(0.01);
for (let i = Number(first); ; i++) {
  const params = { w: new Float32Array(1 << 18).fill(i), b: new Float64Array(1000).fill(i) };
  const [s0, s1] = tx.init(params);
  saveCheckpointSync(file, { params, state: [{ ...s0, count: i }, s1] });
  process.stdout.write(`${i}\n`);
}

/**
 * The cost of the workers' undo journal (`workerJournal`, src/engine/undo-journal.ts) on a healthy
 * step: plain adamax float32, wasm, n parameters (default 1e6 and 1e7): one stepper on 1 thread, one
 * on 2 threads without the journal, and one on 2 threads with it per block size, stepped in turn
 * (interleaved rounds, so that machine noise hits all alike). Each figure is the median over the
 * rounds of the wall-clock time per step in ms (the step's time is the slower thread's, which CPU
 * time would not show); the ratios are to 2 threads without the journal.
 *
 *   npx tsx bench/worker-journal.ts [n,n,...] [rounds] [block,block,...]
 */
import { compile } from '../src/engine/compile.js';
import type { Stepper } from '../src/engine/stepper.js';
import { adamax } from '../src/alias/adamax.js';
import { DEFAULT_JOURNAL_BLOCK, setJournalBlock } from '../src/engine/undo-journal.js';

const sizes = (process.argv[2] ?? '1e6,1e7').split(',').map(Number);
const rounds = Number(process.argv[3] ?? 31);
const blocks = (process.argv[4] ?? String(DEFAULT_JOURNAL_BLOCK)).split(',').map(Number);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function timeSteps(stepper: Stepper<{ w: Float32Array }>, steps: number): number {
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) stepper.step();
  return (performance.now() - t0) / steps;
}

for (const n of sizes) {
  const steps = Math.max(1, Math.round(2e7 / n));
  const make = (threads: number, block?: number): Stepper<{ w: Float32Array }> => {
    if (block) setJournalBlock(block);
    const w = new Float32Array(n);
    for (let i = 0; i < n; i++) w[i] = Math.sin(i) * 0.1;
    const s = compile(adamax(1e-3), { w }, { backend: 'wasm', threads, workerJournal: block !== undefined });
    if (s.threads !== threads) throw new Error(`ran ${s.threads} threads`);
    for (let i = 0; i < n; i++) s.grads.w[i] = Math.cos(i * 0.7) * 1e-2;
    return s;
  };
  const steppers = [make(1), make(2), ...blocks.map((b) => make(2, b))];
  setJournalBlock(DEFAULT_JOURNAL_BLOCK);
  const times: number[][] = steppers.map(() => []);
  for (const s of steppers) timeSteps(s, steps); // warm-up
  for (let r = 0; r < rounds; r++) steppers.forEach((s, k) => times[k].push(timeSteps(s, steps)));
  const [one, none, ...journaled] = times.map(median);
  const rows = blocks.map((b, k) => `journal, blocks of ${b}: ${journaled[k].toFixed(3)} ms (${(journaled[k] / none).toFixed(3)}x)`);
  console.log(`adamax float32 n=${n.toExponential(0)} wasm, ${rounds} rounds of ${steps} steps: 1 thread ${one.toFixed(3)} ms/step (${(one / none).toFixed(3)}x); 2 threads ${none.toFixed(3)} ms; ${rows.join('; ')}`);
  steppers.forEach((s) => s.dispose());
}

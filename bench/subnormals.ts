/**
 * The cost of XLA's subnormal mode (`compile(..., { subnormals: 'flush' })`) against IEEE mode: one
 * adamax step over n parameters (default 1e6), float32 and float64, wasm and js backends, one thread.
 * The two steppers of a pair step alternately (interleaved rounds, so that machine noise hits both
 * alike); each figure is the median over the rounds of the CPU time (this process's, user + system) per
 * step in ms: the machine may be shared, and wall-clock time would count the time other processes held
 * the core. The ratio is flush / IEEE.
 *
 *   npx tsx bench/subnormals.ts [n] [rounds]
 */
import { compile } from '../src/engine/compile.js';
import type { Stepper } from '../src/engine/stepper.js';
import { adamax } from '../src/alias/adamax.js';

const n = Number(process.argv[2] ?? 1e6);
const rounds = Number(process.argv[3] ?? 15);
const STEPS_PER_ROUND = 10;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function timeSteps(stepper: Stepper<{ w: Float32Array | Float64Array }>): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < STEPS_PER_ROUND; i++) stepper.step();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000 / STEPS_PER_ROUND;
}

for (const dtype of ['float32', 'float64'] as const) {
  for (const backend of ['wasm', 'js'] as const) {
    const make = (subnormals: 'ieee' | 'flush') => {
      const w = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) w[i] = Math.sin(i) * 0.1;
      const s = compile(adamax(1e-3), { w }, { backend, threads: 1, subnormals });
      for (let i = 0; i < n; i++) s.grads.w[i] = Math.cos(i * 0.7) * 1e-2;
      return s;
    };
    const ieee = make('ieee'), flush = make('flush');
    timeSteps(ieee); timeSteps(flush); // warm-up
    const a: number[] = [], b: number[] = [];
    for (let r = 0; r < rounds; r++) {
      a.push(timeSteps(ieee));
      b.push(timeSteps(flush));
    }
    const mi = median(a), mf = median(b);
    console.log(`adamax ${dtype} n=${n} ${backend}, 1 thread: ieee ${mi.toFixed(3)} ms/step, flush ${mf.toFixed(3)} ms/step (CPU time), ratio ${(mf / mi).toFixed(2)}`);
    ieee.dispose(); flush.dispose();
  }
}

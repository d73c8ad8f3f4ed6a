import { type BenchConfig, type Layout, paramCount } from './config.js';
import { startCServer } from './impls/c-kernel.js';
import { compileStepper, fillGrads } from './impls/fused.js';
import { makeProblem } from './problem.js';

/** The fused WASM stepper against the C kernel on one tree at one thread count, sample by sample. */
export interface VersusCResult {
  readonly layout: string;
  readonly threads: number;
  /** Median ns/param of the fused samples, and of the C samples. */
  readonly fusedNs: number;
  readonly cNs: number;
  /** Median, lowest and highest of the per-round ratios fused / C (wall time). */
  readonly ratio: number;
  readonly low: number;
  readonly high: number;
  readonly rounds: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * The targets that compare the fused WASM path with C, measured in alternation: the C kernel runs as
 * a server in its own process (bench/c/adamax.c `serve`), the fused stepper in this one, and each
 * round times a batch of the same number of steps on each, one right after the other (about
 * `sampleSeconds` each). A round's ratio saw the same load on both, so the median of the rounds'
 * ratios is what a target reads: on a shared machine a load change within a row's few seconds is as
 * large as the gaps sought, and the cells of the main table, each the best of its own batches, may
 * come from different moments. The stepper is warmed up first (its kernels in V8's optimized tier,
 * the memory touched), as is the C kernel.
 */
export async function measureVersusC(config: BenchConfig, cases: readonly { layout: Layout; threads: number }[], log: (s: string) => void): Promise<(VersusCResult | { layout: string; threads: number; na: string })[]> {
  const rounds = config.quick ? 3 : 15;
  const sampleSeconds = config.quick ? 0.005 : 0.03;
  const warmSeconds = config.quick ? 0.02 : 0.3;
  const out: (VersusCResult | { layout: string; threads: number; na: string })[] = [];
  for (const { layout, threads } of cases) {
    const problem = makeProblem(layout);
    const stepper = await compileStepper(problem, { backend: 'wasm', threads });
    try {
      if (stepper.threads !== undefined && stepper.threads !== threads) {
        out.push({ layout: layout.label, threads, na: `the engine ran ${stepper.threads} thread(s)` });
        continue;
      }
      fillGrads(stepper, problem);
      const time = (k: number): number => {
        const t0 = performance.now();
        for (let i = 0; i < k; i++) stepper.step();
        return (performance.now() - t0) / 1e3;
      };
      let warmed = 0, steps = 0;
      while (warmed < warmSeconds || steps < 5) { warmed += time(1); steps++; }
      const k = Math.max(1, Math.round(sampleSeconds / Math.min(time(3) / 3, warmed / steps)));
      const server = await startCServer(layout, threads);
      if (typeof server === 'string') {
        out.push({ layout: layout.label, threads, na: server });
        continue;
      }
      try {
        const n = paramCount(layout);
        const fused: number[] = [], c: number[] = [], ratios: number[] = [];
        for (let r = 0; r < rounds; r++) {
          const cs = (await server.run(k)).wall;
          const fs = time(k);
          c.push((cs * 1e9) / (k * n));
          fused.push((fs * 1e9) / (k * n));
          ratios.push(fs / cs);
        }
        const result = { layout: layout.label, threads, fusedNs: median(fused), cNs: median(c), ratio: median(ratios), low: Math.min(...ratios), high: Math.max(...ratios), rounds };
        out.push(result);
        log(`vs C       ${layout.label.padEnd(10)} ${threads}t  fused wasm / C ${result.ratio.toFixed(2)}x (rounds ${result.low.toFixed(2)}..${result.high.toFixed(2)}), medians ${result.fusedNs.toFixed(3)} / ${result.cNs.toFixed(3)} ns/param`);
      } finally {
        server.close();
      }
    } catch (e) {
      out.push({ layout: layout.label, threads, na: `failed: ${(e as Error).message.split('\n')[0]}` });
    } finally {
      stepper.dispose();
    }
  }
  return out;
}

/**
 * Writes test/core/llvm-windows.json: window sums (and, where the final reduce is not vectorized, leaf
 * sums) of XLA:CPU's reduce-window kernels as compiled by two system LLVMs, so that CI checks optax-ts's
 * order (src/core/xla-reduce-sum.ts) against LLVM's without LLVM (test/core/llvm-windows.test.ts).
 * Not part of the package: a developer's measurement harness, beside windows.ts (whose kernels,
 * pipeline and `lli` runner it uses; docs/numerics.md §3, "Windows, inside").
 *
 * For each shape and data set (test/core/order-sensitive-values.ts: order-sensitive and hostile values,
 * regenerated from the seed by the test), each LLVM compiles and runs the first-level window kernel and
 * the final reduce's kernel (sweep.ts) on the window sums. The script fails when the two LLVMs give
 * different window bits; it records the window sums, the vectorization the remarks report, and the leaf
 * sum only when neither LLVM vectorizes the final reduce (the open "Vectorized rows" question).
 * It records LLVM's bits whatever optax-ts computes: the test, not the script, compares.
 *
 * Usage: npx tsx scripts/llvm-reduce-order/fixture.ts [--opt opt-22,opt-19] [--cpu sapphirerapids]
 *   [--out test/core/llvm-windows.json]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reduceKernelIr, o3WithoutSlp } from './sweep.js';
import { type Dtype, type Toolchain, optimize, reduceWindowKernelIr, runKernelMany } from './windows.js';
import { xlaReduceWindows } from '../../src/core/xla-reduce-sum.js';
import { type LlvmWindowCase as Case, floatBits as bits, hostileValues, orderSensitiveValues } from '../../test/core/order-sensitive-values.js';

const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Shapes with one window level whose last dimension is 33..300 (some not padded), vectors and rank 2 and 3. */
function shapes(): number[][] {
  // Every length to 80 (every offset of the padding), then every fifth (two LLVMs take ~2 s a shape).
  const vectors = Array.from({ length: 268 }, (_, i) => [33 + i]).filter(([n]) => n <= 80 || n % 5 === 0 || n === 299);
  const cols = [33, 34, 37, 40, 47, 50, 63, 65, 70, 96, 100, 127, 129, 150, 200, 255, 257, 299, 300];
  const matrices = [3, 33].flatMap((r) => cols.map((c) => [r, c]));
  const more = [[128, 784], [784, 128], [10, 1000], [3, 1000], [40, 40, 40], [3, 40, 50], [2, 33, 70], [64, 100], [100, 64], [33, 7], [64, 10]];
  return [...vectors, ...matrices, ...more];
}

function main(argv: string[]): void {
  const option = (name: string, fallback: string): string => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : fallback;
  };
  const opts = option('--opt', 'opt-22,opt-19').split(',');
  const cpu = option('--cpu', 'sapphirerapids'), mattr = '+prefer-no-gather,+prefer-no-scatter';
  const out = option('--out', 'test/core/llvm-windows.json');
  const dir = mkdtempSync(join(tmpdir(), 'fixture-'));
  const toolchains: Toolchain[] = opts.map((opt) => ({ opt, lli: opt.replace('opt', 'lli'), cpu, mattr, pipeline: o3WithoutSlp(opt), dir }));
  const cases: Case[] = [];
  const llvmVersions = toolchains.map((tc) => tc.opt);
  try {
    for (const dtype of ['f32', 'f64'] as const) {
      for (const shape of shapes()) {
        const { levels, last } = xlaReduceWindows(shape);
        if (levels.length !== 1) throw new Error(`[${shape}]: ${levels.length} levels`);
        const n = product(shape);
        const sets = [
          { data: 'order' as const, seed: n, x: orderSensitiveValues(dtype, n, n) },
          { data: 'hostile' as const, seed: n + 1, x: hostileValues(dtype, n, n + 1) },
        ];
        const perLlvm = toolchains.map((tc) => {
          const kernel = optimize(tc, reduceWindowKernelIr(dtype, levels[0]));
          const vf = [...kernel.remarks.matchAll(/vectorization width: (\d+), interleaved count: (\d+)/g)].map((m) => `${m[1]}x${m[2]}`).join('+') || '.';
          const sums = runKernelMany(tc, dtype, kernel.ir, sets.map((s) => [s.x, [0], new Array(product(levels[0].out)).fill(0)]), 2);
          const final = optimize(tc, reduceKernelIr(dtype, last.length > 0 ? last : [1], { constInit: false, nswIv: false }));
          const finalVf = Number(/vectorization width: (\d+)/.exec(final.remarks)?.[1] ?? 0);
          const leaf = runKernelMany(tc, dtype, final.ir, sums.map((s) => [s, [0], [0]]), 1).map(([v]) => v);
          return { vf, finalVf, sums, leaf };
        });
        sets.forEach((set, k) => {
          const windows = perLlvm[0].sums[k].map((v) => bits(dtype, v));
          perLlvm.forEach((m, i) => {
            const other = m.sums[k].map((v) => bits(dtype, v));
            if (other.join() !== windows.join()) throw new Error(`${dtype} [${shape}] ${set.data}: ${llvmVersions[i]} and ${llvmVersions[0]} give different window sums`);
          });
          const finalVf = perLlvm.map((m) => m.finalVf);
          const leafBits = perLlvm.map((m) => bits(dtype, m.leaf[k]));
          const sum = finalVf.every((v) => v === 0) && leafBits.every((b) => b === leafBits[0]) ? leafBits[0] : undefined;
          cases.push({ dtype, shape, data: set.data, seed: set.seed, vf: perLlvm.map((m) => m.vf), finalVf, windows, ...(sum === undefined ? {} : { sum }) });
        });
        process.stderr.write(`${dtype} [${shape}] vf ${perLlvm.map((m) => m.vf).join(' ')} final ${perLlvm.map((m) => m.finalVf).join(' ')}\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const versions = toolchains.map((tc) => tc.opt);
  writeFileSync(out, `${JSON.stringify({
    about: 'Window sums of XLA:CPU reduce-window kernels compiled by LLVM; written by scripts/llvm-reduce-order/fixture.ts',
    llvm: versions, cpu, mattr, cases,
  }, null, 0).replace(/\{"dtype"/g, '\n{"dtype"')}\n`);
  process.stderr.write(`${cases.length} cases written to ${out}\n`);
}

main(process.argv.slice(2));

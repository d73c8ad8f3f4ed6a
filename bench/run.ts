/**
 * `npm run bench`: one adamax step, side by side, in ns per parameter: this library's reference path,
 * the fused engine (plain JS, WASM at 1 and all threads), an optax-style unfused JS port,
 * TensorFlow.js (cpu, wasm), jax-js under jit, and a C kernel (the physical-limit proxy). Prints the
 * table, the ratios and the issue-4 targets as PASS/FAIL lines, and writes BENCHMARKS.md.
 *
 *   tsx bench/run.ts            full run (a few minutes), writes BENCHMARKS.md
 *   tsx bench/run.ts --quick    small sizes, seconds; writes nothing (the smoke test runs this)
 *   options: --no-write, --only=id1,id2 (column ids starting so), --md=FILE (also write the
 *   Markdown report there), --strict (exit 1 on a FAIL)
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Layout, paramCount, parseConfig } from './config.js';
import { type CheckResult, checkBitExactInChild } from './check.js';
import { type HeapResult, forcedGc, measureHeapInChild } from './heap.js';
import { cKernel } from './impls/c-kernel.js';
import { type LayoutCostResult, measureLayoutCost } from './layout-cost.js';
import { measureVersusC } from './interleaved-c.js';
import { measureGuarded } from './guarded.js';
import { HEAP_COMBINATORS, measureCombinators } from './combinators.js';
import { measureCompileTime } from './compile-time.js';
import { measureTfjsAdapter } from './tfjs-adapter.js';
import { measureJaxJsAdapter } from './jaxjs-adapter.js';
import { fused } from './impls/fused.js';
import { jaxJs } from './impls/jaxjs.js';
import { optaxUnfused } from './impls/optax-unfused.js';
import { reference } from './impls/reference.js';
import { tfjsCpu, tfjsWasm } from './impls/tfjs.js';
import type { CellResult, Implementation } from './impls/types.js';
import { describeMachine, startLoadMeter } from './machine.js';
import { type Problem, makeProblem } from './problem.js';
import { consoleReport, markdownReport } from './report.js';
import { type BenchResults, UNSUPPORTED, formatNs } from './results.js';
import { evaluateTargets } from './targets.js';
import { timeRunner } from './timing.js';

const started = performance.now();
const stopLoadMeter = startLoadMeter();
const config = parseConfig(process.argv.slice(2));
const N = config.allThreads;
const log = (s: string): void => { process.stderr.write(`${s}\n`); };

const all: Implementation[] = [
  reference,
  optaxUnfused,
  tfjsCpu,
  tfjsWasm,
  jaxJs,
  fused('js', 1),
  fused('wasm', 1),
  ...(N > 1 ? [fused('wasm', N)] : []),
  cKernel(1),
  ...(N > 1 ? [cKernel(N)] : []),
];
const implementations = config.only.length === 0 ? all : all.filter((impl) => config.only.some((o) => impl.id.startsWith(o)));
const rows: Layout[] = [...config.layouts, config.float64Layout];

const gc = forcedGc();

async function measureCell(impl: Implementation, problem: Problem): Promise<CellResult> {
  // Start each cell with a clean heap: the garbage of the previous column (the reference path and the
  // unfused port make a lot) must not be collected on this one's clock.
  gc();
  if (impl.measure) return impl.measure(problem, config.budget);
  const runner = await impl.setup!(problem);
  try {
    return await timeRunner(runner, paramCount(problem.layout), config.budget);
  } finally {
    await runner.dispose();
  }
}

const unavailable = new Map<string, string | null>();
for (const impl of implementations) {
  const reason = await impl.prepare();
  unavailable.set(impl.id, reason);
  if (reason) log(`${impl.label}: n/a (${reason})`);
}

// Each fused backend first proves it computes the reference's numbers (in a child process with a time
// limit: a backend that hangs or crashes there is left out rather than stalling the run).
const fusedBackends: { backend: 'js' | 'wasm'; threads: number }[] = [{ backend: 'js', threads: 1 }, { backend: 'wasm', threads: 1 }, ...(N > 1 ? [{ backend: 'wasm' as const, threads: N }] : [])];
const checks: CheckResult[] = [];
for (const { backend, threads } of fusedBackends) {
  const id = `fused-${backend}-${threads}`;
  if (unavailable.get(id) !== null) continue;
  const { results, hung } = await checkBitExactInChild(backend, threads, config.quick ? 30_000 : 120_000);
  checks.push(...results);
  if (hung) {
    unavailable.set(id, hung);
    log(`fused ${backend} ${threads}t: n/a (${hung})`);
  }
}

// Row by row: the columns of a row (the fused engine and the C kernel above all) are measured within
// seconds of each other, so a load change on a shared machine skews their ratio less; and only one
// row's arrays are alive at a time. A full run goes over each row twice and keeps each cell's best
// round (cells whose step takes longer than `budget.repeatBelowSeconds` are measured once).
const cells: Record<string, Record<string, CellResult>> = Object.fromEntries(rows.map((r) => [r.label, {}]));
for (const layout of rows) {
  const problem = makeProblem(layout);
  const row = cells[layout.label];
  for (let round = 0; round < config.budget.rounds; round++) {
    for (const impl of implementations) {
      const reason = unavailable.get(impl.id);
      const previous = row[impl.id];
      if (round > 0 && !(previous && 'ns' in previous && (previous.ns * paramCount(layout)) / 1e9 < config.budget.repeatBelowSeconds)) continue;
      let cell: CellResult;
      if (!impl.dtypes.includes(layout.dtype)) cell = UNSUPPORTED;
      else if (reason) cell = { na: reason };
      else {
        try {
          cell = await measureCell(impl, problem);
        } catch (e) {
          cell = { na: `failed: ${(e as Error).message.split('\n')[0]}` };
        }
        log(`${layout.label.padEnd(10)} ${impl.label.padEnd(24)} ${'ns' in cell ? `${formatNs(cell.ns)} ns/param (${cell.steps} timed steps)` : cell.na}${round > 0 ? ` (round ${round + 1})` : ''}`);
      }
      row[impl.id] = previous && 'ns' in previous && !('ns' in cell && cell.ns < previous.ns) ? previous : cell;
    }
  }
}
const notes: string[] = [
  'reference: `adamax(1e-3)` pure `update` + `applyUpdates`, a new tree per step (the optax-exact interpreter path).',
  'optax-style unfused JS (bench/impls/optax-unfused.ts): each optax tree helper as its own tree map allocating fresh arrays (6 passes, 5 new trees per step), float32 rounding after every op.',
  `fused: \`compile(adamax(1e-3), params, { backend, threads })\` from src/engine, gradients written once into \`stepper.grads\`, timed \`stepper.step()\`.`,
  "fused WASM: compile() asks V8 for each kernel's optimized (TurboFan) code by calls over zero elements (src/engine/wasm/tier-up.ts); without it a cell timed soon after compiling, on a busy machine, could run the baseline (Liftoff) code, 2-10x slower (seen as steppers measuring slow at random unless --no-wasm-dynamic-tiering).",
  'Inputs are normal numbers throughout (|g| >= 9.4e-8): no subnormal slows any column.',
];
for (const impl of implementations) {
  notes.push(...(impl.notes?.() ?? []));
  await impl.close?.();
}

// The leaf layout's cost, each fused backend's three trees stepped in turn (layout-cost.ts).
const layoutCost: (LayoutCostResult | { label: string; na: string })[] = [];
for (const { backend, threads } of fusedBackends) {
  const id = `fused-${backend}-${threads}`;
  const label = `fused ${backend} ${threads}t`;
  if (!implementations.some((i) => i.id === id)) continue;
  const reason = unavailable.get(id);
  if (reason) {
    layoutCost.push({ label, na: reason });
    continue;
  }
  gc();
  try {
    const r = await measureLayoutCost(config, backend, threads);
    layoutCost.push(r);
    log(`layout     ${label.padEnd(24)} ${r.layouts.map((l, k) => `${l}: ${formatNs(r.ns[k])}`).join(', ')} ns/param`);
  } catch (e) {
    layoutCost.push({ label, na: `failed: ${(e as Error).message.split('\n')[0]}` });
  }
}

// The fused WASM path against C, sample by sample (interleaved-c.ts): what the targets comparing them read.
const ran = (id: string): boolean => implementations.some((i) => i.id === id) && unavailable.get(id) === null;
const versusCases = [...new Set([config.mediumLabel, config.largeLabel])].flatMap((label) => {
  const layout = config.layouts.find((l) => l.label === label)!;
  return [...new Set([1, N])].filter((t) => ran(`fused-wasm-${t}`) && ran(`c-${t}`)).map((threads) => ({ layout, threads }));
});
let versusC: BenchResults['versusC'];
if (versusCases.length > 0) {
  gc();
  versusC = await measureVersusC(config, versusCases, log);
}

// applyIfFinite(adamax): its finiteness pass and traced numerics, next to plain adamax (guarded.ts).
let guarded: BenchResults['guarded'];
const guardedBackends = fusedBackends.filter(({ backend, threads }) => implementations.some((i) => i.id === `fused-${backend}-${threads}`) && unavailable.get(`fused-${backend}-${threads}`) === null);
if (guardedBackends.length > 0) {
  gc();
  try {
    guarded = await measureGuarded(config, guardedBackends);
    for (const g of guarded.fused) log(`guarded    ${g.label.padEnd(24)} adamax ${formatNs(g.plain)}, applyIfFinite(adamax) ${formatNs(g.guarded)} ns/param`);
    log(`guarded    reference                applyIfFinite(adamax) ${formatNs(guarded.reference)} ns/param`);
  } catch (e) {
    guarded = { na: `failed: ${(e as Error).message.split('\n')[0]}` };
  }
}

// The combinators real training loops use, each next to plain adamax (combinators.ts).
let combinators: BenchResults['combinators'];
if (guardedBackends.length > 0) {
  gc();
  try {
    combinators = await measureCombinators(config, guardedBackends, log);
  } catch (e) {
    combinators = { na: `failed: ${(e as Error).message.split('\n')[0]}` };
  }
}

// compile() time with a global norm next to adamax's on a large tree (compile-time.ts).
let compileTime: BenchResults['compileTime'];
if (unavailable.get(`fused-wasm-${N}`) === null) {
  gc();
  try {
    compileTime = await measureCompileTime(config, N);
    log(`compile    ${compileTime.layout} ${compileTime.backend}: adamax ${compileTime.plainMs.toFixed(0)} ms, clipByGlobalNorm + adamax ${compileTime.clipMs.toFixed(0)} ms`);
  } catch (e) {
    compileTime = { na: `failed: ${(e as Error).message.split('\n')[0]}` };
  }
}

// optax-ts/tfjs against tfjs's own Adamax on the same models (tfjs-adapter.ts).
let tfjsAdapter: BenchResults['tfjsAdapter'];
if (config.only.length === 0 || config.only.some((o) => 'tfjs'.startsWith(o) || o.startsWith('tfjs'))) {
  gc();
  try {
    tfjsAdapter = await measureTfjsAdapter(config.quick);
    for (const r of tfjsAdapter) log(`tfjs       ${r.backend.padEnd(5)} ${r.model.padEnd(28)} adamax step ${r.optimizerMs[0].toFixed(3)} ms, optax-ts/tfjs ${r.optimizerMs[1].toFixed(3)} ms (${(r.optimizerMs[0] / r.optimizerMs[1]).toFixed(1)}x)`);
  } catch (e) {
    tfjsAdapter = { na: `failed: ${(e as Error).message.split('\n')[0]}` };
  }
}

// optax-ts/jax-js against hand-written jitted adamax steps on the same models (jaxjs-adapter.ts).
let jaxjsAdapter: BenchResults['jaxjsAdapter'];
if (config.only.length === 0 || config.only.some((o) => 'jaxjs'.startsWith(o) || o.startsWith('jaxjs'))) {
  gc();
  try {
    jaxjsAdapter = await measureJaxJsAdapter(config.quick);
    for (const r of jaxjsAdapter) log(`jax-js     wasm  ${r.model.padEnd(28)} hand-written jitted adamax ${r.handMs.toFixed(3)} ms (bias in JS ${r.handHostBiasMs.toFixed(3)} ms), optax-ts/jax-js jitted ${r.adapterMs.toFixed(3)} ms (${(r.handMs / r.adapterMs).toFixed(2)}x, ${(r.handHostBiasMs / r.adapterMs).toFixed(2)}x)`);
  } catch (e) {
    jaxjsAdapter = { na: `failed: ${(e as Error).message.split('\n')[0]}` };
  }
}

const heap: (HeapResult | { label: string; na: string })[] = [];
if (implementations.some((i) => i.id.startsWith('fused'))) {
  const medium = config.layouts.find((l) => l.label === config.mediumLabel)!;
  const many = config.layouts.find((l) => l.label === config.manyLeavesLabel)!;
  for (const [layout, backend, threads] of [[medium, 'wasm', N], [many, 'wasm', N], [config.heapJsLayout, 'js', 1]] as const) {
    const reason = unavailable.get(`fused-${backend}-${threads}`);
    if (reason !== null) {
      heap.push({ label: `${layout.label} ${backend}`, na: reason ?? 'column not run' });
      continue;
    }
    try {
      heap.push(await measureHeapInChild(layout, backend, threads, config.heapSteps, config.quick ? 60_000 : 300_000));
    } catch (e) {
      heap.push({ label: `${layout.label} ${backend}`, na: `failed: ${(e as Error).message.split('\n')[0]}` });
    }
  }
  // Each combinator (heap section's list) on the medium tree with WASM (all threads, then one), and on
  // the smaller many-leaf tree with plain JS: what its step allocates. A quick run (a smoke test: its
  // 50-step windows end before V8 has optimized the step, so its bytes say little) takes one backend.
  const allHeapBackends = [[medium, 'wasm', N], ...(N > 1 ? [[medium, 'wasm', 1] as const] : []), [config.heapJsLayout, 'js', 1]] as const;
  const heapBackends = config.quick ? allHeapBackends.slice(0, 1) : allHeapBackends;
  for (const [layout, backend, threads] of heapBackends) {
    if (unavailable.get(`fused-${backend}-${threads}`) !== null) continue;
    for (const c of config.quick ? HEAP_COMBINATORS.filter((x) => !x.fullRunOnly) : HEAP_COMBINATORS) {
      try {
        heap.push(await measureHeapInChild(layout, backend, threads, config.heapSteps, config.quick ? 60_000 : 300_000, c.id));
      } catch (e) {
        heap.push({ label: `${layout.label} ${c.label}`, na: `failed: ${(e as Error).message.split('\n')[0]}` });
      }
    }
  }
}

const results: BenchResults = {
  config,
  machine: describeMachine(),
  columns: implementations.map(({ id, label }) => ({ id, label })),
  rows: rows.map((r) => r.label),
  cells,
  heap,
  layoutCost,
  versusC,
  guarded,
  combinators,
  compileTime,
  tfjsAdapter,
  jaxjsAdapter,
  checks,
  notes: [...new Set(notes)],
  seconds: (performance.now() - started) / 1e3,
  foreignLoad: stopLoadMeter(),
};

process.stdout.write(`${consoleReport(results)}\n`);
if (config.write) {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../BENCHMARKS.md');
  writeFileSync(file, markdownReport(results));
  log(`wrote ${path.relative(process.cwd(), file)}`);
}
if (config.markdownFile) writeFileSync(config.markdownFile, markdownReport(results));
const failed = evaluateTargets(results).some((l) => l.status === 'FAIL');
// Worker threads of tfjs/jax-js/the engine must not keep the process alive (stdout is synchronous on
// Linux pipes and files, so nothing is lost).
process.exit(failed && process.argv.includes('--strict') ? 1 : 0);

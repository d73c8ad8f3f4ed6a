import { type BenchResults, bestOf, formatRatio, nsOf } from './results.js';
import { COMBINATORS } from './combinators.js';

/** One target line: PASS / FAIL with the measured ratio, SKIP when a number is missing, INFO for facts. */
export interface TargetLine {
  readonly status: 'PASS' | 'FAIL' | 'SKIP' | 'INFO';
  readonly text: string;
}

/** Ids of the fused engine's columns (plain JS, WASM 1 thread, WASM all threads). */
export function fusedColumns(allThreads: number): string[] {
  return ['fused-js-1', 'fused-wasm-1', `fused-wasm-${allThreads}`];
}

/** Heap growth up to this many bytes per step (after a forced GC) counts as ~0. */
export const HEAP_TOLERANCE_BYTES_PER_STEP = 32;

/**
 * The targets of issue 4, read from the measured table:
 * - 1e7: fused WASM within 1.25x of the C kernel at the same thread count (1 and all threads);
 * - 1e6: fused WASM 1 thread within 2x of C 1 thread;
 * - 1e6 and 1e7: the fastest fused column >= 20x faster than TensorFlow.js's faster backend, and
 *   >= 5x faster than jax-js jit;
 * - 2000×500: per-param time within 1.25x of one 1e6 leaf (each fused backend), from the
 *   interleaved measurement (layout-cost.ts); and, to separate the layout's cost from optax's numerics
 *   (one division per element on a one-leaf tree, two on others), within 1.25x of two leaves;
 * - heap growth of the fused stepper ~0 (bytes/step over windows of 1000 steps, see heap.ts);
 * plus the float64 row and the bit-exactness checks.
 */
export function evaluateTargets(results: BenchResults): TargetLine[] {
  const { largeLabel: large, mediumLabel: medium, allThreads, float64Layout } = results.config;
  const lines: TargetLine[] = [];
  const fusedIds = fusedColumns(allThreads);
  const ratioLine = (name: string, num: number | undefined, den: number | undefined, limit: number, atMost: boolean, what: string): void => {
    if (num === undefined || den === undefined) {
      lines.push({ status: 'SKIP', text: `${name}: not measured (${what})` });
      return;
    }
    const r = num / den;
    const ok = atMost ? r <= limit : r >= limit;
    lines.push({ status: ok ? 'PASS' : 'FAIL', text: `${name}: ${formatRatio(r)} (${atMost ? '<=' : '>='} ${limit}x; ${what})` });
  };
  // Fused WASM against C: the alternated measurement's median ratio where there is one (interleaved-c.ts),
  // else the table's cells.
  const versusC = (row: string, t: number, name: string, limit: number): void => {
    const v = results.versusC?.find((r) => r.layout === row && r.threads === t);
    const cells = [nsOf(results, row, `fused-wasm-${t}`), nsOf(results, row, `c-${t}`)] as const;
    const table = cells[0] !== undefined && cells[1] !== undefined ? formatRatio(cells[0] / cells[1]) : 'n/a';
    if (!v || 'na' in v) {
      ratioLine(name, cells[0], cells[1], limit, true, `fused ns / C ns, table cells${v ? `; alternated: ${v.na}` : ''}`);
      return;
    }
    const ok = v.ratio <= limit;
    lines.push({ status: ok ? 'PASS' : 'FAIL', text: `${name}: ${formatRatio(v.ratio)} (<= ${limit}x; median of ${v.rounds} rounds alternating C and fused batches, rounds ${formatRatio(v.low)}..${formatRatio(v.high)}; table cells ${table})` });
  };
  const threadCounts = allThreads === 1 ? [1] : [1, allThreads];
  for (const t of threadCounts) versusC(large, t, `${large}: fused wasm ${t}t vs C ${t}t`, 1.25);
  versusC(medium, 1, `${medium}: fused wasm 1t vs C 1t`, 2);
  for (const row of [...new Set([medium, large])]) {
    const fused = bestOf(results, row, fusedIds);
    const tf = bestOf(results, row, ['tfjs-cpu', 'tfjs-wasm']);
    ratioLine(`${row}: fastest fused vs TensorFlow.js's faster backend`, tf?.ns, fused?.ns, 20, false, `${tf?.id ?? '?'} ns / ${fused?.id ?? '?'} ns`);
    ratioLine(`${row}: fastest fused vs jax-js jit`, nsOf(results, row, 'jaxjs'), fused?.ns, 5, false, `jax-js ns / ${fused?.id ?? '?'} ns`);
  }
  for (const r of results.layoutCost) {
    if ('na' in r) {
      lines.push({ status: 'SKIP', text: `leaf layout, ${r.label}: ${r.na}` });
      continue;
    }
    const [one, two, many] = r.layouts;
    const name = `fused ${r.backend} ${r.threads}t`;
    ratioLine(`${many} vs ${one} one leaf, ${name}`, r.ns[2], r.ns[0], 1.25, true, 'per-param time, interleaved; optax divides twice per element on many leaves, once on one');
    ratioLine(`${many} vs ${two} (same numerics), ${name}`, r.ns[2], r.ns[1], 1.25, true, 'per-param time, interleaved: the cost of the layout');
  }
  const combinators = results.combinators;
  if (combinators && 'na' in combinators) lines.push({ status: 'SKIP', text: `combinators: ${combinators.na}` });
  else if (combinators) {
    for (const r of combinators) {
      COMBINATORS.forEach((c, k) => {
        if (r.ns[k] === undefined) lines.push({ status: 'FAIL', text: `${c.label}, ${r.layout}, fused ${r.backend}: not fused (${r.reasons[k]})` });
        else ratioLine(`${c.label} vs adamax, ${r.layout}, fused ${r.backend}`, r.ns[k], r.plain, 1.5, true, `per-param time, interleaved${r.user?.[k] === undefined ? '' : `; the mask function alone takes ${(r.user[k]! / r.plain).toFixed(2)}x of an adamax step`}`);
      });
    }
  }
  const ct = results.compileTime;
  if (ct && 'na' in ct) lines.push({ status: 'SKIP', text: `compile time: ${ct.na}` });
  else if (ct && results.config.quick) lines.push({ status: 'SKIP', text: `compile time: a quick run's small tree is all fixed costs (${ct.clipMs.toFixed(0)} ms vs ${ct.plainMs.toFixed(0)} ms)` });
  else if (ct) ratioLine(`compile time of chain(clipByGlobalNorm(1), adamax) vs adamax, ${ct.layout}, fused ${ct.backend}`, ct.clipMs, ct.plainMs, 2.5, true, `best of alternated compiles: ${ct.clipMs.toFixed(0)} ms vs ${ct.plainMs.toFixed(0)} ms (the global norm's plan of XLA's summation windows)`);
  for (const h of results.heap) {
    if ('na' in h) {
      lines.push({ status: 'SKIP', text: `heap growth, ${h.label}: ${h.na}` });
      continue;
    }
    const ok = Math.abs(h.retainedPerStep) <= HEAP_TOLERANCE_BYTES_PER_STEP;
    lines.push({
      status: ok ? 'PASS' : 'FAIL',
      text: `heap growth of the fused stepper (${h.backend}), ${h.label}: ${h.retainedPerStep.toFixed(1)} bytes/step retained over ${h.steps} steps, median of the last 3 of ${h.windows} windows (|x| <= ${HEAP_TOLERANCE_BYTES_PER_STEP}; the 3 together: ${h.totalRetainedPerStep.toFixed(1)}); ${h.gcsDuring} GC(s) while stepping`,
    });
    // Issue 10: a fused step allocates nothing. Young-generation bytes over the windows, less what the
    // same windows around an empty loop allocate (the heap readings themselves, identical each time).
    const valid = h.gcsDuring === 0;
    lines.push({
      status: valid && h.allocatedPerStep <= 0 ? 'PASS' : 'FAIL',
      text: `allocation per fused step (${h.backend}), ${h.label}: allocated ${h.allocatedPerStep.toFixed(2)} bytes/step <= 0 bytes/step (young-generation bytes over the last 3 of ${h.windows} ${h.steps}-step windows, less the measuring code's own ${(h.measuringPerStep * h.steps).toFixed(0)} bytes per window${valid ? '' : `; invalid: ${h.gcsDuring} GC(s) ran while stepping`})`,
    });
  }
  const f64 = float64Layout.label;
  const ref64 = nsOf(results, f64, 'reference');
  for (const id of fusedIds.slice(1)) {
    const ns = nsOf(results, f64, id);
    if (ns !== undefined && ref64 !== undefined) lines.push({ status: 'INFO', text: `${f64}: ${id} ${formatRatio(ref64 / ns)} faster than the reference path (float64 through the same engine)` });
  }
  for (const c of results.checks) lines.push({ status: c.ok ? 'PASS' : 'FAIL', text: `${c.what}: ${c.detail}` });
  // Issue 12: optax-ts/tfjs faster than tfjs's own Adamax (applyGradients) on each backend and model.
  if (results.tfjsAdapter !== undefined && Array.isArray(results.tfjsAdapter)) {
    for (const r of results.tfjsAdapter) ratioLine(`tfjs ${r.backend}, ${r.model}: optax-ts/tfjs vs tf.train.adamax`, r.optimizerMs[0], r.optimizerMs[1], 1, false, 'tfjs ms / optax-ts ms per applyGradients');
  }
  // Issue 12: optax-ts/jax-js, jitted, at least as fast as adamax written by hand as @jax-js/optax writes adam.
  if (results.jaxjsAdapter !== undefined && !Array.isArray(results.jaxjsAdapter)) lines.push({ status: 'SKIP', text: `jax-js adapter: ${(results.jaxjsAdapter as { na: string }).na}` });
  else if (results.jaxjsAdapter !== undefined) {
    for (const r of results.jaxjsAdapter) {
      ratioLine(`jax-js wasm, ${r.model}: optax-ts/jax-js vs hand-written jitted adamax (stand-in for @jax-js/optax)`, r.handMs, r.adapterMs, 1, false, 'hand-written ms / optax-ts ms per jitted step');
      lines.push({ status: 'INFO', text: `jax-js wasm, ${r.model}: optax-ts/jax-js vs the hand-written step with its bias correction computed in JavaScript (no count on the device): ${formatRatio(r.handHostBiasMs / r.adapterMs)}` });
    }
  }
  return lines;
}

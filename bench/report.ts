import { COMBINATORS } from './combinators.js';
import { type BenchResults, bestOf, formatNs, formatRatio, nsOf } from './results.js';
import { type TargetLine, evaluateTargets, fusedColumns } from './targets.js';

type Grid = { header: string[]; body: string[][] };

/** Cell text: the number, "—" for a dtype the column does not take, or "n/a (why)". */
function cellText(results: BenchResults, row: string, column: string, footnotes: string[]): string {
  const cell = results.cells[row]?.[column];
  const mark = (text: string): string => {
    let k = footnotes.indexOf(text);
    if (k < 0) k = footnotes.push(text) - 1;
    return `[${k + 1}]`;
  };
  if (!cell) return '';
  if ('ns' in cell) return cell.note ? `${formatNs(cell.ns)} ${mark(`${column}: ${cell.note}`)}` : formatNs(cell.ns);
  if (cell.na === '—') return '—';
  if (cell.na.length <= 24) return `n/a (${cell.na})`;
  return `n/a ${mark(cell.na)}`;
}

/** The main table: ns/param per row and implementation. */
export function mainGrid(results: BenchResults, footnotes: string[]): Grid {
  return {
    header: ['params', ...results.columns.map((c) => c.label)],
    body: results.rows.map((row) => [row, ...results.columns.map((c) => cellText(results, row, c.id, footnotes))]),
  };
}

/** Ratios per row: how many times slower the others are than the fastest fused column, and fused vs C. */
export function ratioGrid(results: BenchResults): Grid {
  const n = results.config.allThreads;
  const fusedIds = fusedColumns(n);
  const ratio = (num: number | undefined, den: number | undefined): string => (num !== undefined && den !== undefined ? formatRatio(num / den) : '');
  const header = ['params', 'fastest fused', 'reference / fused', 'unfused / fused', 'tfjs best / fused', 'jax-js / fused', 'fused wasm 1t / C 1t'];
  if (n > 1) header.push(`fused wasm ${n}t / C ${n}t`);
  const body = results.rows.map((row) => {
    const fused = bestOf(results, row, fusedIds);
    const tf = bestOf(results, row, ['tfjs-cpu', 'tfjs-wasm']);
    const line = [
      row,
      fused ? `${fused.id} (${formatNs(fused.ns)})` : '',
      ratio(nsOf(results, row, 'reference'), fused?.ns),
      ratio(nsOf(results, row, 'unfused'), fused?.ns),
      ratio(tf?.ns, fused?.ns),
      ratio(nsOf(results, row, 'jaxjs'), fused?.ns),
      ratio(nsOf(results, row, 'fused-wasm-1'), nsOf(results, row, 'c-1')),
    ];
    if (n > 1) line.push(ratio(nsOf(results, row, `fused-wasm-${n}`), nsOf(results, row, `c-${n}`)));
    return line;
  });
  return { header, body };
}

/** optax-ts/tfjs against tf.train.adamax: ms per step, and how many times faster the adapter is. */
export function tfjsAdapterGrid(results: BenchResults): Grid | undefined {
  const rows = results.tfjsAdapter;
  if (rows === undefined || !Array.isArray(rows)) return undefined;
  const ms = (x: number): string => (x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(2) : x.toFixed(0));
  return {
    header: ['backend', 'model', 'params', 'tfjs adamax step ms', 'optax-ts/tfjs step ms', 'tfjs / optax-ts', 'its tfjs-ops path ms', 'tfjs train step ms', 'optax-ts train step ms', 'tfjs / optax-ts'],
    body: rows.map((r) => [r.backend, r.model, String(r.params), ms(r.optimizerMs[0]), ms(r.optimizerMs[1]), formatRatio(r.optimizerMs[0] / r.optimizerMs[1]), ms(r.optimizerMs[2]), ms(r.trainMs[0]), ms(r.trainMs[1]), formatRatio(r.trainMs[0] / r.trainMs[1])]),
  };
}

/** optax-ts/jax-js against the hand-written jitted adamax steps: ms per step, and the ratios. */
export function jaxjsAdapterGrid(results: BenchResults): Grid | undefined {
  const rows = results.jaxjsAdapter;
  if (rows === undefined || !Array.isArray(rows)) return undefined;
  const ms = (x: number): string => (x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(2) : x.toFixed(0));
  return {
    header: ['model', 'params', 'hand-written step ms', 'optax-ts/jax-js step ms', 'hand-written / optax-ts', 'bias in JS step ms', 'bias in JS / optax-ts'],
    body: rows.map((r) => [r.model, String(r.params), ms(r.handMs), ms(r.adapterMs), formatRatio(r.handMs / r.adapterMs), ms(r.handHostBiasMs), formatRatio(r.handHostBiasMs / r.adapterMs)]),
  };
}

const JAXJS_ADAPTER_TITLE = 'jax-js: optax-ts/jax-js (toJaxJs(adamax) in jax.jit, with applyUpdates) against hand-written jitted adamax steps on the same models, wasm device, float32: "hand-written" = adamax written as @jax-js/optax writes adam (count and bias correction in the graph; @jax-js/optax is not on npm), "bias in JS" = the same update with the bias correction computed in JavaScript and passed in; alternating batches, best kept';

const TFJS_ADAPTER_TITLE = 'TensorFlow.js: optax-ts/tfjs (toTfjs(adamax)) against tf.train.adamax on the same models; "step" = applyGradients with fixed gradients, "train step" = model.trainOnBatch (forward, backward, optimizer); alternating batches, best kept';

/** The interleaved leaf-layout measurement: ns/param of each tree, and the ratios. */
export function layoutGrid(results: BenchResults): Grid | undefined {
  const measured = results.layoutCost.filter((r) => !('na' in r));
  const first = measured[0];
  if (!first || 'na' in first) return undefined;
  const [one, two, many] = first.layouts;
  return {
    header: ['fused backend', one, two, many, `${many} / ${one}`, `${many} / ${two}`],
    body: results.layoutCost.map((r) => ('na' in r
      ? [r.label, `n/a (${r.na})`, '', '', '', '']
      : [`${r.backend} ${r.threads}t`, ...r.ns.map(formatNs), formatRatio(r.ns[2] / r.ns[0]), formatRatio(r.ns[2] / r.ns[1])])),
  };
}

const VERSUS_C_TITLE = 'Fused WASM against C, alternated: C (a server process) and the fused stepper time batches of the same steps in turn, round after round; medians of the rounds, and of their ratios (the targets read these)';

/** The alternated fused-WASM-vs-C measurement. */
export function versusCGrid(results: BenchResults): Grid | undefined {
  const v = results.versusC;
  if (!v || v.length === 0) return undefined;
  return {
    header: ['params', 'threads', 'fused wasm ns', 'C ns', 'fused / C (median)', 'rounds (low..high)'],
    body: v.map((r) => ('na' in r ? [r.layout, `${r.threads}t`, `n/a (${r.na})`, '', '', ''] : [r.layout, `${r.threads}t`, formatNs(r.fusedNs), formatNs(r.cNs), formatRatio(r.ratio), `${r.rounds} (${formatRatio(r.low)}..${formatRatio(r.high)})`])),
  };
}

/** applyIfFinite(adamax) next to adamax on the medium tree, per fused backend. */
export function guardedGrid(results: BenchResults): Grid | undefined {
  const g = results.guarded;
  if (!g || 'na' in g) return undefined;
  return {
    header: ['', 'adamax', 'applyIfFinite(adamax)', 'ratio'],
    body: [...g.fused.map((r) => [r.label, formatNs(r.plain), formatNs(r.guarded), formatRatio(r.guarded / r.plain)]), ['reference', '', formatNs(g.reference), '']],
  };
}

/** The share of a combinator's time that is the user's code (its mask function), in units of a plain adamax step. */
function userShare(user: number | undefined, plain: number): string {
  return user === undefined ? '' : `; its mask function alone ${formatRatio(user / plain)}`;
}

/** Each combinator's time over plain adamax's, per tree and fused backend (stepped in turn). */
export function combinatorGrid(results: BenchResults): Grid | undefined {
  const c = results.combinators;
  if (!c || 'na' in c) return undefined;
  return {
    header: ['tree', 'fused backend', 'adamax ns/param', ...COMBINATORS.map((x) => x.label)],
    body: c.map((r) => [r.layout, r.backend, formatNs(r.plain), ...r.ns.map((ns, k) => (ns === undefined ? `reference (${r.reasons[k]})` : `${formatRatio(ns / r.plain)} (${formatNs(ns)}${userShare(r.user?.[k], r.plain)})`))]),
  };
}

/** A grid as aligned plain text. */
export function formatText(grid: Grid): string {
  const all = [grid.header, ...grid.body];
  const widths = grid.header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(grid.header), widths.map((w) => '-'.repeat(w)).join('  '), ...grid.body.map(line)].join('\n');
}

/** A grid as a Markdown table. */
export function formatMarkdown(grid: Grid): string {
  const row = (r: string[]): string => `| ${r.join(' | ')} |`;
  return [row(grid.header), row(grid.header.map((_, i) => (i === 0 ? '---' : '---:'))), ...grid.body.map(row)].join('\n');
}

function targetText(lines: readonly TargetLine[]): string[] {
  return lines.map((l) => `${l.status.padEnd(4)} ${l.text}`);
}

function machineLines(results: BenchResults): string[] {
  const m = results.machine;
  return [
    `CPU: ${m.cpu}, ${m.cores} logical cores, L3 ${m.l3}, ${m.memory} RAM`,
    `Node ${m.node}; C compiler: ${m.gcc}`,
    `Date: ${m.date}; bench wall time ${results.seconds.toFixed(0)} s`,
    results.foreignLoad === undefined
      ? 'Other load during the run: unknown'
      : `Other processes used ${results.foreignLoad.toFixed(2)} of ${m.cores} cores on average during the run${results.foreignLoad > 0.2 ? ' (a busy machine: the multi-thread and C columns suffer most)' : ''}`,
  ];
}

/** The whole console report. */
export function consoleReport(results: BenchResults): string {
  const footnotes: string[] = [];
  const out: string[] = [];
  out.push(...machineLines(results), '');
  out.push('ns per parameter for one adamax step (float32 unless marked; lower is better)', '');
  out.push(formatText(mainGrid(results, footnotes)));
  footnotes.forEach((f, i) => out.push(`[${i + 1}] ${f}`));
  out.push('', 'Ratios (x = times slower than the fastest fused column; fused / C = times slower than C)', '');
  out.push(formatText(ratioGrid(results)));
  const versus = versusCGrid(results);
  if (versus) out.push('', VERSUS_C_TITLE, '', formatText(versus));
  const layout = layoutGrid(results);
  if (layout) out.push('', 'Leaf layout, interleaved (ns per parameter, same params as one leaf, two leaves, many leaves)', '', formatText(layout));
  const guarded = guardedGrid(results);
  if (guarded) out.push('', `applyIfFinite(adamax) at ${results.config.layoutCost.one.label}, interleaved with adamax (ns per parameter)`, '', formatText(guarded));
  const combinators = combinatorGrid(results);
  if (combinators) out.push('', 'Combinators, each interleaved with plain adamax (time / adamax\'s, ns per parameter in parentheses)', '', formatText(combinators));
  const adapter = tfjsAdapterGrid(results);
  if (adapter) out.push('', TFJS_ADAPTER_TITLE, '', formatText(adapter));
  else if (results.tfjsAdapter && 'na' in results.tfjsAdapter) out.push('', `TensorFlow.js adapter: ${results.tfjsAdapter.na}`);
  const jaxjs = jaxjsAdapterGrid(results);
  if (jaxjs) out.push('', JAXJS_ADAPTER_TITLE, '', formatText(jaxjs));
  else if (results.jaxjsAdapter && 'na' in results.jaxjsAdapter) out.push('', `jax-js adapter: ${results.jaxjsAdapter.na}`);
  out.push('', results.config.quick ? 'Targets (quick run: sizes too small for the targets to mean anything)' : 'Targets (issue 4)', '');
  out.push(...targetText(evaluateTargets(results)));
  if (results.notes.length > 0) out.push('', 'Notes', ...results.notes.map((n) => `- ${n}`));
  return out.join('\n');
}

/** BENCHMARKS.md. */
export function markdownReport(results: BenchResults): string {
  const footnotes: string[] = [];
  const main = formatMarkdown(mainGrid(results, footnotes));
  const n = results.config.allThreads;
  return [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (`bench/run.ts`); rerun it to refresh this file. Numbers from one machine, one run.',
    '',
    '## Machine',
    '',
    ...machineLines(results).map((l) => `- ${l}`),
    '',
    '## Method',
    '',
    `One adamax step (b1=0.9, b2=0.999, eps=1e-8, lr=1e-3): moments update, bias correction, update, and applying it to the params. Gradients are fixed in a preallocated buffer (their generation is not timed). Each cell: one untimed step, a warm-up, then up to ${results.config.budget.repeats} timed batches (about ${results.config.budget.cellSeconds} s in all, fewer for very slow cells); the best batch is reported, in nanoseconds per parameter. Each row is measured in ${results.config.budget.rounds} round(s), and a cell keeps its best round (cells slower than ${results.config.budget.repeatBelowSeconds} s per step run once). The C kernel times itself the same way in a subprocess. "${n}t" = ${n} threads (all of this machine's cores). Rows are measured one after another, all columns of a row together, so that a change of load on a shared machine skews a row's ratios less.`,
    '',
    `Heap growth: in a fresh \`node --expose-gc\` process, ${2 * results.config.heapSteps} warm-up steps, then windows of ${results.config.heapSteps} steps each between forced full GCs, until the last 3 allocate nothing or 15 have run (V8 keeps optimizing a loop for thousands of steps, and code not yet optimized boxes numbers once: warm-up, not per-step garbage; each row says how many ran), the last 3 reported; the median of their \`heapUsed\` growth per step is the verdict (a leak shows in every window, a one-off release of older garbage in one). Allocation: the young generation's growth across each window (short-lived objects land there, and it is empty after a forced GC), less what the same windows around an empty loop allocate (the heap readings themselves), per step: every combinator on WASM (all threads and one) and plain JS, with a mask function and a labels function that allocate nothing themselves (each returns the same tree at every call), so that a row measures the library's share; the target is 0 bytes/step.`,
    '',
    'Bit-exactness: before timing, the fused engine (each backend) and the reference path take 5 steps on small one-leaf and many-leaf trees, float32 and float64, and must give identical params and state (count, mu, nu).',
    '',
    '## ns per parameter (lower is better)',
    '',
    main,
    ...footnotes.map((f, i) => `\n[${i + 1}] ${f}`),
    '',
    '## Ratios',
    '',
    'Times slower than the fastest fused column; the last columns compare the fused WASM path with C at the same thread count.',
    '',
    formatMarkdown(ratioGrid(results)),
    '',
    '## Fused WASM against C (alternated)',
    '',
    `${VERSUS_C_TITLE}. The C kernel's steady speed and the fused stepper's swing together with the machine's load (a neighbour's memory traffic and cache use above all), and a best-of-batches cell of the table above may come from a quieter moment than the cell it is compared with.`,
    '',
    ...(() => { const g = versusCGrid(results); return g ? [formatMarkdown(g)] : ['(not measured)']; })(),
    '',
    '## Leaf layout (interleaved)',
    '',
    `The same params as one leaf, two leaves and many leaves, compiled side by side and stepped in turn (best of many rounds over about ${results.config.layoutCost.seconds} s per backend), ns per parameter. One and two leaves differ by optax's numerics only (on a one-leaf tree XLA multiplies by the reciprocal of the bias correction: one division per element instead of two); two and many leaves by the layout only.`,
    '',
    ...(() => { const g = layoutGrid(results); return g ? [formatMarkdown(g)] : ['(not measured)']; })(),
    '',
    '## applyIfFinite',
    '',
    `\`applyIfFinite(adamax(1e-3), {maxConsecutiveErrors: 3})\` at ${results.config.layoutCost.one.label} params, compiled next to plain adamax and stepped in turn (finite gradients: every step runs the chain). The fused step adds a finiteness pass over the gradients, and the chain runs with the numerics optax gets inside \`lax.cond\`, whose fused multiply-adds are emulated exactly. ns per parameter.`,
    '',
    ...(() => { const g = guardedGrid(results); return g ? [formatMarkdown(g)] : ['(not measured)']; })(),
    '',
    '## Combinators (interleaved)',
    '',
    `Each combinator compiled next to plain \`adamax(1e-3)\` on the same tree, backend and thread count, all stepped in turn (best of many rounds over about ${results.config.layoutCost.seconds} s per tree and backend, finite gradients): its time over adamax's, and its ns per parameter. \`multiSteps\` averages over its k = 4 steps (three accumulating passes, one emitting). The mask function of \`adamaxw\` decays every other leaf and is called at every step, as optax calls it; that function alone (called on the gradients, as the engine calls it, timed in the same rounds) is shown beside it, in units of a plain adamax step: the rest is the library's. The same compiled with \`masks: 'once'\` calls it in \`compile\` only, as \`jax.jit\` calls it once when it traces. The ratio is what to read: this machine is shared, and absolute times move between runs.`,
    '',
    ...(() => { const g = combinatorGrid(results); return g ? [formatMarkdown(g)] : ['(not measured)']; })(),
    '',
    '## Compile time on a large tree',
    '',
    ...(() => {
      const ct = results.compileTime;
      if (!ct) return ['(not measured)'];
      if ('na' in ct) return [`(not measured: ${ct.na})`];
      return [`\`compile\` of \`chain(clipByGlobalNorm(1), adamax)\` next to \`adamax\` on ${ct.layout} float32 parameters, fused ${ct.backend}, best of alternated compiles: ${ct.clipMs.toFixed(0)} ms vs ${ct.plainMs.toFixed(0)} ms (${formatRatio(ct.clipMs / ct.plainMs)}). The global norm adds the plan of XLA's summation windows, one per 32 gradients (bench/compile-time.ts).`];
    })(),
    '',
    '## TensorFlow.js adapter',
    '',
    `${TFJS_ADAPTER_TITLE}. The adapter runs the fused engine on the gradients and writes the parameters in place (cpu and wasm keep tensors in this thread's memory); tfjs's Adamax runs about ten tfjs ops per variable, each allocating a tensor.`,
    '',
    ...(() => { const g = tfjsAdapterGrid(results); return g ? [formatMarkdown(g)] : ['(not measured)']; })(),
    '',
    '## jax-js adapter',
    '',
    `${JAXJS_ADAPTER_TITLE}. Inside \`jit\` jax-js fuses elementwise operations into one kernel per materialized array: each step here is three kernels per leaf (the two moments and the new parameters), one for the count and one for the bias correction (optax-ts/jax-js reads it from a table of the pure path's values; the hand-written step computes \`b1 ** count\` with jax-js's float32 \`power\`, not bit-identical to optax).`,
    '',
    ...(() => { const g = jaxjsAdapterGrid(results); if (g) return [formatMarkdown(g)]; const a = results.jaxjsAdapter; return [a && 'na' in a ? a.na : '(not measured)']; })(),
    '',
    '## Targets (issue 4)',
    '',
    '```',
    ...targetText(evaluateTargets(results)),
    '```',
    '',
    '## Notes',
    '',
    ...results.notes.map((l) => `- ${l}`),
    '',
  ].join('\n');
}

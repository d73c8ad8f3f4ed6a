/**
 * The network view, after TensorFlow Playground: a small MLP (float32, hand-written backprop) learns
 * a 2-D classification set live, one network per optimizer configuration, each starting from the same
 * weights and seeing the same batches; decision boundaries are redrawn as they train, with the
 * training loss and learning rate per step.
 */
import type uPlot from 'uplot';
import { setXY, stepPlot, xyPlot } from './charts.js';
import { fieldInput, fmt, h } from './dom.js';
import { type Dataset, makeDataset } from './datasets.js';
import type { EnginePath, ViewHost } from './functions-view.js';
import { probabilityImage } from './heatmap.js';
import type { MathSnapshot } from './math-panel.js';
import { Mlp, featureCount, features } from './mlp.js';
import { type BuiltOptimizer, type FlatParams, GradientToAdamax, type Runner, float32BiasCorrection, buildOptimizer, findAdamaxState, makeRunner } from './optimizer.js';
import { Random } from './random.js';
import { DATASETS, type DatasetName, RUN_COLORS, type Settings, hiddenSizes } from './settings.js';

const POINTS = 300;
const GRID = 64;
const MAX_STEPS = 5000;
const STEPS_PER_FRAME = 5;
const SHOWN = 4;

interface Training {
  readonly built: BuiltOptimizer;
  readonly runner: Runner<FlatParams>;
  readonly loss: number[];
  readonly lr: number[];
  readonly probabilities: Float32Array;
  image: HTMLCanvasElement | undefined;
  plot: uPlot | undefined;
  /** The shown parameters' m and v before the last step, and p before it. */
  prev: { m: number[]; v: number[]; p: number[] };
  readonly toAdamax: GradientToAdamax;
  /** The shown parameters' gradient at the last step, and what Adamax received (undefined: it did not run). */
  given: number[];
  seen: number[] | undefined;
}

const runName = (i: number): string => `Run ${String.fromCharCode(65 + i)}`;

export class ClassifyView {
  private runs: (Training | { error: string })[] = [];
  private mlp: Mlp | undefined;
  private data: Dataset | undefined;
  private inputs = new Float32Array(0);
  private grid = new Float32Array(0);
  private order: Int32Array = new Int32Array(0);
  private step = 0;
  private playing = true;
  private frame = 0;
  private lossPlot: uPlot | undefined;
  private lrPlot: uPlot | undefined;
  private readonly playButton = h('button', { type: 'button', class: 'primary', id: 'train', text: '❚❚ Pause' });
  private readonly stepButton = h('button', { type: 'button', text: 'Step' });
  private readonly resetButton = h('button', { type: 'button', text: 'Reset' });
  private readonly counter = h('output', { class: 'step-label', id: 'train-step' });
  private readonly boards = h('div', { class: 'boards' });
  private readonly lossBox = h('div', { class: 'plot', id: 'train-loss-plot' });
  private readonly lrBox = h('div', { class: 'plot', id: 'train-lr-plot' });
  readonly element: HTMLElement;

  constructor(private readonly host: ViewHost) {
    this.playButton.addEventListener('click', () => this.setPlaying(!this.playing));
    this.stepButton.addEventListener('click', () => { this.setPlaying(false); this.train(1); this.draw(); });
    this.resetButton.addEventListener('click', () => this.update(true));
    this.element = h('div', { class: 'view classify-view' },
      h('div', { class: 'toolbar' }, this.playButton, this.stepButton, this.resetButton, this.counter),
      this.boards,
      h('div', { class: 'row2' },
        h('figure', { class: 'card' }, h('figcaption', { text: 'training loss (binary cross-entropy, log scale)' }), this.lossBox),
        h('figure', { class: 'card' }, h('figcaption', { text: 'learning rate ηₜ each step used' }), this.lrBox),
      ),
    );
  }

  controls(): HTMLElement {
    const s = this.host.settings;
    const dataset = h('select', { name: 'dataset', id: 'dataset' }, ...DATASETS.map((d) => h('option', { value: d, text: d })));
    dataset.value = s.dataset;
    dataset.addEventListener('change', () => { s.dataset = dataset.value as DatasetName; this.host.changed(false); });
    const hidden = fieldInput({ name: 'hidden', label: 'hidden layers', type: 'text', value: s.hidden, hint: 'e.g. 8,8' }, s.hidden, (v) => {
      if (/^\s*\d{1,2}(\s*,\s*\d{1,2}){0,3}\s*$/.test(v as string)) { s.hidden = v as string; this.host.changed(false); }
    }, 'hidden');
    return h('section', { class: 'problem' },
      h('h2', { text: 'Problem' }),
      h('div', { class: 'grid2' }, h('label', { class: 'field' }, h('span', { text: 'data set' }), dataset), hidden),
      h('div', { class: 'grid3' },
        fieldInput({ name: 'extraFeatures', label: 'x², y², xy, sin', type: 'bool', value: s.extraFeatures }, s.extraFeatures, (v) => { s.extraFeatures = v as boolean; this.host.changed(false); }, 'extraFeatures'),
        fieldInput({ name: 'batchSize', label: 'batch (0: all)', type: 'int', value: s.batchSize, min: 0, step: 1 }, s.batchSize, (v) => { s.batchSize = Math.max(0, Math.min(POINTS, v as number)); this.host.changed(false); }, 'batchSize'),
        fieldInput({ name: 'seed', label: 'seed', type: 'int', value: s.seed, min: 0, step: 1 }, s.seed, (v) => { s.seed = v as number; this.host.changed(false); }, 'seed'),
      ),
      h('p', { class: 'formula', text: `${POINTS} points; tanh layers, one logit; gradients by hand-written backprop in float32. Each run starts from the same weights and sees the same batches.` }),
    );
  }

  /** Any change restarts training from the same initial weights. */
  update(structural: boolean): void {
    void structural;
    const s = this.host.settings;
    this.disposeRuns();
    const extra = s.extraFeatures;
    const f = featureCount(extra);
    this.mlp = new Mlp(f, hiddenSizes(s.hidden));
    this.data = makeDataset(s.dataset, POINTS, s.seed);
    this.inputs = new Float32Array(POINTS * f);
    const row = new Float32Array(f);
    for (let i = 0; i < POINTS; i++) {
      features(this.data.x[2 * i], this.data.x[2 * i + 1], extra, row);
      this.inputs.set(row, i * f);
    }
    this.grid = new Float32Array(GRID * GRID * f);
    for (let r = 0; r < GRID; r++) {
      for (let c = 0; c < GRID; c++) {
        features(-1.2 + (2.4 * (c + 0.5)) / GRID, 1.2 - (2.4 * (r + 0.5)) / GRID, extra, row);
        this.grid.set(row, (r * GRID + c) * f);
      }
    }
    this.order = shuffledOrder(POINTS, MAX_STEPS, s.batchSize, s.seed);
    this.step = 0;
    const init = this.mlp.init(s.seed + 1);
    this.runs = s.runs.map((run) => {
      try {
        const built = buildOptimizer(run);
        const copy = Object.fromEntries(Object.entries(init).map(([k, v]) => [k, v.slice()]));
        const runner = makeRunner(built.tx, copy, s.backend, s.threads, () => this.mlp!.zeros());
        return { built, runner, loss: [], lr: [], probabilities: new Float32Array(GRID * GRID), image: undefined, plot: undefined, prev: { m: [], v: [], p: [] }, toAdamax: new GradientToAdamax(run), given: [], seen: undefined };
      } catch (e) {
        return { error: (e as Error).message };
      }
    });
    this.host.showErrors(this.runs.map((r) => ('error' in r ? r.error : undefined)));
    this.buildPlots();
    this.draw();
    this.setPlaying(this.playing);
  }

  private buildPlots(): void {
    const s = this.host.settings;
    this.boards.replaceChildren();
    this.lossPlot?.destroy();
    this.lrPlot?.destroy();
    const n = s.runs.length;
    // Each board is a card (26 px of padding and border) and boards are 16 px apart.
    const side = Math.max(200, Math.min(340, Math.floor(((this.boards.clientWidth || 960) - 16 * (n - 1)) / n) - 28));
    const d = this.data!;
    const xs = [0, 1].map((label) => [[] as number[], [] as number[]]);
    for (let i = 0; i < d.n; i++) { xs[d.y[i]][0].push(d.x[2 * i]); xs[d.y[i]][1].push(d.x[2 * i + 1]); }
    this.runs.forEach((r, i) => {
      const box = h('div', { class: 'plot' });
      const fig = h('figure', { class: 'card board', style: `--run-color:${RUN_COLORS[i]}`, 'data-run': i },
        h('figcaption', {}, h('span', { class: 'chip' }), h('b', { text: runName(i) }), h('span', { class: 'board-stat' })), box);
      this.boards.append(fig);
      if ('error' in r) { box.append(h('p', { class: 'error', text: r.error })); return; }
      r.plot = xyPlot(box, {
        width: side, height: side, xRange: [-1.2, 1.2], yRange: [-1.2, 1.2],
        background: () => r.image,
        series: [
          { label: 'class 0', color: '#f59322', outline: '#ffffff', dot: 3.2, width: 1 },
          { label: 'class 1', color: '#0877bd', outline: '#ffffff', dot: 3.2, width: 1 },
        ],
      });
      setXY(r.plot, xs as unknown as [number[], number[]][]);
    });
    const width = Math.max(260, this.lossBox.clientWidth || 420);
    const series = s.runs.map((_, i) => ({ label: runName(i), color: RUN_COLORS[i] }));
    this.lossPlot = stepPlot(this.lossBox, { width, height: 170, log: true, series, yLabel: 'loss' });
    this.lrPlot = stepPlot(this.lrBox, { width, height: 170, series, yLabel: 'η' });
  }

  private setPlaying(playing: boolean): void {
    this.playing = playing;
    this.playButton.textContent = playing ? '❚❚ Pause' : '▶ Train';
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (playing) {
      const tick = () => {
        this.train(STEPS_PER_FRAME);
        this.draw();
        if (this.step >= MAX_STEPS) { this.setPlaying(false); return; }
        this.frame = requestAnimationFrame(tick);
      };
      this.frame = requestAnimationFrame(tick);
    }
  }

  private train(steps: number): void {
    const s = this.host.settings;
    const mlp = this.mlp!, d = this.data!;
    const batch = s.batchSize > 0 ? s.batchSize : POINTS;
    for (let k = 0; k < steps && this.step < MAX_STEPS; k++) {
      const rows = this.order.subarray((this.step * batch) % this.order.length, (this.step * batch) % this.order.length + batch);
      const selected = this.runs[s.selected];
      for (const r of this.runs) {
        if ('error' in r) continue;
        try {
          if (r === selected) r.prev = this.shown(r);
          const loss = mlp.lossAndGrad(r.runner.params, r.runner.grads, this.inputs, d.y, rows.length === batch ? rows : this.order.subarray(0, batch));
          r.loss.push(loss);
          r.toAdamax.add(r.runner.grads);
          r.given = Array.from(r.runner.grads.w0.subarray(0, SHOWN));
          const before = findAdamaxState(r.runner.state)!.count;
          r.lr.push(r.built.lrAt(before));
          r.runner.step();
          const seen = r.toAdamax.take(findAdamaxState(r.runner.state)!.count !== before);
          r.seen = seen ? Array.from(seen.w0.subarray(0, SHOWN)) : undefined;
        } catch (e) {
          Object.assign(r, { error: (e as Error).message });
        }
      }
      this.step++;
    }
  }

  /** m, v and p of the shown parameters (the first few weights of the first layer). */
  private shown(r: Training): { m: number[]; v: number[]; p: number[] } {
    const st = findAdamaxState(r.runner.state)!;
    const pick = (a: Float32Array) => Array.from(a.subarray(0, SHOWN));
    return { m: pick((st.mu as FlatParams).w0), v: pick((st.nu as FlatParams).w0), p: pick(r.runner.params.w0) };
  }

  private draw(): void {
    const mlp = this.mlp!;
    const f = mlp.sizes[0];
    this.counter.textContent = `step ${this.step}`;
    this.element.dataset.step = String(this.step);
    this.runs.forEach((r, i) => {
      if ('error' in r || !r.plot) return;
      const params = r.runner.params;
      for (let j = 0; j < GRID * GRID; j++) r.probabilities[j] = mlp.predict(params, this.grid.subarray(j * f, j * f + f));
      r.image = probabilityImage(r.probabilities, GRID);
      r.plot.redraw(false, false);
      const last = r.loss.at(-1);
      const stat = this.boards.querySelector(`[data-run="${i}"] .board-stat`);
      if (stat) stat.textContent = last === undefined ? '' : ` loss ${fmt(last, 3)} · accuracy ${fmt(this.accuracy(params) * 100, 3)}%`;
      this.boards.querySelector<HTMLElement>(`[data-run="${i}"]`)!.dataset.loss = String(last ?? '');
    });
    const steps = Array.from({ length: this.step }, (_, i) => i + 1);
    const column = (pick: (t: Training) => number[]) => this.runs.map((r) => ('error' in r ? steps.map(() => null) : pick(r)));
    this.lossPlot?.setData([steps, ...column((t) => t.loss)] as uPlot.AlignedData);
    this.lrPlot?.setData([steps, ...column((t) => t.lr)] as uPlot.AlignedData);
    this.host.mathChanged();
  }

  private accuracy(params: FlatParams): number {
    const mlp = this.mlp!, d = this.data!, f = mlp.sizes[0];
    let right = 0;
    for (let i = 0; i < d.n; i++) if ((mlp.predict(params, this.inputs.subarray(i * f, i * f + f)) >= 0.5 ? 1 : 0) === d.y[i]) right++;
    return right / d.n;
  }

  /** The path each run takes, for the header (threads change once the workers have started). */
  enginePaths(): (EnginePath | undefined)[] {
    return this.runs.map((r) => ('error' in r ? undefined : r.runner));
  }

  mathSnapshot(): MathSnapshot | undefined {
    const s = this.host.settings;
    const r = this.runs[s.selected];
    if (!r || 'error' in r || this.step === 0) return undefined;
    const run = s.runs[s.selected];
    const st = findAdamaxState(r.runner.state)!;
    const now = this.shown(r);
    const notes = ['Shown: the first weights of the first layer (w0[i]); u is p_t − p_{t−1} here.'];
    if (run.clipping !== 'none') notes.push(`g to Adamax is g given after ${run.clipping}(${run.clipValue}) over the whole tree, as the chain computes it.`);
    if (run.multiSteps > 1) notes.push(`MultiSteps(k=${run.multiSteps}): Adamax runs once per ${run.multiSteps} mini-steps on the ${run.useGradMean ? 'mean' : 'sum'} of their gradients (averaged here in double, shown rounded).`);
    return {
      run: s.selected, describe: r.built.describe, step: this.step, t: st.count, lr: r.lr.at(-1) ?? NaN, b1: run.b1, b2: run.b2, eps: run.eps,
      weightDecay: run.optimizer === 'adamaxw' ? run.weightDecay : undefined, bias: float32BiasCorrection(run.b1, st.count),
      elements: now.p.map((p, j) => ({ name: `w0[${j}]`, p, pPrev: r.prev.p[j], g: r.given[j], gSeen: r.seen?.[j], mPrev: r.prev.m[j], vPrev: r.prev.v[j], m: now.m[j], v: now.v[j], u: Math.fround(p - r.prev.p[j]) })),
      notes,
      transformed: run.clipping !== 'none' || run.multiSteps > 1,
    };
  }

  private disposeRuns(): void {
    for (const r of this.runs) if (!('error' in r)) { r.runner.dispose(); r.plot?.destroy(); }
    this.runs = [];
  }

  destroy(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.disposeRuns();
    this.lossPlot?.destroy();
    this.lrPlot?.destroy();
    this.lossPlot = this.lrPlot = undefined;
  }
}

/** Row indices for every batch of a run: a seeded reshuffle per pass over the data. */
function shuffledOrder(n: number, steps: number, batch: number, seed: number): Int32Array {
  if (batch <= 0 || batch >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const passes = Math.ceil((steps * batch) / n) + 1;
  const out = new Int32Array(passes * n);
  const rnd = new Random(seed + 7);
  for (let p = 0; p < passes; p++) {
    const perm = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) { const j = Math.floor(rnd.uniform() * (i + 1)); [perm[i], perm[j]] = [perm[j], perm[i]]; }
    out.set(perm, p * n);
  }
  return out;
}

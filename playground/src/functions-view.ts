/**
 * The 2-D view: trajectories of up to three optimizers over a test function's contour plot, the loss
 * (f - f*) and the learning rate per step. Every settings change reruns all steps at once; Play replays
 * them, and the step slider picks the step the update-rule panel shows.
 */
import type uPlot from 'uplot';
import { setXY, stepPlot, xyPlot } from './charts.js';
import { fieldInput, fmt, h } from './dom.js';
import { FUNCTIONS } from './functions.js';
import { contourImage } from './heatmap.js';
import type { MathSnapshot } from './math-panel.js';
import { FUNCTION_NAMES, type FunctionName, RUN_COLORS, type Settings } from './settings.js';
import { type Trajectory, type TrajectoryResult, runTrajectory } from './trajectory.js';

export interface ViewHost {
  readonly settings: Settings;
  /** Settings changed from inside the view (structural: the forms must be rebuilt). */
  changed(structural: boolean): void;
  /** Each run's error, or undefined. */
  showErrors(errors: readonly (string | undefined)[]): void;
  /** The update-rule panel should be redrawn. */
  mathChanged(): void;
  /** The path each run takes (undefined for a run that has no result). */
  engineChanged(paths: readonly (EnginePath | undefined)[]): void;
}

/** Which code runs a run's steps: the stepper's backend and threads, and why it is not fused when it is not. */
export interface EnginePath {
  readonly backend: string;
  readonly threads: number;
  readonly note: string | undefined;
}

const runName = (i: number): string => `Run ${String.fromCharCode(65 + i)}`;

export class FunctionsView {
  private results: TrajectoryResult[] = [];
  /** Results by everything they depend on: a change to one run reruns that run only. */
  private cache = new Map<string, TrajectoryResult>();
  private cursor = 0;
  private contour: uPlot | undefined;
  private loss: uPlot | undefined;
  private lr: uPlot | undefined;
  private plotKey = '';
  private background: HTMLCanvasElement | undefined;
  private backgroundKey = '';
  private animation = 0;
  private readonly slider = h('input', { type: 'range', min: 0, max: 1, value: 0, name: 'step', 'aria-label': 'step shown' });
  private readonly stepLabel = h('output', { class: 'step-label' });
  private readonly play = h('button', { type: 'button', class: 'primary', id: 'play', text: '▶ Play' });
  private readonly summary = h('ul', { class: 'summary', id: 'summary' });
  private readonly contourBox = h('div', { class: 'plot contour', id: 'contour' });
  private readonly lossBox = h('div', { class: 'plot', id: 'loss-plot' });
  private readonly lrBox = h('div', { class: 'plot', id: 'lr-plot' });
  readonly element: HTMLElement;

  constructor(private readonly host: ViewHost) {
    this.slider.addEventListener('input', () => { this.stopAnimation(); this.setCursor(this.slider.valueAsNumber); });
    this.play.addEventListener('click', () => this.replay());
    this.element = h('div', { class: 'view functions-view' },
      h('div', { class: 'toolbar' }, this.play, h('label', { class: 'slider' }, h('span', { text: 'step' }), this.slider), this.stepLabel),
      h('div', { class: 'plots' },
        h('figure', { class: 'card' }, h('figcaption', { id: 'fn-caption' }), this.contourBox, h('p', { class: 'hint', text: 'Click the plot to set the start point.' })),
        h('div', { class: 'side-plots' },
          h('figure', { class: 'card' }, h('figcaption', { text: 'loss f(x, y) − f* (log scale)' }), this.lossBox),
          h('figure', { class: 'card' }, h('figcaption', { text: 'learning rate ηₜ each step used' }), this.lrBox),
          this.summary,
        ),
      ),
    );
  }

  /** The problem's own controls (function, start, steps, noise). */
  controls(): HTMLElement {
    const s = this.host.settings;
    const fn = h('select', { name: 'fn', id: 'fn' }, ...FUNCTION_NAMES.map((k) => h('option', { value: k, text: FUNCTIONS[k].label })));
    fn.value = s.fn;
    fn.addEventListener('change', () => {
      s.fn = fn.value as FunctionName;
      [s.x0, s.y0] = FUNCTIONS[s.fn].start;
      this.host.changed(true);
    });
    const num = (name: 'x0' | 'y0' | 'steps' | 'noise' | 'seed', label: string, int = false, step = 0.1) =>
      fieldInput({ name, label, type: int ? 'int' : 'number', value: s[name], step: int ? 1 : step }, s[name], (v) => { s[name] = v as number; this.host.changed(name === 'steps' || name === 'x0' || name === 'y0'); }, name);
    return h('section', { class: 'problem' },
      h('h2', { text: 'Problem' }),
      h('label', { class: 'field' }, h('span', { text: 'test function' }), fn),
      h('p', { class: 'formula', text: FUNCTIONS[s.fn].formula }),
      h('div', { class: 'grid3' }, num('x0', 'start x'), num('y0', 'start y'), num('steps', 'steps', true)),
      FUNCTIONS[s.fn].noisy ? h('div', { class: 'grid3' }, num('noise', 'noise σ'), num('seed', 'seed', true)) : null,
    );
  }

  update(structural: boolean): void {
    const s = this.host.settings;
    this.stopAnimation();
    const problem = { fn: s.fn, x0: s.x0, y0: s.y0, steps: s.steps, noise: s.noise, seed: s.seed, backend: s.backend };
    const keys = s.runs.map((run) => JSON.stringify([problem, run]));
    const cache = new Map<string, TrajectoryResult>();
    this.results = s.runs.map((run, i) => {
      const result = this.cache.get(keys[i]) ?? cache.get(keys[i]) ?? runTrajectory(s, run);
      cache.set(keys[i], result);
      return result;
    });
    this.cache = cache;
    this.host.showErrors(this.results.map((r) => (r.ok ? undefined : r.error)));
    const key = `${s.fn}|${s.runs.length}|${s.steps}`;
    if (structural || key !== this.plotKey || !this.contour) this.buildPlots(key);
    this.slider.max = String(s.steps);
    this.setCursor(s.steps);
    this.host.engineChanged(this.results.map((r) => (r.ok ? r.value : undefined)));
    this.element.dataset.state = 'ready';
  }

  private buildPlots(key: string): void {
    const s = this.host.settings;
    const fn = FUNCTIONS[s.fn];
    this.plotKey = key;
    this.contour?.destroy();
    this.loss?.destroy();
    this.lr?.destroy();
    document.getElementById('fn-caption')?.replaceChildren(`${fn.label}: ${fn.formula}`);
    if (this.backgroundKey !== s.fn) {
      this.background = contourImage(fn.f, fn.fMin, fn.xRange, fn.yRange);
      this.backgroundKey = s.fn;
    }
    const side = Math.max(280, Math.min(560, this.contourBox.clientWidth || 520));
    this.contour = xyPlot(this.contourBox, {
      width: side, height: side, xRange: fn.xRange, yRange: fn.yRange, xLabel: 'x', yLabel: 'y',
      background: () => this.background,
      onClick: (x, y) => {
        s.x0 = Number(x.toFixed(3));
        s.y0 = Number(y.toFixed(3));
        this.host.changed(true);
      },
      series: [
        { label: 'minima', color: '#ffffff', outline: '#1f2937', dot: 4.5, width: 1.5 },
        ...s.runs.map((_, i) => ({ label: runName(i), color: RUN_COLORS[i], line: true, dot: 1.6, width: 2 })),
        ...s.runs.map((_, i) => ({ label: `${runName(i)} now`, color: RUN_COLORS[i], outline: '#ffffff', dot: 5.5, width: 2 })),
        { label: 'start', color: '#111827', outline: '#ffffff', dot: 5, width: 2 },
      ],
    });
    const width = Math.max(260, this.lossBox.clientWidth || 420);
    const series = s.runs.map((_, i) => ({ label: runName(i), color: RUN_COLORS[i] }));
    this.loss = stepPlot(this.lossBox, { width, height: 190, log: true, series, yLabel: 'f − f*' });
    this.lr = stepPlot(this.lrBox, { width, height: 150, series, yLabel: 'η' });
  }

  private setCursor(k: number): void {
    const s = this.host.settings;
    this.cursor = Math.max(0, Math.min(s.steps, k));
    this.slider.value = String(this.cursor);
    this.stepLabel.textContent = `${this.cursor} / ${s.steps}`;
    this.draw();
    this.host.mathChanged();
  }

  private draw(): void {
    const s = this.host.settings;
    const fn = FUNCTIONS[s.fn];
    const k = this.cursor;
    const traj = this.results.map((r) => (r.ok ? r.value : undefined));
    const upTo = (a: Float64Array) => a.subarray(0, k + 1);
    setXY(this.contour!, [
      [fn.minima.map((m) => m[0]), fn.minima.map((m) => m[1])],
      ...traj.map((t) => (t ? [upTo(t.x), upTo(t.y)] as const : [[], []] as const)),
      ...traj.map((t) => (t ? [[t.x[k]], [t.y[k]]] as const : [[], []] as const)),
      [[s.x0], [s.y0]],
    ]);
    const steps = Array.from({ length: k + 1 }, (_, i) => i);
    this.loss!.setData([steps, ...traj.map((t) => (t ? t.loss.slice(0, k + 1) : steps.map(() => null)))] as uPlot.AlignedData);
    this.lr!.setData([steps.slice(1), ...traj.map((t) => (t ? t.lr.slice(1, k + 1) : steps.slice(1).map(() => null)))] as uPlot.AlignedData);
    this.renderSummary(traj, k);
  }

  private renderSummary(traj: (Trajectory | undefined)[], k: number): void {
    this.summary.replaceChildren(...this.results.map((r, i) => {
      const li = h('li', { 'data-run': i, style: `--run-color:${RUN_COLORS[i]}` }, h('span', { class: 'chip' }), h('b', { text: runName(i) }));
      const t = traj[i];
      if (!r.ok || !t) {
        li.append(h('span', { class: 'error', text: r.ok ? '' : r.error }));
        return li;
      }
      li.dataset.x = String(t.x[k]);
      li.dataset.y = String(t.y[k]);
      li.dataset.identical = String(t.identical);
      li.append(...[
        h('span', { text: ` (x, y) = (${fmt(t.x[k], 4)}, ${fmt(t.y[k], 4)})` }),
        h('span', { text: ` · f − f* = ${fmt(t.loss[k] ?? NaN, 3)}` }),
        t.divergedAt !== undefined && t.divergedAt <= k ? h('span', { class: 'error', text: ` · diverged at step ${t.divergedAt}` }) : null,
        t.identical === undefined ? null : h('span', { class: t.identical ? 'ok' : 'error', title: 'every step of the fused engine compared with tx.update + applyUpdates', text: t.identical ? ' · bit-identical to tx.update ✓' : ' · differs from tx.update ✗' }),
      ].filter((c): c is HTMLSpanElement => c !== null));
      return li;
    }));
  }

  private replay(): void {
    const s = this.host.settings;
    this.stopAnimation();
    this.element.dataset.state = 'playing';
    const duration = Math.min(4000, Math.max(800, s.steps * 8));
    const t0 = performance.now();
    const frame = (now: number) => {
      const k = Math.min(s.steps, Math.round(((now - t0) / duration) * s.steps));
      this.setCursor(k);
      if (k < s.steps) this.animation = requestAnimationFrame(frame);
      else { this.animation = 0; this.element.dataset.state = 'done'; }
    };
    this.setCursor(0);
    this.animation = requestAnimationFrame(frame);
  }

  private stopAnimation(): void {
    if (this.animation) cancelAnimationFrame(this.animation);
    this.animation = 0;
  }

  /** The selected run at the shown step, for the update-rule panel. */
  mathSnapshot(): MathSnapshot | undefined {
    const s = this.host.settings;
    const r = this.results[s.selected];
    if (!r?.ok) return undefined;
    const t = r.value, k = this.cursor, run = s.runs[s.selected];
    const notes: string[] = [];
    if (run.clipping !== 'none') notes.push(`g to Adamax is g given after ${run.clipping}(${run.clipValue}), as the chain computes it.`);
    if (t.miniStep) notes.push(`MultiSteps(k=${run.multiSteps}): ${t.miniStep[k] === 0 && k > 0 ? 'this mini-step emitted an update' : `accumulating, mini-step ${t.miniStep[k]} of ${run.multiSteps}`}; Adamax runs once per ${run.multiSteps} mini-steps on the ${run.useGradMean ? 'mean' : 'sum'} of their gradients (averaged here in double, shown rounded).`);
    if (k === 0) notes.push('Step 0 is the start point: move the slider or press Play.');
    return {
      run: s.selected, describe: t.describe, step: k, t: t.count[k], lr: t.lr[k] ?? NaN, b1: run.b1, b2: run.b2, eps: run.eps,
      weightDecay: run.optimizer === 'adamaxw' ? run.weightDecay : undefined, bias: t.bias[k],
      elements: ['x', 'y'].map((name, j) => ({
        name, gSeen: Number.isNaN(t.seen[j][k]) ? undefined : t.seen[j][k], p: j === 0 ? t.x[k] : t.y[k], pPrev: k > 0 ? (j === 0 ? t.x[k - 1] : t.y[k - 1]) : NaN, g: j === 0 ? t.gx[k] : t.gy[k], mPrev: k > 0 ? t.m[j][k - 1] : 0, vPrev: k > 0 ? t.v[j][k - 1] : 0,
        m: t.m[j][k], v: t.v[j][k], u: k > 0 ? t.u[j][k] : undefined,
      })),
      notes,
      transformed: run.clipping !== 'none' || run.multiSteps > 1,
    };
  }

  destroy(): void {
    this.stopAnimation();
    this.contour?.destroy();
    this.loss?.destroy();
    this.lr?.destroy();
    this.contour = this.loss = this.lr = undefined;
  }
}

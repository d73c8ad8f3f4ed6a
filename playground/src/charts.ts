/**
 * The plots, all uPlot: x-y plots (trajectories and data points over a field image, uPlot's
 * mode 2) and step plots (loss, learning rate). uPlot draws axes, grid, lines and points; the field
 * image is a layer drawn in its `drawClear` hook, under everything else.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface XYSeries {
  readonly label: string;
  readonly color: string;
  /** Draw a line through the points in order. */
  readonly line?: boolean;
  /** Radius (CSS px) of a dot at each point; 0 for none. */
  readonly dot?: number;
  /** Dot outline colour. */
  readonly outline?: string;
  readonly width?: number;
}

/**
 * uPlot's own line builders join points in x order; a trajectory runs in step order, so this path
 * builder joins them as given (breaking at non-finite points) and puts a dot on each.
 */
function xyPaths(line: boolean, dot: number): uPlot.Series.PathBuilder {
  return (u, seriesIdx) => {
    const [xs, ys] = u.data[seriesIdx] as unknown as [ArrayLike<number>, ArrayLike<number>];
    const stroke = new Path2D();
    const dots = new Path2D();
    const r = dot * uPlot.pxRatio;
    let open = false;
    for (let i = 0; i < xs.length; i++) {
      if (!Number.isFinite(xs[i]) || !Number.isFinite(ys[i])) { open = false; continue; }
      const px = u.valToPos(xs[i], 'x', true), py = u.valToPos(ys[i], 'y', true);
      if (line) { if (open) stroke.lineTo(px, py); else stroke.moveTo(px, py); open = true; }
      if (r > 0) { dots.moveTo(px + r, py); dots.arc(px, py, r, 0, 2 * Math.PI); }
    }
    return { stroke: line ? stroke : dot > 0 ? dots : null, fill: r > 0 ? dots : null, clip: undefined, band: undefined, gaps: null, flags: 0 } as unknown as uPlot.Series.Paths;
  };
}

export interface XYPlotOptions {
  readonly width: number;
  readonly height: number;
  readonly xRange: readonly [number, number];
  readonly yRange: readonly [number, number];
  readonly series: readonly XYSeries[];
  /** The image stretched over the plotting area, under the grid and the series. */
  readonly background?: () => CanvasImageSource | undefined;
  /** A click in the plotting area, in data coordinates. */
  readonly onClick?: (x: number, y: number) => void;
  readonly xLabel?: string;
  readonly yLabel?: string;
}

const AXIS = { stroke: '#4a5568', grid: { stroke: 'rgba(40,50,70,0.08)', width: 1 }, ticks: { stroke: 'rgba(40,50,70,0.25)', width: 1 } };

/** An x-y plot (uPlot mode 2); data: one [xs, ys] per series. */
export function xyPlot(el: HTMLElement, o: XYPlotOptions): uPlot {
  const opts: uPlot.Options = {
    mode: 2,
    width: o.width,
    height: o.height,
    legend: { show: false },
    cursor: { drag: { x: false, y: false, setScale: false }, points: { show: false } },
    scales: { x: { time: false, auto: false, range: () => [o.xRange[0], o.xRange[1]] }, y: { auto: false, range: () => [o.yRange[0], o.yRange[1]] } },
    axes: [{ ...AXIS, label: o.xLabel, labelSize: o.xLabel ? 20 : 0 }, { ...AXIS, label: o.yLabel, labelSize: o.yLabel ? 20 : 0 }],
    series: [
      {},
      ...o.series.map((s): uPlot.Series => ({
        label: s.label,
        stroke: s.line ? s.color : (s.outline ?? s.color),
        fill: s.color,
        width: s.width ?? (s.line ? 2 : 1),
        facets: [{ scale: 'x', auto: false }, { scale: 'y', auto: false }],
        paths: xyPaths(s.line ?? false, s.dot ?? 0),
        points: { show: false },
      })),
    ],
    hooks: {
      drawClear: [(u) => {
        const image = o.background?.();
        if (!image) return;
        u.ctx.save();
        u.ctx.imageSmoothingEnabled = true;
        u.ctx.drawImage(image, u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
        u.ctx.restore();
      }],
    },
  };
  const empty = o.series.map(() => [[], []]);
  const plot = new uPlot(opts, [null, ...empty] as unknown as uPlot.AlignedData, el);
  if (o.onClick) {
    plot.over.addEventListener('click', (e) => {
      const x = plot.posToVal(e.offsetX, 'x'), y = plot.posToVal(e.offsetY, 'y');
      o.onClick!(x, y);
    });
    plot.over.style.cursor = 'crosshair';
  }
  return plot;
}

/** Sets the [xs, ys] of every series of an x-y plot. */
export function setXY(plot: uPlot, data: readonly (readonly [ArrayLike<number>, ArrayLike<number>])[]): void {
  plot.setData([null, ...data] as unknown as uPlot.AlignedData, false);
  plot.redraw(false, false);
}

export interface StepPlotOptions {
  readonly width: number;
  readonly height: number;
  readonly log?: boolean;
  readonly series: readonly { readonly label: string; readonly color: string; readonly dash?: number[] }[];
  readonly yLabel: string;
}

/** An axis tick: plain for everyday magnitudes, 1e-6 style for the rest (log axes span many decades). */
function tick(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e5 ? String(Number(v.toPrecision(3))) : v.toExponential(0).replace('e+', 'e');
}

/** Values per step (x = step), one line per series; log scale when asked. */
export function stepPlot(el: HTMLElement, o: StepPlotOptions): uPlot {
  const opts: uPlot.Options = {
    width: o.width,
    height: o.height,
    legend: { show: false },
    cursor: { drag: { x: true, y: false }, points: { size: 6 } },
    scales: { x: { time: false }, y: o.log ? { distr: 3 } : {} },
    axes: [{ ...AXIS, label: 'step', labelSize: 18 }, { ...AXIS, label: o.yLabel, labelSize: 18, size: 60, values: (_u, splits) => splits.map(tick) }],
    series: [{ label: 'step' }, ...o.series.map((s) => ({ label: s.label, stroke: s.color, width: 1.75, dash: s.dash, points: { show: false } }))],
  };
  return new uPlot(opts, [[], ...o.series.map(() => [])] as unknown as uPlot.AlignedData, el);
}

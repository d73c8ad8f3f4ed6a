import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One point of the training curves. */
export interface CurvePoint {
  readonly step: number;
  readonly loss: number;
  readonly learningRate: number;
  /** `train` (each batch) or `held-out` (evaluated now and then). */
  readonly series: string;
}

/** The loss and learning-rate curves as an SVG image (vega-lite, rendered by vega). */
export async function curvesSvg(points: readonly CurvePoint[], title: string): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: points as CurvePoint[] },
    hconcat: [
      {
        width: 420, height: 260,
        mark: { type: 'line', clip: true },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'step' },
          y: { field: 'loss', type: 'quantitative', title: 'cross-entropy (nats per character)', scale: { zero: false } },
          color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'top-right' } },
        },
      },
      {
        width: 300, height: 260,
        transform: [{ filter: "datum.series === 'train'" }],
        mark: { type: 'line', color: '#e45756' },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'step' },
          y: { field: 'learningRate', type: 'quantitative', title: 'learning rate (warmup + cosine decay)' },
        },
      },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

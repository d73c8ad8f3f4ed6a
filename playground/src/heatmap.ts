/**
 * Field images drawn under uPlot's axes and series: the contour bands of a 2-D function, and the
 * predicted probability of a classifier. Each is an offscreen canvas that a plot stretches over its
 * plotting area (charts.ts); the library draws everything else.
 */

type Rgb = readonly [number, number, number];

function hex(c: string): Rgb {
  const v = Number.parseInt(c.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** Piecewise-linear colour ramp over [0, 1]. */
function ramp(stops: readonly string[]): (t: number) => Rgb {
  const rgb = stops.map(hex);
  return (t) => {
    const x = Math.min(1, Math.max(0, t)) * (rgb.length - 1);
    const i = Math.min(rgb.length - 2, Math.floor(x));
    return mix(rgb[i], rgb[i + 1], x - i);
  };
}

const CONTOUR = ramp(['#fff8e7', '#f1f3dc', '#dcebd9', '#c5dedb', '#b4cce0', '#b3b8dc']);
const CLASSES = ramp(['#f8b469', '#fce3c4', '#f6f6f6', '#c5def1', '#75b1da']);

function canvasOf(width: number, height: number): [HTMLCanvasElement, CanvasRenderingContext2D, ImageData] {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  return [canvas, ctx, ctx.createImageData(width, height)];
}

/**
 * Contour bands of f over a region: the value f - f* on a log scale cut into `levels` bands, each band
 * a flat colour with a darker line where the band changes (an isoline).
 */
export function contourImage(f: (x: number, y: number) => number, fMin: number, xRange: readonly [number, number], yRange: readonly [number, number], size = 360, levels = 22): HTMLCanvasElement {
  const [canvas, ctx, img] = canvasOf(size, size);
  const logs = new Float64Array(size * size);
  let lo = Infinity, hi = -Infinity;
  for (let r = 0; r < size; r++) {
    const y = yRange[1] - ((r + 0.5) / size) * (yRange[1] - yRange[0]);
    for (let c = 0; c < size; c++) {
      const x = xRange[0] + ((c + 0.5) / size) * (xRange[1] - xRange[0]);
      const v = Math.log10(Math.max(f(x, y) - fMin, 0) + 1e-3);
      logs[r * size + c] = v;
      if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
  }
  const band = (i: number): number => Math.min(levels - 1, Math.floor(((logs[i] - lo) / (hi - lo || 1)) * levels));
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const i = r * size + c;
      const b = band(i);
      const edge = (c + 1 < size && band(i + 1) !== b) || (r + 1 < size && band(i + size) !== b);
      const [red, green, blue] = CONTOUR((b + 0.5) / levels);
      const k = edge ? 0.86 : 1;
      img.data.set([red * k, green * k, blue * k, 255], 4 * i);
    }
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

/** A classifier's probability of class 1 on a grid (row 0 at the top), orange for 0 to blue for 1. */
export function probabilityImage(probabilities: Float32Array, size: number): HTMLCanvasElement {
  const [canvas, ctx, img] = canvasOf(size, size);
  for (let i = 0; i < size * size; i++) {
    const [r, g, b] = CLASSES(probabilities[i]);
    img.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

/**
 * The 2-D test functions: value, gradient (analytic), the region to plot, the known minima, and the
 * minimum value (the loss plot shows f - f*, on a log scale).
 */
import type { FunctionName } from './settings.js';

export interface TestFunction {
  readonly label: string;
  readonly formula: string;
  readonly f: (x: number, y: number) => number;
  readonly grad: (x: number, y: number) => [number, number];
  readonly xRange: readonly [number, number];
  readonly yRange: readonly [number, number];
  readonly minima: readonly (readonly [number, number])[];
  readonly fMin: number;
  /** Gradients get standard normal noise times the noise setting. */
  readonly noisy?: boolean;
  readonly start: readonly [number, number];
}

const bowl: TestFunction = {
  label: 'Quadratic bowl',
  formula: 'f = x² + 5y²',
  f: (x, y) => x * x + 5 * y * y,
  grad: (x, y) => [2 * x, 10 * y],
  xRange: [-3, 3],
  yRange: [-3, 3],
  minima: [[0, 0]],
  fMin: 0,
  start: [-2.5, 2],
};

export const FUNCTIONS: Readonly<Record<FunctionName, TestFunction>> = {
  bowl,
  rosenbrock: {
    label: 'Rosenbrock',
    formula: 'f = (1 − x)² + 100 (y − x²)²',
    f: (x, y) => (1 - x) ** 2 + 100 * (y - x * x) ** 2,
    grad: (x, y) => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)],
    xRange: [-2, 2],
    yRange: [-1, 3],
    minima: [[1, 1]],
    fMin: 0,
    start: [-1.5, 2.2],
  },
  beale: {
    label: 'Beale',
    formula: 'f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²',
    f: (x, y) => (1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y ** 3) ** 2,
    grad: (x, y) => {
      const a = 1.5 - x + x * y, b = 2.25 - x + x * y * y, c = 2.625 - x + x * y ** 3;
      return [2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y ** 3 - 1), 2 * a * x + 4 * b * x * y + 6 * c * x * y * y];
    },
    xRange: [-4.5, 4.5],
    yRange: [-4.5, 4.5],
    minima: [[3, 0.5]],
    fMin: 0,
    start: [-1, 1.5],
  },
  himmelblau: {
    label: 'Himmelblau',
    formula: 'f = (x² + y − 11)² + (x + y² − 7)²',
    f: (x, y) => (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2,
    grad: (x, y) => {
      const a = x * x + y - 11, b = x + y * y - 7;
      return [4 * a * x + 2 * b, 2 * a + 4 * b * y];
    },
    xRange: [-5, 5],
    yRange: [-5, 5],
    minima: [[3, 2], [-2.805118, 3.131312], [-3.77931, -3.283186], [3.584428, -1.848126]],
    fMin: 0,
    start: [-0.5, -0.5],
  },
  saddle: {
    label: 'Saddle',
    formula: 'f = x² − y² + y⁴/4 (saddle at the origin, minima at (0, ±√2))',
    f: (x, y) => x * x - y * y + y ** 4 / 4,
    grad: (x, y) => [2 * x, -2 * y + y ** 3],
    xRange: [-2, 2],
    yRange: [-2.5, 2.5],
    minima: [[0, Math.SQRT2], [0, -Math.SQRT2]],
    fMin: -1,
    start: [-1.8, 0.001],
  },
  noisy: {
    ...bowl,
    label: 'Noisy bowl',
    formula: 'f = x² + 5y², gradients + noise·N(0, 1) (seeded)',
    noisy: true,
  },
};

/** The classification sets of the network view, as TensorFlow Playground draws them: seeded, labels 0/1, points in [-1, 1]². */
import { Random } from './random.js';
import type { DatasetName } from './settings.js';

export interface Dataset {
  readonly x: Float32Array; // [n, 2] row-major
  readonly y: Float32Array; // [n] of 0 or 1
  readonly n: number;
}

export function makeDataset(name: DatasetName, n: number, seed: number): Dataset {
  const rnd = new Random(seed);
  const x = new Float32Array(2 * n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    let px: number, py: number;
    if (name === 'circles') {
      const r = label === 0 ? 0.5 * rnd.uniform() : 0.7 + 0.25 * rnd.uniform();
      const a = 2 * Math.PI * rnd.uniform();
      px = r * Math.cos(a);
      py = r * Math.sin(a);
    } else if (name === 'xor') {
      px = (rnd.uniform() * 2 - 1) * 0.95;
      py = (rnd.uniform() * 2 - 1) * 0.95;
      // Keep a small margin off the axes, as TensorFlow Playground does.
      px += Math.sign(px) * 0.05;
      py += Math.sign(py) * 0.05;
      y[i] = px * py >= 0 ? 1 : 0;
      x[2 * i] = px;
      x[2 * i + 1] = py;
      continue;
    } else {
      const t = (Math.floor(i / 2) / (n / 2)) * 1.75 * Math.PI;
      const r = (t / (1.75 * Math.PI)) * 0.9 + 0.05;
      const a = t + label * Math.PI;
      px = r * Math.sin(a) + 0.03 * rnd.normal();
      py = r * Math.cos(a) + 0.03 * rnd.normal();
    }
    x[2 * i] = px;
    x[2 * i + 1] = py;
    y[i] = label;
  }
  return { x, y, n };
}

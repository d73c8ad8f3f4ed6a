/**
 * optax's adamax docstring example, ported: minimize f(x) = sum(x^2) from x = [1, 2, 3].
 * Its output is the `printed` field of the conformance case `doc_example_quadratic`, line for line.
 *
 * Run it with `npm start`.
 */
import { adamax, applyUpdates } from '../src/index.js';

/** f(x) = sum(x^2), accumulated in float32 as JAX does. */
function f(x: Float32Array): number {
  let s = 0;
  for (const v of x) s = Math.fround(s + Math.fround(v * v));
  return s;
}

/** Its gradient, 2x (exact in float32). */
function grad(x: Float32Array): Float32Array {
  return x.map((v) => 2 * v);
}

/** Python's `'{:.2E}'.format(v)`: two decimals, upper-case E, at least two exponent digits. */
function formatE(v: number): string {
  const [mantissa, exponent] = v.toExponential(2).toUpperCase().split('E');
  const sign = exponent.startsWith('-') ? '-' : '+';
  return `${mantissa}E${sign}${exponent.replace(/^[+-]/, '').padStart(2, '0')}`;
}

/** Python's `str(float)`: `14.0`, not `14`. */
function formatPython(v: number): string {
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

const solver = adamax(0.003);
let params = new Float32Array([1, 2, 3]);
console.log('Objective function: ', formatPython(f(params)));
let state = solver.init(params);
for (let i = 0; i < 5; i++) {
  const [updates, next] = solver.update(grad(params), state, params);
  params = applyUpdates(params, updates);
  state = next;
  console.log(`Objective function: ${formatE(f(params))}`);
}

import assert from 'node:assert/strict';
import test from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { fma32 } from '../../src/core/fused-multiply-add.js';
import { exactFma } from '../../src/tfjs/exact-fma.js';

await tf.setBackend('cpu');

let seed = 1;
const rnd = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
const f = Math.fround;
const word = new Uint32Array(1), asFloat = new Float32Array(word.buffer);
const anyFloat = (): number => { word[0] = Math.floor(rnd() * 2 ** 32); return asFloat[0]; };
const moderate = (): number => f((rnd() * 2 - 1) * 2 ** Math.floor(rnd() * 60 - 30));

/** Operand families, each aimed at one part of exactFma (its comment says why each can go wrong). */
const families: Record<string, () => [number, number, number]> = {
  moderate: () => [moderate(), moderate(), moderate()],
  // c cancels the product: the exact result is the product's rounding error
  cancelling: () => { const a = moderate(), b = moderate(); return [a, b, f(-a * b * (1 + (rnd() - 0.5) * 2 ** -20))]; },
  // every bit pattern: NaN, infinities, subnormals, overflow, huge and tiny operands
  bitPatterns: () => [anyFloat(), anyFloat(), anyFloat()],
  // a product of short significands next to a power of two: sums exactly on a midpoint, then pushed off by the product's error
  midpoints: () => [f(1 + Math.floor(rnd() * 4096) / 4096), f(1 + Math.floor(rnd() * 4096) / 4096), f(2 ** Math.floor(rnd() * 30 + 1) * (rnd() < 0.5 ? 1 : -1))],
  nearOne: () => [f(1 - 2 ** -24 * Math.floor(rnd() * 8)), f(1 + 2 ** -23 * Math.floor(rnd() * 8)), f(-1 - 2 ** -23 * Math.floor(rnd() * 4))],
  // a decaying moment: b1 * mu + c with mu and c near float32's subnormal range (the rescaled path)
  subnormalResults: () => [f(0.9), f(rnd() * 2 ** -120), f((rnd() - 0.5) * 2 ** -125)],
  tinyProducts: () => [f(rnd() * 2 ** -70), f(rnd() * 2 ** -70), f((rnd() - 0.5) * 2 ** -140)],
  // factors whose split overflows, products beyond 2^100 (the rescaled-down path)
  huge: () => [f(moderate() * 2 ** 90), f(moderate() * 2 ** 60), f(moderate() * 2 ** 120)],
  specials: () => { const s = [0, -0, Infinity, -Infinity, NaN, 1, -1, 2 ** -149, 3.4e38][Math.floor(rnd() * 9)]; return [moderate(), rnd() < 0.5 ? s : moderate(), rnd() < 0.5 ? s : -s]; },
};

test('exactFma (float32 tfjs ops) is bit-identical to fma32 on the cpu backend, operands of every kind', () => {
  for (const [name, make] of Object.entries(families)) {
    const n = 5000;
    const a = new Float32Array(n), b = new Float32Array(n), c = new Float32Array(n);
    for (let i = 0; i < n; i++) [a[i], b[i], c[i]] = make();
    const got = tf.tidy(() => exactFma(tf.tensor1d(a), tf.tensor1d(b), tf.tensor1d(c)).dataSync());
    let differing = 0, first = '';
    for (let i = 0; i < n; i++) {
      const want = f(fma32(a[i], b[i], c[i]));
      if (!Object.is(want, got[i]) && !(Number.isNaN(want) && Number.isNaN(got[i]))) {
        differing++;
        first ||= `fma(${a[i]}, ${b[i]}, ${c[i]}) = ${got[i]}, want ${want}`;
      }
    }
    assert.equal(differing, 0, `${name}: ${differing} of ${n} differ, e.g. ${first}`);
  }
});

test('exactFma broadcasts scalars, and leaks no tensor', () => {
  const before = tf.memory().numTensors;
  const a = tf.scalar(f(0.1)), x = tf.tensor1d([1, 2, 3]), c = tf.scalar(f(1e-3));
  const out = exactFma(a, x, c);
  assert.deepEqual(out.shape, [3]);
  assert.deepEqual(Array.from(out.dataSync()), [1, 2, 3].map((v) => f(fma32(f(0.1), v, f(1e-3)))));
  tf.dispose([a, x, c, out]);
  assert.equal(tf.memory().numTensors, before);
});

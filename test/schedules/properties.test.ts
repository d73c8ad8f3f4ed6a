// Property tests: ranges, float32-ness and join offsets for random valid options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as S from '../../src/schedules/index.js';

const value = fc.double({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true });
const steps = fc.integer({ min: 1, max: 10_000 });
const count = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const dtype = fc.constantFrom('float32' as const, 'float64' as const);
const isF32 = (x: number) => Object.is(Math.fround(x), x);

test('linear: float32 values between init and end (up to float32 rounding)', () => {
  fc.assert(fc.property(value, value, steps, fc.integer({ min: 0, max: 1000 }), count, dtype, (i, e, t, b, c, d) => {
    const v = S.linearSchedule({ initValue: i, endValue: e, transitionSteps: t, transitionBegin: b, dtype: d })(c);
    assert.ok(isF32(v));
    const tol = 4 * 2 ** -23 * Math.max(Math.abs(i), Math.abs(e), 1e-30);
    assert.ok(v >= Math.min(i, e) - tol && v <= Math.max(i, e) + tol, `${v}`);
  }));
});

test('cosine decay: between alpha*init and init, float32 in 32-bit mode', () => {
  fc.assert(fc.property(value, steps, fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), dtype, (i, t, a, c, d) => {
    const v = S.cosineDecaySchedule({ initValue: i, decaySteps: t, alpha: a, dtype: d })(c);
    if (d === 'float32') assert.ok(isF32(v));
    const tol = 8 * (d === 'float32' ? 2 ** -23 : 2 ** -52) * Math.abs(i) + 2 ** -126; // + init rounded/flushed to float32
    assert.ok(Math.abs(v) <= Math.abs(i) + tol && Math.abs(v) >= Math.abs(a * i) - tol, `${v}`);
  }));
});

test('exponential decay with a floor never goes below it and never above init', () => {
  fc.assert(fc.property(fc.double({ min: 0.01, max: 10, noNaN: true }), steps, fc.double({ min: 0.01, max: 0.99, noNaN: true }), fc.boolean(), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (i, t, r, st, c) => {
    const end = i / 100;
    const v = S.exponentialDecay({ initValue: i, transitionSteps: t, decayRate: r, staircase: st, endValue: end })(c);
    assert.ok(isF32(v) && v >= Math.fround(end) && v <= Math.fround(i));
  }));
});

test('join: each schedule sees the steps since its boundary', () => {
  fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: -5, max: 2000 }), (raw, c) => {
    const boundaries = [...raw].sort((a, b) => a - b);
    const schedules = [0, ...boundaries].map((_, k) => S.linearSchedule({ initValue: k, endValue: k + 1, transitionSteps: 100 }));
    const joined = S.joinSchedules({ schedules, boundaries });
    let k = 0;
    while (k < boundaries.length && c >= boundaries[k]) k++;
    assert.equal(joined(c), schedules[k](k === 0 ? c : c - boundaries[k - 1]));
  }));
});

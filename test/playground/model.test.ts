import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FUNCTIONS } from '../../playground/src/functions.js';
import { Mlp, featureCount, features } from '../../playground/src/mlp.js';
import { makeDataset } from '../../playground/src/datasets.js';
import { buildOptimizer } from '../../playground/src/optimizer.js';
import { SCHEDULES, defaultValues, parseBoundariesText } from '../../playground/src/schedules.js';
import { DATASETS, FUNCTION_NAMES, defaultRun, defaultSettings, readSettings, settingsFromHash, settingsToHash } from '../../playground/src/settings.js';
import { runTrajectory } from '../../playground/src/trajectory.js';

// The playground's model code runs in Node too: what the page computes is checked here without a browser.

test('every schedule the playground offers builds from its defaults, and gives finite learning rates', () => {
  for (const [kind, spec] of Object.entries(SCHEDULES)) {
    const lr = spec.make(defaultValues(kind));
    for (const step of [0, 1, 10, 100, 1000]) {
      const v = typeof lr === 'number' ? lr : lr(step);
      assert.ok(Number.isFinite(v) && v >= 0, `${kind} at ${step}: ${v}`);
    }
  }
  assert.deepEqual([...(parseBoundariesText(' 10: 0.5,20:2 ') as Map<number, number>)], [[10, 0.5], [20, 2]]);
  assert.throws(() => parseBoundariesText('10 0.5'), /step: scale/);
});

test('the analytic gradients of the test functions match central differences', () => {
  for (const name of FUNCTION_NAMES) {
    const fn = FUNCTIONS[name];
    for (const [x, y] of [[0.3, -0.7], [-1.2, 1.1], [1.7, 0.4]]) {
      const h = 1e-6;
      const [gx, gy] = fn.grad(x, y);
      const nx = (fn.f(x + h, y) - fn.f(x - h, y)) / (2 * h), ny = (fn.f(x, y + h) - fn.f(x, y - h)) / (2 * h);
      assert.ok(Math.abs(gx - nx) <= 1e-4 * (1 + Math.abs(nx)) && Math.abs(gy - ny) <= 1e-4 * (1 + Math.abs(ny)), `${name} at (${x}, ${y}): [${gx}, ${gy}] vs [${nx}, ${ny}]`);
    }
    for (const [mx, my] of fn.minima) assert.ok(Math.abs(fn.f(mx, my) - fn.fMin) < 1e-9, `${name}: f at a minimum is f*`);
  }
});

test('the MLP backprop matches central differences of its loss', () => {
  const extra = true;
  const data = makeDataset('spirals', 40, 3);
  const f = featureCount(extra);
  const inputs = new Float32Array(40 * f);
  const row = new Float32Array(f);
  for (let i = 0; i < 40; i++) { features(data.x[2 * i], data.x[2 * i + 1], extra, row); inputs.set(row, i * f); }
  const mlp = new Mlp(f, [5, 4]);
  const params = mlp.init(11);
  const grads = mlp.zeros();
  const rows = Int32Array.from({ length: 40 }, (_, i) => i);
  mlp.lossAndGrad(params, grads, inputs, data.y, rows);
  const lossAt = () => mlp.lossAndGrad(params, mlp.zeros(), inputs, data.y, rows);
  for (const [name, g] of Object.entries(grads)) {
    for (const i of [0, g.length >> 1, g.length - 1]) {
      const p = params[name], keep = p[i], h = 1e-2;
      p[i] = keep + h; const up = lossAt();
      p[i] = keep - h; const down = lossAt();
      p[i] = keep;
      const numeric = (up - down) / (2 * h);
      assert.ok(Math.abs(numeric - g[i]) < 2e-3 + 0.02 * Math.abs(numeric), `${name}[${i}]: backprop ${g[i]}, numeric ${numeric}`);
    }
  }
});

test('the data sets are seeded, balanced and inside [-1, 1]²', () => {
  for (const name of DATASETS) {
    const a = makeDataset(name, 200, 5), b = makeDataset(name, 200, 5);
    assert.deepEqual(a.x, b.x);
    const ones = a.y.reduce((s, v) => s + v, 0);
    assert.ok(ones > 60 && ones < 140, `${name}: ${ones} of 200 in class 1`);
    assert.ok(a.x.every((v) => Math.abs(v) <= 1.1), name);
  }
});

test('settings from a URL: round trip, and hostile input falls back to the defaults', () => {
  const s = defaultSettings();
  s.fn = 'beale';
  s.runs[1].lr = { kind: 'sgdr', values: defaultValues('sgdr') };
  assert.deepEqual(settingsFromHash(settingsToHash(s)), s);
  const hostile = JSON.parse('{"__proto__": {"polluted": true}, "fn": "constructor", "steps": 1e9, "x0": "1", "runs": [{"lr": {"kind": "__proto__"}, "b1": null, "multiSteps": 0.5}, 3, 4, 5], "selected": 7, "hidden": "999,1"}');
  const read = readSettings(hostile);
  const d = defaultSettings();
  assert.equal(read.fn, d.fn);
  assert.equal(read.steps, d.steps);
  assert.equal(read.x0, d.x0);
  assert.equal(read.runs.length, 3);
  assert.deepEqual(read.runs[0], defaultRun(0));
  assert.equal(read.selected, 0);
  assert.equal(read.hidden, d.hidden);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(settingsFromHash('#%E0%A4%A'), d);
  assert.deepEqual(settingsFromHash('#[1,2]'), d);
});

test('a trajectory on the fused engine equals the pure path bit for bit, for every backend and each option', () => {
  const s = defaultSettings();
  s.fn = 'noisy';
  s.steps = 60;
  const runs = [defaultRun(0), defaultRun(1), defaultRun(2), { ...defaultRun(0), optimizer: 'adamaxw' as const, clipping: 'clip' as const, clipValue: 0.5 }];
  for (const backend of ['auto', 'wasm', 'js', 'interpreter'] as const) {
    s.backend = backend;
    for (const run of runs) {
      const r = runTrajectory(s, run);
      assert.ok(r.ok, r.ok ? '' : r.error);
      assert.equal(r.value.identical, true, `${backend} ${r.value.describe}`);
      assert.equal(r.value.backend, backend === 'auto' ? 'wasm' : backend, r.value.note ?? '');
    }
  }
  s.backend = 'reference';
  const pure = runTrajectory(s, runs[0]);
  assert.ok(pure.ok && pure.value.identical === undefined);
  const bad = runTrajectory(s, { ...defaultRun(0), b2: -1 });
  assert.ok(!bad.ok && /b2/.test(bad.error), 'an invalid option is reported with the library\'s message');
});

test('adamax with a learning rate of 0.2 takes the quadratic bowl to its minimum', () => {
  const s = defaultSettings();
  s.fn = 'bowl';
  [s.x0, s.y0] = FUNCTIONS.bowl.start;
  s.steps = 200;
  const run = defaultRun(0);
  run.lr.values.value = 0.2;
  const r = runTrajectory(s, run);
  assert.ok(r.ok);
  assert.ok(Math.hypot(r.value.x[200], r.value.y[200]) < 0.05);
  assert.equal(buildOptimizer(run).describe, 'adamax(0.2, b1=0.9, b2=0.999, eps=1e-8)');
});

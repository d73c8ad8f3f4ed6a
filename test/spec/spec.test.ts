import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'node:test';
import {
  OptaxError, adamax, adamaxw, chain, clip, clipByGlobalNorm, ema, fromSpec, injectHyperparams, masked, multiSteps, partition,
  scale, scaleBySchedule, scheduleFromSpec, setHyperparams, sgdrSchedule, toSpec, warmupCosineDecaySchedule, applyIfFinite,
  joinSchedules, linearSchedule, constantSchedule,
} from '../../src/index.js';
import { runCase } from '../transforms/vectors.js';

const roundTrip = (x: unknown): any => JSON.parse(JSON.stringify(x));

for (const mode of ['f32', 'f64'] as const) {
  const file = JSON.parse(readFileSync(fileURLToPath(new URL(`../../conformance/public_${mode}.json`, import.meta.url)), 'utf8'));
  const dtype = mode === 'f32' ? 'float32' : 'float64';

  test(`every optimizer of public_${mode}.json, described and rebuilt, gives the same results and the same description`, () => {
    let n = 0;
    for (const c of file.cases.filter((c: any) => c.kind === 'trajectory')) {
      const direct = fromSpec(c.optimizer, { dtype });
      const spec = toSpec(direct);
      const rebuilt = fromSpec(roundTrip(spec));
      assert.deepEqual(toSpec(rebuilt), spec, c.name);
      assert.equal(runCase(mode, c.name, rebuilt, setHyperparams), runCase(mode, c.name, direct, setHyperparams), c.name);
      assert.equal(runCase(mode, c.name, rebuilt, setHyperparams), undefined, c.name);
      n++;
    }
    assert.ok(n > 10);
  });

  test(`every schedule of public_${mode}.json, described and rebuilt, gives the same values`, () => {
    for (const c of file.cases.filter((c: any) => c.kind === 'schedule')) {
      const direct = scheduleFromSpec(c.schedule, { dtype });
      const rebuilt = scheduleFromSpec(roundTrip(toSpec(direct)));
      for (const step of c.steps) assert.ok(Object.is(rebuilt(step), direct(step)), `${c.name} at ${step}`);
    }
  });
}

test('compositions of every combinator describe themselves, with options written under optax names', () => {
  const lr = warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.1, warmupSteps: 3, decaySteps: 10, dtype: 'float64' });
  const tx = chain(
    applyIfFinite(clipByGlobalNorm(1), { maxConsecutiveErrors: 3 }),
    masked(clip(0.5), { w: true, b: false }),
    partition({ a: adamaxw(lr, { weightDecay: new Float32Array([0.1]), mask: { w: true, b: false } }), b: ema(0.9, { debias: false }) }, { w: 'a', b: 'b' }),
    multiSteps(scale(2), { everyKSchedule: 2, useGradMean: false }),
    scaleBySchedule(sgdrSchedule({ cosineKwargs: [{ initValue: 0, peakValue: 1, warmupSteps: 1, decaySteps: 4 }] })),
    injectHyperparams(adamax)({ learningRate: joinSchedules({ schedules: [linearSchedule({ initValue: 0, endValue: 1, transitionSteps: 2 }), constantSchedule({ value: 1 })], boundaries: [2] }) }),
  );
  const spec = toSpec(tx);
  const again = toSpec(fromSpec(roundTrip(spec)));
  assert.deepEqual(again, spec);
  const adamaxwSpec = (spec.args!.transforms as any[])[2].args.transforms.a;
  assert.equal(adamaxwSpec.args.learning_rate.schedule.args.dtype, 'float64');
  assert.deepEqual(adamaxwSpec.args.weight_decay, { $array: 'float32', shape: [1], b64: 'zczMPQ==' });

  // The rebuilt transformation computes the same thing, step after step.
  const params = { w: new Float32Array([1, -2, 3]), b: new Float32Array([0.5]) };
  const a = tx, b = fromSpec(roundTrip(spec));
  let sa = a.init(params), sb = b.init(params);
  for (let i = 0; i < 6; i++) {
    const g = { w: new Float32Array([0.3 * i, -1, 2]), b: new Float32Array([i]) };
    const [ua, na] = a.update(g, sa, params);
    const [ub, nb] = b.update(g, sb, params);
    assert.deepEqual(ub, ua);
    sa = na; sb = nb;
  }
});

test('what is not data is refused with a reason: user functions, function masks, non-finite numbers', () => {
  assert.throws(() => toSpec(adamax((c: number) => 0.1 / (c + 1))), /toSpec: spec.learning_rate is a schedule optax-ts did not build/);
  assert.throws(() => toSpec({ name: 'mine', init: () => ({}), update: (u: any, s: any) => [u, s] } as any), /did not build/);
  assert.throws(() => toSpec(masked(scale(1), () => ({ w: true }))), /a function: pass a tree instead/);
  assert.throws(() => toSpec(clip(Infinity)), /Infinity, which JSON cannot hold/);
  assert.throws(() => toSpec(scaleBySchedule(constantSchedule({ value: 1 }), { check: () => undefined })), /option 'check' cannot be described/);
});

test('hostile specs fail with an OptaxError naming where, and build nothing', () => {
  const bad: [unknown, RegExp][] = [
    [{ name: '__proto__' }, /transformation '__proto__' is not available/],
    [{ name: 'constructor' }, /transformation 'constructor' is not available/],
    [JSON.parse('{"name":"adamax","args":{"learning_rate":0.1,"__proto__":{"b1":2}}}'), /unknown argument '__proto__'/],
    [{ name: 'adamax', args: { learning_rate: 0.1, lr: 1 } }, /unknown argument 'lr'; it takes learning_rate, b1, b2, eps/],
    [{ name: 'linear_schedule', args: {} }, /'linear_schedule' is a schedule, expected a transform/],
    [{ name: 'adamax', args: { learning_rate: { schedule: { name: 'adamax' } } } }, /spec\(adamax\).learning_rate.schedule: 'adamax' is a transform, expected a schedule/],
    [{ name: 'adamax', args: { learning_rate: { sched: 1 } } }, /must be a number, boolean, string, array or \{schedule: spec\}/],
    [{ name: 'chain', args: { transforms: 'x' } }, /transforms must be a list/],
    [{ name: 'adamax', args: { learning_rate: 0.1, b1: { $array: 'float32', shape: [1e9, 1e9], b64: 'AAAA' } } }, /too much data|needs/],
    [{ name: 'adamax', args: { learning_rate: 0.1, b1: { $array: 'float16', shape: [1], b64: 'AAA=' } } }, /unknown dtype/],
    [{ name: 'inject_hyperparams', args: { inner: 'chain', hyperparams: {} } }, /inner must name a factory inject_hyperparams takes/],
    [null, /must be \{name, args\}/],
  ];
  for (const [spec, re] of bad) assert.throws(() => fromSpec(spec as any), (e: unknown) => e instanceof OptaxError && re.test(e.message), JSON.stringify(spec));
  let deep: any = { name: 'identity' };
  for (let i = 0; i < 200; i++) deep = { name: 'chain', args: { transforms: [deep] } };
  assert.throws(() => fromSpec(deep), /nested more than 64 deep/);
});

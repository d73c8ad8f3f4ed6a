// Type-level tests (item 14): this file is compiled by `tsc -p tsconfig.json` in npm test; each
// `@ts-expect-error` line must fail to compile (tsc reports an unused one), the rest must compile.
// The runtime test only makes sure the typed calls also run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type ChainState, type GradientTransformation, type ScaleByAdamaxState, type ScaleByScheduleState, adamax, applyUpdates, chain, compile,
  injectHyperparams, linearSchedule, masked, partition, scale, scaleByAdamax, scaleByLearningRate, scaleBySchedule, treeMap, treeZerosLike,
} from '../../src/index.js';

interface Layer { w: Float32Array; b: Float32Array }
interface ModelParams { layers: Layer[]; head: Float64Array | null }
// A class used as a type (instances of classes are not trees at run time: a tree's dicts are plain objects).
class Linear { w = new Float32Array(4); b = new Float32Array(2); }
const linear = (): Linear => ({ w: new Float32Array(4), b: new Float32Array(2) });

function typeChecks(): void {
  // Params typed as an interface or a class (no index signature) are accepted everywhere.
  const params: ModelParams = { layers: [{ w: new Float32Array(2), b: new Float32Array(1) }], head: null };
  const tx = adamax(0.1);
  const state = tx.init(params);
  const [updates] = tx.update(params, state, params);
  const kept: ModelParams = updates; // update returns the updates' own type
  applyUpdates(params, kept);
  compile(tx, linear()).dispose();
  const zeros: Linear = treeZerosLike(linear());

  // chain's state is the tuple of its parts' states.
  const c = chain(scaleByAdamax(), scaleBySchedule((n) => 1 / (n + 1)));
  const cs = c.init(params);
  const first: ScaleByAdamaxState = cs[0];
  const second: ScaleByScheduleState = cs[1];
  const count: number = cs[0].count + cs[1].count;
  const tuple: ChainState<[GradientTransformation<ScaleByAdamaxState>]> = [first];

  // injectHyperparams takes the factory's own arguments, each number possibly a schedule.
  injectHyperparams(adamax)(0.1, { b1: 0.9 });
  injectHyperparams(adamax)(linearSchedule({ initValue: 0.1, endValue: 0, transitionSteps: 10 }), { b1: (n: number) => 0.9 });
  injectHyperparams(scale)(2);
  injectHyperparams(adamax)({ learningRate: 0.1 }); // all by name
  const injected = injectHyperparams(scaleByAdamax)({ b1: 0.5 }).init(params);
  const innerCount: number = injected.inner_state.count;

  // treeMap returns the tree's own structure with the leaves mapped.
  const norms = treeMap(([x]: Float32Array[]) => x.length, [{ a: new Float32Array(2), b: [new Float32Array(1), null] as const }]);
  const n: number = norms.a + (norms.b[0] ?? 0);

  // Not trees at all.
  // Mask and label functions may take the params' own type.
  masked(scale(1), (p: ModelParams) => ({ layers: p.layers.map(() => true), head: false }));
  partition({ a: scale(1) }, (p: Linear) => ({ w: 'a', b: 'a' }));
  void [zeros, second, count, tuple, innerCount, n];
}

/** What must not compile (never called: some of it would throw at run time). */
export function mustNotCompile(): void {
  const params: ModelParams = { layers: [], head: null };
  const tx = adamax(0.1);
  const cs = chain(scaleByAdamax(), scaleBySchedule((n) => 1 / (n + 1))).init(params);
  const norms = treeMap(([x]: Float32Array[]) => x.length, [{ a: new Float32Array(2), b: [new Float32Array(1), null] as const }]);
  // @ts-expect-error: a chain of two has no third state
  cs[2].count;
  // @ts-expect-error: the first state is scale_by_adamax's, which has no 'step'
  cs[0].step;
  // @ts-expect-error: a learning rate is a number or a schedule, not a string
  injectHyperparams(adamax)('0.1');
  // @ts-expect-error: b1 is a number (or a schedule), not a boolean
  injectHyperparams(adamax)(0.1, { b1: true });
  // @ts-expect-error: leaves were mapped to numbers
  norms.a.fill(0);
  // @ts-expect-error: no key 'c' in the mapped tree
  norms.c;
  // @ts-expect-error: a number is not a tree
  tx.init(5);
  // @ts-expect-error: a string is not a tree
  compile(scale(1), 'params');
  // @ts-expect-error: a learning rate is not a string
  scaleByLearningRate('0.1');
}

test('item 14: the type-level checks compile (tsc) and the typed calls run', () => {
  typeChecks();
  assert.ok(true);
});

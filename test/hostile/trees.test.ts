import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type GradientTransformation, MAX_TREE_DEPTH, OptaxError, ShapedArray, adamax, adamaxw, addDecayedWeights, applyIfFinite, chain, clipByGlobalNorm, compile, ema,
  injectHyperparams, linearSchedule, masked, partition, scale, scaleByAdamax, scaleByLearningRate, scaleBySchedule,
  treeLeaves, treeMap, treeUnflatten,
} from '../../src/index.js';

/** Asserts `fn` throws an OptaxError whose message matches `re`. */
function rejects(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OptaxError, `expected an OptaxError, got ${String(e)}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

test('item 4: a __proto__ key (as JSON.parse makes it) is a leaf like any other', () => {
  const params = JSON.parse('{"__proto__": [1, 2], "w": [3]}') as Record<string, unknown>;
  const tree = Object.fromEntries(Object.keys(params).map((k) => [k, new Float32Array(params[k] as number[])]));
  assert.deepEqual(Object.keys(tree), ['__proto__', 'w']);
  const doubled = treeMap(([x]: Float32Array[]) => x.map((v) => 2 * v), [tree]);
  assert.deepEqual(Object.keys(doubled), ['__proto__', 'w']);
  assert.equal(Object.getPrototypeOf(doubled), Object.prototype);
  assert.deepEqual(Array.from(Object.getOwnPropertyDescriptor(doubled, '__proto__')!.value as Float32Array), [2, 4]);
  const tx = adamax(0.1);
  const [u, s] = tx.update(tree, tx.init(tree), tree);
  assert.equal(Object.keys(u).length, 2);
  assert.equal(treeLeaves((s as any)[0].mu).leaves.length, 2);
  assert.equal(treeUnflatten(tree, treeLeaves(tree).leaves).__proto__, tree.__proto__);
  const stepper = compile(adamax(0.1), tree);
  try {
    assert.deepEqual(Object.keys(stepper.params), ['__proto__', 'w']);
  } finally {
    stepper.dispose();
  }
});

test('item 4: inherited names (constructor, toString) are not keys', () => {
  const params = { w: new Float32Array(1) };
  rejects(() => masked(scale(2), { constructor: true } as never).init(params), /^mask: mask does not match params/);
  rejects(() => partition({ a: scale(1) }, { toString: 'a' } as never).init(params), /^param_labels: /);
  const tx = scaleByAdamax();
  rejects(() => tx.update({ w: new Float32Array(1) }, { count: 0, mu: {}, nu: {}, constructor: 1 } as never), /this state does not belong to scale_by_adamax/);
  rejects(() => tx.update({ w: new Float32Array(1) }, { count: 0, mu: { w: new Float32Array(1) } } as never), /expected keys \{count, mu, nu\}/);
  rejects(() => masked(scale(2), { w: true }).update(params, {} as never), /does not belong to masked/);
});

test('item 9: depth beyond MAX_TREE_DEPTH is an OptaxError; 3,000 levels do not overflow the stack', () => {
  const nest = (n: number): unknown => { let t: unknown = new Float32Array(1); for (let i = 0; i < n; i++) t = { a: t }; return t; };
  assert.equal(treeLeaves(nest(MAX_TREE_DEPTH)).leaves.length, 1);
  rejects(() => treeLeaves(nest(MAX_TREE_DEPTH + 1)), /more than 512 levels deep/);
  rejects(() => treeLeaves(nest(3000)), /MAX_TREE_DEPTH/);
  rejects(() => adamax(0.1).init(nest(3000) as never), /MAX_TREE_DEPTH/);
  rejects(() => masked(scale(1), nest(3000) as never).init(nest(3000) as never), /^mask\.a\.a.*MAX_TREE_DEPTH/);
});

test('item 9: work is linear in the tree size (property reads counted, not timed)', () => {
  // A proxy passes as a dict node and counts every read the library makes of it.
  let reads = 0;
  const counted = <T extends object>(o: T): T => new Proxy(o, {
    get: (t, k, r) => { reads++; return Reflect.get(t, k, r); },
    getOwnPropertyDescriptor: (t, k) => { reads++; return Reflect.getOwnPropertyDescriptor(t, k); },
    ownKeys: (t) => { reads++; return Reflect.ownKeys(t); },
    has: (t, k) => { reads++; return Reflect.has(t, k); },
  });
  const wide = (n: number) => counted(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, new Float32Array(1)])));
  const deep = (n: number) => { let t: unknown = new Float32Array(1); for (let i = 0; i < n; i++) t = counted({ a: t }); return t; };
  for (const make of [wide, deep]) {
    const per = (n: number) => {
      const t = make(n);
      reads = 0;
      treeMap(([x]: Float32Array[]) => x, [t, t]);
      adamax(0.1).update(t as never, adamax(0.1).init(t as never), t as never);
      return reads / n;
    };
    const small = per(100), large = per(make === deep ? 500 : 10000);
    assert.ok(large <= small * 1.1 + 1, `${make.name}: ${small.toFixed(1)} reads per node at 100, ${large.toFixed(1)} at the larger size`);
  }
});

test('item 11: cyclic, sparse, getter and forged trees give OptaxErrors naming the path', () => {
  const cyclic: Record<string, unknown> = { w: new Float32Array(1) };
  cyclic.self = { back: cyclic };
  rejects(() => treeLeaves(cyclic), /^params\.self\.back: this node contains itself/);
  // eslint-disable-next-line no-sparse-arrays
  rejects(() => treeLeaves({ l: [new Float32Array(1), , new Float32Array(1)] }), /^params\.l\[1\]: this list has a hole/);
  rejects(() => treeLeaves({ get w() { return new Float32Array(1); } }), /^params\.w: a getter or setter/);
  const faked = new Float32Array(2);
  Object.defineProperty(faked, 'length', { value: 3 });
  rejects(() => scaleByAdamax().init({ w: faked }), /^params\.w: not a valid leaf: Float32Array with a redefined length/);
  const forged = Object.create(ShapedArray.prototype);
  rejects(() => treeLeaves({ w: forged }), /^params\.w: not a valid leaf: an object posing as a ShapedArray/);
});

test('item 11: ShapedArray accepts only float data and integer shapes, with OptaxErrors', () => {
  rejects(() => new ShapedArray(new Int32Array(2) as never, [2]), /data must be a Float32Array or Float64Array, got Int32Array/);
  rejects(() => new ShapedArray(new BigInt64Array(2) as never, [2]), /got BigInt64Array/);
  rejects(() => new ShapedArray('ab' as never, [2]), /got string "ab"/);
  rejects(() => new ShapedArray(new Float32Array(2), [2.5] as never), /non-negative integers/);
  rejects(() => new ShapedArray(new Float32Array(2), [3]), /holds 3 elements but data has 2/);
  const a = new ShapedArray(new Float32Array(4), [2, 2]);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.shape));
});

test('item 11: a malformed state is reported under state, a missing key reads the same from update and step', () => {
  const params = { a: new Float32Array(2), b: new Float32Array(2) };
  const tx = scaleByAdamax();
  const state = tx.init(params);
  rejects(() => tx.update(params, { ...state, nu: { a: new Float32Array(2), b: [new Float32Array(2)] } }), /^state\.nu\.b: state\.nu does not match state\.mu/);
  rejects(() => tx.update(params, { ...state, mu: { a: new Float32Array(2), b: 'x' } } as never), /^state\.mu\.b: expected an array leaf/);
  rejects(() => tx.update(params, { ...state, nu: { a: new Float32Array(2), b: new Float64Array(2) } }), /^state\.nu\.b: dtype mismatch: state\.nu leaf is float64, state\.mu leaf is float32/);
  const missing = /^grads: grads does not match (state\.mu|params): missing key\(s\) b$/;
  rejects(() => tx.update({ a: params.a }, state), missing);
  const stepper = compile(chain(scaleByAdamax(), scale(-0.1)), params);
  try {
    rejects(() => stepper.step({ a: params.a } as never), missing);
  } finally {
    stepper.dispose();
  }
  // Same leaf counts, different shapes: the message says what differs.
  rejects(() => tx.update({ a: new ShapedArray(new Float32Array(2), [1, 2]), b: params.b }, tx.init({ a: new ShapedArray(new Float32Array(2), [2, 1]), b: params.b })),
    /shape mismatch: grads leaf has shape \[1, 2\], state\.mu leaf has shape \[2, 1\]/);
});

test('item 11: injectHyperparams rejects a NaN, fractional or negative count', () => {
  const tx = injectHyperparams(adamax)({ learningRate: 0.1 });
  const params = { w: new Float32Array(1) };
  const state = tx.init(params);
  for (const count of [NaN, -1, 2.5, 2 ** 31, '1']) {
    rejects(() => tx.update(params, { ...state, count } as never, params), /count must be a non-negative int32/);
  }
});

test('item 11: clipByGlobalNorm rejects a state that is not its own', () => {
  const tx = clipByGlobalNorm(1);
  const g = { w: new Float32Array([3, 4]) };
  for (const state of [null, [], { count: 0 }, 5]) rejects(() => tx.update(g, state as never), /does not belong to clip_by_global_norm/);
});

test('item 11: a schedule returning a string is rejected wherever schedules are called', () => {
  const bad = (() => '0.1') as never;
  const p = { w: new Float32Array(1) };
  const txs: GradientTransformation<any>[] = [adamax(bad), scaleBySchedule(bad), addDecayedWeights(bad), injectHyperparams(adamax)({ learningRate: bad })];
  for (const tx of txs) {
    rejects(() => tx.update(p, tx.init(p), p), /schedule returned string "0\.1" at step 0, expected a number/);
  }
});

test('item 11: options objects: null, unknown keys, getters and inherited keys never pass silently', () => {
  const p = { w: new Float32Array(1) };
  rejects(() => compile(adamax(0.1), p, null as never), /^compile: options must be a plain object, got null/);
  rejects(() => scaleByAdamax({ beta1: 0.5 } as never), /^scale_by_adamax: unknown option beta1; the options are b1, b2, eps/);
  rejects(() => adamaxw(0.1, JSON.parse('{"__proto__": {"b1": 5}}')), /unknown option __proto__/);
  rejects(() => ema(0.9, { get debias() { return true; } }), /option debias is a getter/);
  rejects(() => applyIfFinite(scale(1), null as never), /options must be a plain object/);
  rejects(() => scaleByLearningRate(0.1, { flipSign: 'no' } as never), /flipSign must be a boolean/);
  rejects(() => linearSchedule(null as never), /^linearSchedule: expected an options object, got null/);
  rejects(() => linearSchedule({ initValue: 1, endValue: '0' as never, transitionSteps: 1 }), /endValue must be a number/);
});

/**
 * jax-js's ownership rules in the adapter: every argument is consumed, results are owned by the
 * caller, nothing is leaked. jax-js has no public count of live device buffers, so this file counts
 * them by watching its backends' buffer tables (a Map of slot -> {ptr, size, ref}), from before jax-js
 * creates them.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

const tables = new Set<Map<unknown, unknown>>();
const originalSet = Map.prototype.set;
Map.prototype.set = function set<K, V>(this: Map<K, V>, key: K, value: V): Map<K, V> {
  if (value && typeof value === 'object' && 'ptr' in value && 'size' in value && 'ref' in value) tables.add(this as Map<unknown, unknown>);
  return originalSet.call(this, key, value) as Map<K, V>;
};
/** Device buffers alive now (every backend). */
const liveBuffers = (): number => [...tables].reduce((n, m) => n + m.size, 0);

const jax = await import('@jax-js/jax');
const { adamax, adamaxw, chain, clipByGlobalNorm, exponentialDecay, partition, scale, warmupCosineDecaySchedule } = await import('../../src/index.js');
const { applyUpdates, toJaxJs } = await import('../../src/jax-js/index.js');
type A = import('@jax-js/jax').numpy.Array;
const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

const shapes = { w: [4, 3], b: [3] };
const tree = (v: number): Record<string, A> => Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, np.full(s, v)]));

const TRANSFORMATIONS = {
  adamaxwWarmupCosine: () => adamaxw(warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.1, warmupSteps: 3, decaySteps: 30 }), { weightDecay: 0.01, mask: { w: true, b: false } }),
  clippedExponential: () => chain(clipByGlobalNorm(1), adamax(exponentialDecay({ initValue: 0.1, transitionSteps: 5, decayRate: 0.9 }))),
  partition: () => partition({ a: adamax(0.01), b: scale(-0.1) }, { w: 'a', b: 'b' }),
};

test('toJaxJsSchedule consumes its count (as jax-js functions do) and returns an array the caller owns', async () => {
  const { linearSchedule } = await import('../../src/index.js');
  const { toJaxJsSchedule } = await import('../../src/jax-js/index.js');
  const lr = toJaxJsSchedule(linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10 }));
  const count = np.array(new Int32Array([1, 2]));
  const kept = lr(count.ref);
  assert.equal(count.refCount, 1);
  assert.equal(kept.refCount, 1);
  const used = lr(count);
  assert.equal(count.refCount, 0);
  kept.dispose();
  used.dispose();
  lr.dispose();
});

test('update consumes its arguments and hands back arrays the caller owns (refCount 1); params passed by .ref stay the caller\'s', async () => {
  for (const [name, make] of Object.entries(TRANSFORMATIONS)) {
    const opt = toJaxJs(make());
    const params = tree(1);
    const state = opt.init(jax.tree.ref(params));
    for (const p of Object.values(params)) assert.equal(p.refCount, 1, `${name}: init took the params' .ref and gave it back`);
    const grads = tree(0.5);
    const stateLeaves = jax.tree.leaves(state) as A[];
    const [updates, next] = opt.update(grads, state, jax.tree.ref(params));
    for (const g of Object.values(grads)) assert.equal(g.refCount, 0, `${name}: the gradient was consumed`);
    for (const s of stateLeaves) assert.equal(s.refCount, 0, `${name}: the old state was consumed`);
    for (const p of Object.values(params)) assert.equal(p.refCount, 1, `${name}: params stay the caller's`);
    for (const a of [...Object.values(updates), ...(jax.tree.leaves(next) as A[])]) assert.equal(a.refCount, 1, `${name}: results are the caller's`);
    const newParams = applyUpdates(params, updates);
    for (const a of [...Object.values(params), ...Object.values(updates)]) assert.equal(a.refCount, 0, `${name}: applyUpdates consumed both`);
    jax.tree.dispose(newParams as any);
    jax.tree.dispose(next as any);
    opt.dispose();
  }
});

test('no device buffer is leaked: the live count is flat over many steps, eagerly and jitted, and back to where it was after dispose', async () => {
  for (const [name, make] of Object.entries(TRANSFORMATIONS)) {
    for (const jit of [false, true]) {
      const before = liveBuffers();
      const opt = toJaxJs(make());
      const stepFn = (p: Record<string, A>, s: unknown, g: Record<string, A>): [Record<string, A>, unknown] => {
        const [u, ns] = opt.update(g, s, jax.tree.ref(p));
        return [applyUpdates(p, u), ns];
      };
      const step = jit ? (jax.jit(stepFn as any) as unknown as typeof stepFn) : stepFn;
      let params = tree(1);
      let state = opt.init(jax.tree.ref(params));
      const run = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) [params, state] = step(params, state, tree(0.25));
        await jax.blockUntilReady(params);
      };
      await run(3); // compiles, and settles what jax-js caches
      const settled = liveBuffers();
      await run(jit ? 20 : 5);
      assert.equal(liveBuffers(), settled, `${name} (${jit ? 'jit' : 'eager'}): buffers alive after more steps`);
      jax.tree.dispose(params as any);
      jax.tree.dispose(state as any);
      opt.dispose();
      if (!jit) assert.equal(liveBuffers(), before, `${name} (eager): buffers alive after dispose`);
    }
  }
});

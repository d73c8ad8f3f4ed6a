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
const { adamax, adamaxw, applyIfFinite, chain, clipByGlobalNorm, exponentialDecay, multiSteps, partition, scale, warmupCosineDecaySchedule } = await import('../../src/index.js');
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
  // Traced inner steps (their update ends with a constant factor: a pre-scale value MultiSteps reads).
  applyIfFinite: () => applyIfFinite(adamax(0.05), { maxConsecutiveErrors: 1 }),
  multiSteps: () => multiSteps(adamax(0.05), { everyKSchedule: 2 }),
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
        // The state too: apply_if_finite's counters feed no parameter, and eagerly their pending
        // computations (jax-js runs an operation when a result is needed) would pile up unrun.
        await jax.blockUntilReady([params, state] as any);
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

test('an array already freed (consumed by an earlier call, or disposed) or a typed array where a jax-js array belongs: an OptaxError naming the tree path, before anything is consumed, eagerly and inside jit', async () => {
  const { OptaxError } = await import('../../src/index.js');
  const named = (pattern: RegExp) => (e: unknown) => e instanceof OptaxError && pattern.test(e.message);
  const FREED = /already freed \(consumed by an earlier jax-js call/;
  for (const [name, make] of Object.entries(TRANSFORMATIONS)) {
    const opt = toJaxJs(make());
    const params = tree(1);
    let state: any = opt.init(jax.tree.ref(params));
    // A gradient consumed by an earlier update, passed again.
    const grads = tree(0.5);
    const [u1, s1] = opt.update(grads, state, jax.tree.ref(params));
    jax.tree.dispose(u1 as any);
    state = s1;
    const reused = { w: grads.w, b: np.full([3], 0.5) };
    assert.throws(() => opt.update(reused, state, jax.tree.ref(params)), named(new RegExp(`^grads\\.w: .*${FREED.source}`)), name);
    // Nothing was consumed: the state and params are still usable.
    for (const a of [...jax.tree.leaves(state) as A[], ...Object.values(params)]) assert.ok(a.refCount >= 1, `${name}: untouched`);
    assert.equal((reused.b as A).refCount, 1, `${name}: the live gradient was not consumed`);
    (reused.b as A).dispose();
    // Typed arrays where jax-js arrays belong, in each tree.
    const typed = () => ({ w: np.full([4, 3], 0.5), b: new Float32Array(3) }) as any;
    for (const [args, root] of [[[typed(), jax.tree.ref(state), jax.tree.ref(params)], 'grads'], [[tree(0.5), jax.tree.ref(state), typed()], 'params']] as const) {
      assert.throws(() => opt.update(...(args as [any, any, any])), named(new RegExp(`^${root}\\.b: expected a jax-js array .* got Float32Array\\(3\\)`)), `${name} ${root}`);
    }
    // A state leaf the caller disposed (each reference the calls above took back included).
    const leaves = jax.tree.leaves(state) as A[];
    const victim = leaves[leaves.length - 1];
    while (victim.refCount > 0) victim.dispose();
    assert.throws(() => opt.update(tree(0.5), state, jax.tree.ref(params)), named(new RegExp(`^state[.\\[].*${FREED.source}`)), name);
    for (const a of leaves.slice(0, -1)) while (a.refCount > 0) a.dispose();
    jax.tree.dispose(params as any);
    opt.dispose();
  }
  // Inside jit: a gradient the step consumed (a tracer freed) before handing it to update.
  const opt = toJaxJs(adamax(0.1));
  const params = tree(1);
  const state = opt.init(jax.tree.ref(params));
  const step = jax.jit((p: any, s: any, g: any) => {
    np.sum(g.w).dispose(); // consumes g.w
    return opt.update(g, s, p);
  });
  assert.throws(() => step(params, state, tree(0.5)), named(new RegExp(`^grads\\.w: .*${FREED.source}`)));
  // applyUpdates too.
  const freed = tree(0.5);
  freed.w.dispose();
  assert.throws(() => applyUpdates(tree(1), freed), named(new RegExp(`^updates\\.w: .*${FREED.source}`)));
  opt.dispose();
});

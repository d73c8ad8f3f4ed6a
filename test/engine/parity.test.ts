/**
 * The fused engine is bit-identical to the reference path (tx.update + applyUpdates), params AND
 * state, after every step: random trees (nesting, nulls, ShapedArray leaves, empty and odd lengths,
 * both dtypes), random chains (adamax with extreme decays, scale, learning rates and schedules,
 * identity, setToZero, weight decay, clip, masked, partition, clip_by_global_norm first), hostile
 * values (NaN, ±Inf, ±0, subnormals, 1e38), on every backend, with 1 and 2 threads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compile } from '../../src/engine/compile.js';
import type { KernelBackend } from '../../src/engine/executor.js';
import type { Stepper } from '../../src/engine/stepper.js';
import type { Tree } from '../../src/tree/tree.js';
import { withFlushedSubnormals } from '../../src/kernel/interpret.js';
import { nearSubnormal } from './random-programs.js';
import { DEFAULT_JOURNAL_BLOCK, setJournalBlock } from '../../src/engine/undo-journal.js';
import { type Described, ReferenceRun, arrayHyperChainFor, broadcastSkeleton, hostileValue, type Skeleton, assertBitEqual, chainFor, cloneTree, finiteTreeOf, guardedChainFor, multiStepsChainFor, nestedGuardChainFor, partitionWithOpaqueFor, rootSkeleton, treeOf } from './support.js';

const BACKENDS: readonly KernelBackend[] = ['interpreter', 'js', 'wasm'];
/** Multiplies the number of runs (e.g. OPTAX_ENGINE_RUNS=20 for a long soak); the suite stays fast by default. */
const RUNS = Number(process.env.OPTAX_ENGINE_RUNS ?? 1);

const scenario = rootSkeleton.chain((s) => fc.record({
  text: fc.constant(''),
  chain: chainFor(s),
  params: treeOf(s),
  grads: fc.array(treeOf(s), { minLength: 1, maxLength: 3 }),
}));

/**
 * Steps the reference and every stepper with each gradient tree, comparing params and state bit for
 * bit after every step; where the reference throws, each stepper throws the same error.
 */
function stepInLockstep(reference: ReferenceRun, steppers: readonly Stepper<any, any>[], grads: readonly Tree[], text: string): void {
  grads.forEach((g, step) => {
    const error = attempt(() => reference.step(g));
    for (const s of steppers) {
      const where = `${text} on ${s.backend}/${s.threads}t, step ${step + 1}`;
      if (error) assert.throws(() => s.step(g), { message: error.message }, where);
      else s.step(g);
      assertBitEqual(s.params, reference.params, `${where}: params`);
      assertBitEqual(s.state, reference.state, `${where}: state`);
    }
  });
}

for (const threads of [1, 2]) {
  test(`every backend matches the reference bit for bit, ${threads} thread(s)`, () => {
    fc.assert(fc.property(scenario, ({ chain, params, grads }) => {
      const reference = new ReferenceRun(chain.tx, cloneTree(params));
      const steppers = BACKENDS.map((backend) => compile(chain.tx, params, { backend, threads, minElementsPerThread: 1 }));
      try {
        for (const s of steppers) {
          if (s.backend !== 'reference' && s.backend !== BACKENDS[steppers.indexOf(s)]) throw new Error(`asked for ${BACKENDS[steppers.indexOf(s)]}, got ${s.backend}`);
          // Every drawn chain fuses but where a mask or label selects nothing (only the reference
          // path reproduces what the inner transformation then does) and on a null tree.
          if (s.backend === 'reference' && params !== null && !/selects no part/.test(s.referenceReason!)) throw new Error(`${chain.text} was not fused: ${s.referenceReason}`);
        }
        stepInLockstep(reference, steppers, grads, chain.text);
      } finally {
        for (const s of steppers) s.dispose();
      }
    }), { numRuns: Math.round((threads === 1 ? 150 : 40) * RUNS) });
  });
}

/** A drawn case: a transformation, initial params and the gradients of each step. */
type Scenario = { chain: Described; params: Tree; grads: Tree[] };

/**
 * Draws `runs` scenarios (`runs` for 1 thread, `[1, 2]` pairs) and steps the reference and a stepper
 * per backend in lockstep. Every drawn transformation must fuse but on a null tree or for a reason
 * `allowed` matches (always allowed: a mask or label selecting nothing, which only the reference path
 * reproduces).
 */
function holdsBitIdentical(name: string, scenarios: fc.Arbitrary<Scenario>, runs: readonly [number, number], allowed?: RegExp): void {
  for (const threads of [1, 2]) {
    test(`${name}: every backend matches the reference bit for bit, ${threads} thread(s)`, () => {
      fc.assert(fc.property(scenarios, ({ chain, params, grads }) => {
        const reference = new ReferenceRun(chain.tx, cloneTree(params));
        const steppers = BACKENDS.map((backend) => compile(chain.tx, params, { backend, threads, minElementsPerThread: 1 }));
        try {
          for (const s of steppers) {
            const why = s.referenceReason;
            if (s.backend === 'reference' && params !== null && !/selects no part/.test(why!) && !allowed?.test(why!)) throw new Error(`${chain.text} was not fused: ${why}`);
          }
          stepInLockstep(reference, steppers, grads, chain.text);
        } finally {
          for (const s of steppers) s.dispose();
        }
      }), { numRuns: Math.round(runs[threads - 1] * RUNS) });
    });
  }
}

/** Random trees with the transformations `chainOf` draws for them, and 1 to `steps` gradient trees. */
function scenariosOf(chainOf: (s: Skeleton) => fc.Arbitrary<Described>, steps: number): fc.Arbitrary<Scenario> {
  return rootSkeleton.chain((s) => fc.record({
    chain: chainOf(s),
    params: treeOf(s),
    grads: fc.array(fc.oneof(treeOf(s), finiteTreeOf(s), finiteTreeOf(s)), { minLength: 1, maxLength: steps }),
  }));
}

// applyIfFinite around a chain: a finiteness check, then the chain with optax's traced numerics
// (XLA's rewrites and fused multiply-adds, which every backend emulates exactly).
holdsBitIdentical('applyIfFinite around random chains', scenariosOf(guardedChainFor, 6), [120, 30]);

// applyIfFinite inside a chain, a mask or a partition: its check over the updates it receives (the
// gradients, or their clipped values), a skipped step a second pass whose zero update flows on.
holdsBitIdentical('applyIfFinite nested in random chains', scenariosOf(nestedGuardChainFor, 6), [100, 30]);

// A root partition with a group that cannot fuse: that group on the reference path (its updates
// written into the arena), the others fused, in one step. Where no group fuses (every label selects
// nothing or the opaque one), the whole transformation runs on the reference path.
holdsBitIdentical('partition with a group on the reference path', scenariosOf(partitionWithOpaqueFor, 5), [80, 25], /opaque_scale cannot be fused/);

// MultiSteps around a chain: the accumulator in the arena, an accumulating pass at each mini-step and
// the inner chain (traced, as in optax's lax.cond) at each emitting one; optax's float32 accumulator
// over float64 params a float32 stream of the float64 pass. Not fused: float64 accumulators for
// float32 params, and clipByGlobalNorm inside (its norm is over the accumulated gradients).
holdsBitIdentical('multiSteps around random chains', scenariosOf(multiStepsChainFor, 7), [100, 30], /float64 accumulator over float32 params|clip_by_global_norm cannot be fused here/);

// Array (broadcast) hyperparameters: each a stream of the arena, the array broadcast to every leaf
// and rewritten each step (its values may change with the count: adamax's bias correction).
holdsBitIdentical('array hyperparameters in random chains', fc.integer({ min: 2, max: 5 }).chain((k) => broadcastSkeleton(k).chain((s) => fc.record({
  chain: arrayHyperChainFor(s, k),
  params: treeOf(s),
  grads: fc.array(fc.oneof(treeOf(s), finiteTreeOf(s)), { minLength: 1, maxLength: 4 }),
}))), [80, 25]);

// XLA's subnormal mode (compile's `subnormals: 'flush'`): every backend and thread count against the
// reference path under withFlushedSubnormals, on values around the smallest normal (whose updates,
// moments and new params underflow), hostile ones mixed in. The steppers step outside that scope:
// they keep the mode they were compiled for.
for (const threads of [1, 2]) {
  test(`subnormals: 'flush' matches the reference under withFlushedSubnormals bit for bit, every backend, ${threads} thread(s)`, () => {
    const tiny = (d: 'float32' | 'float64'): fc.Arbitrary<number> => fc.oneof({ weight: 4, arbitrary: nearSubnormal(d) }, { weight: 1, arbitrary: hostileValue(d) });
    const anyChain = (s: Skeleton): fc.Arbitrary<Described> => fc.oneof({ weight: 2, arbitrary: chainFor(s) }, { weight: 1, arbitrary: guardedChainFor(s) }, { weight: 1, arbitrary: nestedGuardChainFor(s) }, { weight: 1, arbitrary: multiStepsChainFor(s) });
    const scenarios = rootSkeleton.chain((s) => fc.record({
      chain: anyChain(s),
      params: treeOf(s, tiny),
      grads: fc.array(fc.oneof(treeOf(s, tiny), finiteTreeOf(s)), { minLength: 1, maxLength: 5 }),
    }));
    let flushedSomething = false;
    fc.assert(fc.property(scenarios, ({ chain, params, grads }) => {
      const reference = new ReferenceRun(chain.tx, cloneTree(params));
      const ieee = new ReferenceRun(chain.tx, cloneTree(params));
      const steppers = BACKENDS.map((backend) => compile(chain.tx, params, { backend, threads, minElementsPerThread: 1, subnormals: 'flush' }));
      try {
        for (const s of steppers) if (s.backend !== 'reference' && s.backend !== BACKENDS[steppers.indexOf(s)]) throw new Error(`asked for ${BACKENDS[steppers.indexOf(s)]}, got ${s.backend}`);
        grads.forEach((g, step) => {
          const error = attempt(() => withFlushedSubnormals(() => reference.step(g)));
          if (!error && !attempt(() => ieee.step(g)) && !bitEqual(ieee.params, reference.params)) flushedSomething = true;
          for (const s of steppers) {
            const where = `${chain.text} on ${s.backend}/${s.threads}t, step ${step + 1}`;
            if (error) assert.throws(() => s.step(g), { message: error.message }, where);
            else s.step(g);
            assertBitEqual(s.params, reference.params, `${where}: params`);
            assertBitEqual(s.state, reference.state, `${where}: state`);
          }
        });
      } finally {
        for (const s of steppers) s.dispose();
      }
    }), { numRuns: Math.round((threads === 1 ? 100 : 30) * RUNS), includeErrorInReport: true });
    // The values really exercise the mode: somewhere, flushing changed the params.
    assert.ok(flushedSomething, 'no drawn case produced a subnormal');
  });
}

function bitEqual(a: unknown, b: unknown): boolean {
  return attempt(() => assertBitEqual(a, b)) === undefined;
}

test('parity over many steps with the gradients written in place (stepper.grads), applyIfFinite and multiSteps included', () => {
  // In place, applyIfFinite's finiteness pass runs over the gradient arena (WebAssembly SIMD).
  const anyChain = (s: Skeleton): fc.Arbitrary<Described> => fc.oneof({ weight: 2, arbitrary: chainFor(s) }, { weight: 1, arbitrary: guardedChainFor(s) }, { weight: 1, arbitrary: multiStepsChainFor(s) });
  const gradients = (s: Skeleton): fc.Arbitrary<Tree> => fc.oneof(treeOf(s), finiteTreeOf(s));
  fc.assert(fc.property(rootSkeleton.chain((s) => fc.tuple(anyChain(s), treeOf(s), fc.array(gradients(s), { minLength: 4, maxLength: 8 }), fc.constantFrom(1, 2))), ([chain, params, grads, threads]) => {
    const reference = new ReferenceRun(chain.tx, cloneTree(params));
    const stepper = compile(chain.tx, params, { backend: 'wasm', threads, minElementsPerThread: 1 });
    try {
      for (const g of grads) {
        if (attempt(() => reference.step(cloneTree(g)))) return; // covered by the test above
        // Zero-copy path: write into the engine's views, then step() without arguments.
        copyInto(stepper.grads, g);
        stepper.step();
      }
      assertBitEqual(stepper.params, reference.params, `${chain.text}: params`);
      assertBitEqual(stepper.state, reference.state, `${chain.text}: state`);
    } finally {
      stepper.dispose();
    }
  }), { numRuns: Math.round(60 * RUNS) });
});

test('workerJournal: each worker call split into blocks of 64 elements (tails included) changes no bit, js and wasm, 2 threads', () => {
  // The journal's blocks (src/engine/undo-journal.ts) on a healthy step: random chains, guarded and
  // multiSteps ones included, against the reference.
  const anyChain = (s: Skeleton): fc.Arbitrary<Described> => fc.oneof({ weight: 2, arbitrary: chainFor(s) }, { weight: 1, arbitrary: guardedChainFor(s) }, { weight: 1, arbitrary: multiStepsChainFor(s) });
  setJournalBlock(64);
  try {
    fc.assert(fc.property(rootSkeleton.chain((s) => fc.record({ text: fc.constant(''), chain: anyChain(s), params: treeOf(s), grads: fc.array(treeOf(s), { minLength: 1, maxLength: 4 }) })), ({ chain, params, grads }) => {
      const reference = new ReferenceRun(chain.tx, cloneTree(params));
      const steppers = (['js', 'wasm'] as const).map((backend) => compile(chain.tx, params, { backend, threads: 2, minElementsPerThread: 1, workerJournal: true }));
      try {
        stepInLockstep(reference, steppers, grads, chain.text);
      } finally {
        for (const s of steppers) s.dispose();
      }
    }), { numRuns: Math.round(25 * RUNS) });
  } finally {
    setJournalBlock(DEFAULT_JOURNAL_BLOCK);
  }
});

function attempt(fn: () => void): Error | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e as Error;
  }
}

function copyInto(dst: unknown, src: unknown): void {
  if (src === null) return;
  if (ArrayBuffer.isView(src)) { (dst as Float32Array).set(src as Float32Array); return; }
  if (typeof src === 'object' && src && 'data' in src && 'shape' in src) { (dst as { data: Float32Array }).data.set((src as { data: Float32Array }).data); return; }
  if (Array.isArray(src)) { src.forEach((s, i) => copyInto((dst as unknown[])[i], s)); return; }
  for (const k of Object.keys(src as object)) copyInto((dst as Record<string, unknown>)[k], (src as Record<string, unknown>)[k]);
}

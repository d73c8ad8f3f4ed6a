/**
 * Helpers of the engine tests: bitwise comparison of trees (NaN equal to NaN, -0 distinct from +0),
 * the reference run (tx.update + applyUpdates), and fast-check arbitraries for parameter trees with
 * hostile values and for random chains of transformations.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { GradientTransformation } from '../../src/core/transformation.js';
import { ShapedArray, isArrayLeaf, leafData } from '../../src/tree/leaf.js';
import { treeMap } from '../../src/tree/map.js';
import { isDictNode } from '../../src/tree/structure.js';
import type { Tree } from '../../src/tree/tree.js';
import { applyUpdates } from '../../src/transforms/apply-updates.js';
import { scaleByAdamax } from '../../src/transforms/scale-by-adamax.js';
import { scale } from '../../src/transforms/scale.js';
import { scaleByLearningRate } from '../../src/transforms/scale-by-learning-rate.js';
import { identity } from '../../src/transforms/identity.js';
import { setToZero } from '../../src/transforms/set-to-zero.js';
import { chain } from '../../src/transforms/chain.js';
import { addDecayedWeights } from '../../src/transforms/add-decayed-weights.js';
import { clip } from '../../src/transforms/clip.js';
import { masked, type MaskTree } from '../../src/transforms/masked.js';
import { partition, type LabelTree } from '../../src/transforms/partition.js';
import { clipByGlobalNorm } from '../../src/transforms/clip-by-global-norm.js';
import { ema } from '../../src/transforms/ema.js';
import { applyIfFinite } from '../../src/transforms/apply-if-finite.js';
import { injectHyperparams } from '../../src/transforms/inject-hyperparams.js';
import { skipLargeUpdates, skipNotFinite } from '../../src/transforms/skip-updates.js';
import { multiSteps } from '../../src/transforms/multi-steps.js';
import { adamax } from '../../src/alias/adamax.js';
import { adamaxw } from '../../src/alias/adamaxw.js';

/** Asserts that two values (trees, states) are equal bit for bit; NaN equals NaN whatever its payload. */
export function assertBitEqual(actual: unknown, expected: unknown, path = 'tree'): void {
  if (isArrayLeaf(expected)) {
    assert.ok(isArrayLeaf(actual), `${path}: expected an array leaf, got ${String(actual)}`);
    assert.equal(actual instanceof ShapedArray, expected instanceof ShapedArray, `${path}: leaf form differs`);
    if (expected instanceof ShapedArray) assert.deepEqual([...(actual as ShapedArray).shape], [...expected.shape], `${path}: shape differs`);
    const a = leafData(actual), e = leafData(expected);
    assert.equal(a.constructor, e.constructor, `${path}: dtype differs`);
    assert.equal(a.length, e.length, `${path}: length differs`);
    for (let i = 0; i < e.length; i++) {
      if (Number.isNaN(e[i]) && Number.isNaN(a[i])) continue;
      if (!Object.is(a[i], e[i])) assert.fail(`${path}[${i}]: got ${a[i]}, expected ${e[i]}`);
    }
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual) && actual.length === expected.length, `${path}: expected a list of ${expected.length}`);
    expected.forEach((e, i) => assertBitEqual((actual as unknown[])[i], e, `${path}[${i}]`));
    return;
  }
  if (isDictNode(expected)) {
    assert.ok(isDictNode(actual), `${path}: expected a dict`);
    assert.deepEqual(Object.keys(actual), Object.keys(expected), `${path}: keys differ`);
    for (const k of Object.keys(expected)) assertBitEqual(actual[k], expected[k], `${path}.${k}`);
    return;
  }
  assert.ok(Object.is(actual, expected), `${path}: got ${String(actual)}, expected ${String(expected)}`);
}

/** A deep copy of a tree (fresh typed arrays). */
export function cloneTree<T>(tree: T): T {
  return treeMap(([l]: (Float32Array | Float64Array | ShapedArray)[]) => (l instanceof ShapedArray ? new ShapedArray(l.data.slice(), l.shape) : l.slice()), [tree]) as T;
}

/** A deep copy of a state (or any tree with numbers, lists and dicts), ShapedArray leaves kept as such. */
export function cloneState<T>(value: T): T {
  if (value instanceof ShapedArray) return new ShapedArray(value.data.slice(), value.shape) as T;
  if (value instanceof Float32Array || value instanceof Float64Array) return value.slice() as T;
  if (Array.isArray(value)) return value.map(cloneState) as T;
  if (isDictNode(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cloneState(v)])) as T;
  return value;
}

/** The reference optimizer: pure updates, and applyUpdates. */
export class ReferenceRun {
  state: unknown;
  constructor(readonly tx: GradientTransformation<unknown>, public params: Tree) {
    this.state = tx.init(params);
  }
  step(grads: Tree, extraArgs?: Record<string, unknown>): void {
    const [u, s] = this.tx.update(grads, this.state, this.params, extraArgs);
    this.params = applyUpdates(this.params, u);
    this.state = s;
  }
}

// ---------------------------------------------------------------- arbitraries

export type Dt = 'float32' | 'float64';

/** The shape of a parameter tree, before values: leaves are (dtype, shape, form). */
export type Skeleton = { leaf: { dtype: Dt; shape: number[]; shaped: boolean } } | { list: Skeleton[] } | { dict: Record<string, Skeleton> } | { none: true };

const leafSkeleton: fc.Arbitrary<Skeleton> = fc.record({
  dtype: fc.constantFrom<Dt>('float32', 'float64'),
  shape: fc.oneof(
    fc.constant<number[]>([]), // rank 0 (a ShapedArray; a plain typed array of one element otherwise)
    fc.tuple(fc.oneof(fc.constantFrom(0, 1, 3, 17), fc.integer({ min: 0, max: 70 }))).map((s) => [...s]),
    fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 7 })).map((s) => [...s]),
  ),
  shaped: fc.boolean(),
}).map((leaf) => ({ leaf }));

/** Random tree structures: nested dicts and lists, null nodes, up to ~8 leaves. */
export const skeleton: fc.Arbitrary<Skeleton> = fc.letrec<{ node: Skeleton }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafSkeleton,
    leafSkeleton,
    fc.constant<Skeleton>({ none: true }),
    fc.array(tie('node'), { maxLength: 3 }).map((list) => ({ list })),
    fc.dictionary(fc.constantFrom('a', 'b', 'w', 'bias', 'layer_1', 'z', 'my key'), tie('node'), { maxKeys: 3 }).map((dict) => ({ dict })),
  ),
})).node;

/** Parameter trees as users have them: mostly a dict or list at the root, rarely a bare leaf or null. */
export const rootSkeleton: fc.Arbitrary<Skeleton> = fc.oneof(
  { weight: 1, arbitrary: skeleton },
  { weight: 4, arbitrary: fc.dictionary(fc.constantFrom('a', 'b', 'w', 'bias', 'layer_1', 'z', 'my key'), skeleton, { minKeys: 1, maxKeys: 4 }).map((dict): Skeleton => ({ dict })) },
  { weight: 1, arbitrary: fc.array(skeleton, { minLength: 1, maxLength: 3 }).map((list): Skeleton => ({ list })) },
);

/** Values that break naive kernels. */
export function hostileValue(dtype: Dt): fc.Arbitrary<number> {
  const special = dtype === 'float32'
    ? [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-42, 1.4e-45, 1e38, -3.4e38, 1.1754943508222875e-38]
    : [NaN, Infinity, -Infinity, 0, -0, 5e-324, -1e-310, 1e308, -1.7e308, 2.2250738585072014e-308];
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...special) },
    { weight: 4, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
    { weight: 1, arbitrary: fc.double({ noNaN: false }) },
  );
}

/** A tree of the skeleton filled with values (hostile ones unless `value` says otherwise). */
export function treeOf(s: Skeleton, value: (dtype: Dt) => fc.Arbitrary<number> = hostileValue): fc.Arbitrary<Tree> {
  if ('none' in s) return fc.constant(null);
  if ('leaf' in s) {
    const { dtype, shape, shaped } = s.leaf;
    const size = shape.reduce((a, b) => a * b, 1);
    return fc.array(value(dtype), { minLength: size, maxLength: size }).map((v) => {
      const data = dtype === 'float32' ? Float32Array.from(v) : Float64Array.from(v);
      return shaped ? new ShapedArray(data, shape) : data;
    });
  }
  if ('list' in s) return s.list.length ? fc.tuple(...s.list.map((c) => treeOf(c, value))).map((l) => [...l]) : fc.constant([]);
  const keys = Object.keys(s.dict);
  if (!keys.length) return fc.constant({});
  return fc.tuple(...keys.map((k) => treeOf(s.dict[k], value))).map((vals) => Object.fromEntries(keys.map((k, i) => [k, vals[i]])));
}

/** A tree of the skeleton with finite values only (hostile ones but for NaN and infinities). */
export function finiteTreeOf(s: Skeleton): fc.Arbitrary<Tree> {
  return treeOf(s).map((t) => treeMap(([l]: (Float32Array | Float64Array | ShapedArray)[]) => {
    const data = leafData(l).map((v) => (Number.isFinite(v) ? v : 0.5));
    return l instanceof ShapedArray ? new ShapedArray(data, l.shape) : data;
  }, [t]));
}

/**
 * A mask for a skeleton (booleans, sometimes covering whole subtrees). At the root a single boolean
 * is rare: `false` there masks out the whole tree, which the engine leaves to the reference path.
 */
export function maskOf(s: Skeleton, root = true): fc.Arbitrary<MaskTree> {
  if ('none' in s) return fc.constant(null);
  if ('leaf' in s) return fc.boolean();
  const whole = root ? fc.constant(true) : fc.boolean();
  if ('list' in s) return fc.oneof(whole, s.list.length ? fc.tuple(...s.list.map((c) => maskOf(c, false))).map((l) => [...l]) : fc.constant([]));
  const keys = Object.keys(s.dict);
  const parts = keys.length ? fc.tuple(...keys.map((k) => maskOf(s.dict[k], false))).map((v) => Object.fromEntries(keys.map((k, i) => [k, v[i]]))) : fc.constant({});
  return fc.oneof(whole, parts);
}

/** Labels for a skeleton, from `labels`. */
export function labelsOf(s: Skeleton, labels: readonly string[], root = true): fc.Arbitrary<LabelTree> {
  const one = fc.constantFrom(...labels);
  if ('none' in s) return fc.constant(null);
  if ('leaf' in s) return one;
  if (root) return labelsOf(s, labels, false).filter((l) => typeof l !== 'string');
  if ('list' in s) return fc.oneof(one, s.list.length ? fc.tuple(...s.list.map((c) => labelsOf(c, labels, false))).map((l) => [...l]) : fc.constant([]));
  const keys = Object.keys(s.dict);
  const parts = keys.length ? fc.tuple(...keys.map((k) => labelsOf(s.dict[k], labels, false))).map((v) => Object.fromEntries(keys.map((k, i) => [k, v[i]]))) : fc.constant({});
  return fc.oneof(one, parts);
}

const decay = fc.oneof(fc.constantFrom(0, 1, 0.9, 0.999, 0.5), fc.double({ min: 0, max: 1, noNaN: true }));
const eps = fc.oneof(fc.constantFrom(0, 1e-8, 1e-30, 1), fc.double({ min: 0, max: 10, noNaN: true }));
const factor = fc.oneof(fc.constantFrom(0, -0, 1, -1, 1e-3, -1e-3, 3e38), fc.double({ min: -100, max: 100, noNaN: true }));
const rate = fc.oneof(fc.constantFrom(0, 1e-3, 0.1, 1), fc.double({ min: 0, max: 10, noNaN: true }));

/** One elementwise transformation (or a small chain of them), described for error messages. */
export type Described = { tx: GradientTransformation<any>; text: string };

/** Shows only the description in fast-check's counterexamples. */
function described(tx: GradientTransformation<any>, text: string): Described {
  return { tx, text, [fc.toStringMethod]: () => text } as Described;
}

const adamaxArb: fc.Arbitrary<Described> = fc.record({ b1: decay, b2: decay, eps }).map((o) => described(scaleByAdamax(o), `scaleByAdamax(${JSON.stringify(o)})`));
const simpleArb: fc.Arbitrary<Described> = fc.oneof(
  adamaxArb,
  adamaxArb,
  factor.map((f) => described(scale(f), `scale(${f})`)),
  rate.map((r) => described(scaleByLearningRate(r), `scaleByLearningRate(${r})`)),
  rate.map((r) => described(scaleByLearningRate((c: number) => r / (c + 1)), `scaleByLearningRate(c => ${r}/(c+1))`)),
  fc.constant(described(identity(), 'identity()')),
  fc.constant(described(setToZero(), 'setToZero()')),
  rate.map((r) => described(addDecayedWeights(r), `addDecayedWeights(${r})`)),
  rate.map((r) => described(addDecayedWeights((c: number) => r * 0.5 ** c), `addDecayedWeights(c => ${r}*0.5^c)`)),
  fc.oneof(rate, fc.constant(Infinity)).map((m) => described(clip(m), `clip(${m})`)),
  fc.tuple(decay, fc.boolean()).map(([d, debias]) => described(ema(d, { debias }), `ema(${d}, {debias: ${debias}})`)),
);

/** A learning rate: a number or a schedule. */
const rateOrSchedule: fc.Arbitrary<{ value: number | ((c: number) => number); text: string }> = fc.oneof(
  rate.map((r) => ({ value: r, text: `${r}` })),
  rate.map((r) => ({ value: (c: number) => r / (c + 1), text: `c => ${r}/(c+1)` })),
);

/** `injectHyperparams` of one of optax-ts's factories, with random (or scheduled) hyperparameters. */
export const injectedArb: fc.Arbitrary<Described> = fc.oneof(
  fc.tuple(rateOrSchedule, decay, decay, eps).map(([lr, b1, b2, e]) => described(injectHyperparams(adamax)(lr.value, { b1, b2, eps: e }), `injectHyperparams(adamax)(${lr.text}, ${JSON.stringify({ b1, b2, eps: e })})`)),
  fc.tuple(rateOrSchedule, rate).map(([lr, wd]) => described(injectHyperparams(adamaxw)(lr.value, { weightDecay: wd }), `injectHyperparams(adamaxw)(${lr.text}, {weightDecay: ${wd}})`)),
  fc.tuple(decay, decay).map(([b1, b2]) => described(injectHyperparams(scaleByAdamax)({ b1, b2 }), `injectHyperparams(scaleByAdamax)({b1: ${b1}, b2: ${b2}})`)),
  factor.map((f) => described(injectHyperparams(scale)(f), `injectHyperparams(scale)(${f})`)),
  fc.oneof(rate, fc.constant(Infinity)).map((m) => described(injectHyperparams(clip)(m), `injectHyperparams(clip)(${m})`)),
  fc.tuple(decay, fc.boolean()).map(([d, debias]) => described(injectHyperparams(ema)(d, { debias }), `injectHyperparams(ema)(${d}, {debias: ${debias}})`)),
);

/** A random chain for a tree of skeleton `s`: elementwise parts, nested chains, masked, partition. */
export function chainFor(s: Skeleton): fc.Arbitrary<Described> {
  const part: fc.Arbitrary<Described> = fc.oneof(
    { weight: 6, arbitrary: simpleArb },
    { weight: 1, arbitrary: fc.array(simpleArb, { minLength: 1, maxLength: 2 }).map((ps) => described(chain(...ps.map((p) => p.tx)), `chain(${ps.map((p) => p.text).join(', ')})`)) },
    { weight: 1, arbitrary: fc.tuple(simpleArb, maskOf(s)).map(([p, m]) => described(masked(p.tx, m), `masked(${p.text}, ${JSON.stringify(m)})`)) },
    { weight: 1, arbitrary: fc.tuple(simpleArb, simpleArb, labelsOf(s, ['x', 'y'])).map(([a, b, l]) => described(partition({ x: a.tx, y: b.tx }, l), `partition({x: ${a.text}, y: ${b.text}}, ${JSON.stringify(l)})`)) },
    { weight: 2, arbitrary: injectedArb },
  );
  return fc.tuple(fc.option(fc.oneof(rate, fc.constantFrom(0, 1e-30)), { freq: 4 }), fc.array(part, { minLength: 1, maxLength: 4 })).map(([norm, parts]) => {
    const all = norm === null ? parts : [described(clipByGlobalNorm(norm), `clipByGlobalNorm(${norm})`), ...parts];
    return described(chain(...all.map((p) => p.tx)), `chain(${all.map((p) => p.text).join(', ')})`);
  });
}

/**
 * `applyIfFinite` around a random chain of elementwise transformations (which optax's `lax.cond`
 * traces), sometimes after a `clipByGlobalNorm`, or around any random chain for the tree (masks,
 * partitions: run with eager numerics, as the reference path does).
 */
export function guardedChainFor(s: Skeleton): fc.Arbitrary<Described> {
  const traced = fc.tuple(fc.option(rate, { freq: 3 }), fc.array(simpleArb, { minLength: 1, maxLength: 3 })).map(([norm, parts]) => {
    const all = norm === null ? parts : [described(clipByGlobalNorm(norm), `clipByGlobalNorm(${norm})`), ...parts];
    return described(chain(...all.map((p) => p.tx)), `chain(${all.map((p) => p.text).join(', ')})`);
  });
  return fc.tuple(fc.oneof({ weight: 3, arbitrary: traced }, { weight: 1, arbitrary: chainFor(s) }), fc.integer({ min: 0, max: 3 })).map(([inner, max]) => (
    described(applyIfFinite(inner.tx, { maxConsecutiveErrors: max }), `applyIfFinite(${inner.text}, {maxConsecutiveErrors: ${max}})`)
  ));
}

/**
 * `applyIfFinite` inside a chain, a mask or a partition (not around everything): after an optional
 * `clipByGlobalNorm` (its check is then over the clipped updates), followed by other transformations
 * (which see the zero update of a skipped step), its inner chain traced or not (masks, partitions).
 */
export function nestedGuardChainFor(s: Skeleton): fc.Arbitrary<Described> {
  const traced = fc.array(simpleArb, { minLength: 1, maxLength: 3 }).map((ps) => described(chain(...ps.map((p) => p.tx)), `chain(${ps.map((p) => p.text).join(', ')})`));
  // A mask inside (eager numerics) only where the guard sees the whole tree (the mask is drawn for it).
  const inner = fc.oneof({ weight: 3, arbitrary: traced }, { weight: 1, arbitrary: fc.tuple(simpleArb, maskOf(s)).map(([p, m]) => described(masked(p.tx, m), `masked(${p.text}, ${JSON.stringify(m)})`)) });
  const guardOf = (i: fc.Arbitrary<Described>): fc.Arbitrary<Described> => fc.tuple(i, fc.integer({ min: 0, max: 3 })).map(([x, max]) => described(applyIfFinite(x.tx, { maxConsecutiveErrors: max }), `applyIfFinite(${x.text}, {maxConsecutiveErrors: ${max}})`));
  const placed = fc.oneof(
    guardOf(inner),
    fc.tuple(guardOf(traced), maskOf(s)).map(([g, m]) => described(masked(g.tx, m), `masked(${g.text}, ${JSON.stringify(m)})`)),
    fc.tuple(guardOf(traced), simpleArb, labelsOf(s, ['x', 'y'])).map(([g, b, l]) => described(partition({ x: g.tx, y: b.tx }, l), `partition({x: ${g.text}, y: ${b.text}}, ${JSON.stringify(l)})`)),
  );
  return fc.tuple(fc.option(fc.oneof(rate, fc.constantFrom(0, 1e-30, 3e38, Infinity)), { freq: 2 }), placed, fc.array(simpleArb, { maxLength: 2 })).map(([norm, g, after]) => {
    const all = [...(norm === null ? [] : [described(clipByGlobalNorm(norm), `clipByGlobalNorm(${norm})`)]), g, ...after];
    return described(chain(...all.map((p) => p.tx)), `chain(${all.map((p) => p.text).join(', ')})`);
  });
}

/**
 * A transformation whose `update` is JS code (the engine cannot see into it): `u * k` rounded to each
 * leaf's dtype, and a step count.
 */
export function opaqueScale(k: number): GradientTransformation<{ count: number }> {
  return {
    name: 'opaque_scale',
    init: () => ({ count: 0 }),
    update: (u, s) => [treeMap(([l]: (Float32Array | Float64Array | ShapedArray)[]) => {
      const data = leafData(l).map((v) => v * k);
      return l instanceof ShapedArray ? new ShapedArray(data, l.shape) : data;
    }, [u]) as never, { count: s.count + 1 }],
  };
}

/**
 * `partition` at the root with a group that cannot fuse (an {@link opaqueScale}) beside fusable
 * ones: the engine runs that group on the reference path and the others fused.
 */
export function partitionWithOpaqueFor(s: Skeleton): fc.Arbitrary<Described> {
  const fusable = fc.array(simpleArb, { minLength: 1, maxLength: 2 }).map((ps) => described(chain(...ps.map((p) => p.tx)), `chain(${ps.map((p) => p.text).join(', ')})`));
  return fc.tuple(fusable, fusable, factor, labelsOf(s, ['x', 'y', 'z'])).map(([x, z, k, l]) => described(
    partition({ x: x.tx, y: opaqueScale(k), z: z.tx }, l),
    `partition({x: ${x.text}, y: opaqueScale(${k}), z: ${z.text}}, ${JSON.stringify(l)})`,
  ));
}

/**
 * `multiSteps` around a random chain for the tree (k fixed or scheduled, mean or sum, the params'
 * accumulator dtype or optax's float32 default, sometimes a skip function).
 */
export function multiStepsChainFor(s: Skeleton): fc.Arbitrary<Described> {
  const every = fc.oneof(
    fc.integer({ min: 1, max: 4 }).map((k) => ({ value: k as number | ((g: number) => number), text: `${k}` })),
    fc.constant({ value: (g: number) => 1 + (g % 3), text: 'g => 1 + g % 3' }),
  );
  // A function of the user's, and the built-in ones (which the engine computes itself on its gradient views).
  const skip = fc.constantFrom(undefined, 'firstNaN', 'skipNotFinite', 'skipLargeUpdates(1)', 'skipLargeUpdates(1e6)');
  return fc.tuple(chainFor(s), every, fc.boolean(), fc.constantFrom<'float32' | 'float64' | null>('float32', 'float32', 'float64', null), skip).map(([inner, k, mean, acc, sk]) => {
    const shouldSkipUpdateFn = sk === 'firstNaN' ? ((u: Tree) => {
      const { leaves } = treeLeavesOf(u);
      const bad = leaves.length > 0 && leaves[0].length > 0 && Number.isNaN(leaves[0][0]);
      return [bad, { bad }] as [boolean, unknown];
    }) : sk === 'skipNotFinite' ? skipNotFinite : sk === 'skipLargeUpdates(1)' ? skipLargeUpdates(1) : sk ? skipLargeUpdates(1e6) : undefined;
    const tx = multiSteps(inner.tx, { everyKSchedule: k.value, useGradMean: mean, accumulatorDtype: acc, shouldSkipUpdateFn });
    return described(tx, `multiSteps(${inner.text}, {everyKSchedule: ${k.text}, useGradMean: ${mean}, accumulatorDtype: ${acc}${sk ? `, shouldSkipUpdateFn: ${sk}` : ''}})`);
  });
}

/**
 * Trees whose every leaf ends with dimension `k` (shape `[k]` or `[r, k]`, either dtype and form), so
 * that an array hyperparameter of shape `[k]` (or `[1, k]`) broadcasts against each.
 */
export function broadcastSkeleton(k: number): fc.Arbitrary<Skeleton> {
  const leaf = fc.record({
    dtype: fc.constantFrom<Dt>('float32', 'float64'),
    shape: fc.oneof(fc.constant<number[]>([k]), fc.integer({ min: 0, max: 4 }).map((r): number[] => [r, k])),
    shaped: fc.boolean(),
  }).map((l): Skeleton => ({ leaf: { ...l, shaped: l.shaped || l.shape.length > 1 } }));
  return fc.dictionary(fc.constantFrom('a', 'b', 'w', 'bias'), fc.oneof(leaf, fc.array(leaf, { maxLength: 2 }).map((list): Skeleton => ({ list }))), { minKeys: 1, maxKeys: 3 }).map((dict): Skeleton => ({ dict }));
}

/** An array hyperparameter of shape `[k]` or `[1, k]` with values from `value`, in either dtype. */
function arrayHyper(k: number, value: fc.Arbitrary<number>): fc.Arbitrary<{ array: ShapedArray; text: string }> {
  return fc.tuple(fc.array(value, { minLength: k, maxLength: k }), fc.boolean(), fc.constantFrom<Dt>('float32', 'float64')).map(([v, wide, dtype]) => {
    const data = dtype === 'float32' ? Float32Array.from(v) : Float64Array.from(v);
    const shape = wide ? [1, k] : [k];
    return { array: new ShapedArray(data, shape), text: `${dtype}[${shape.join(',')}](${v.join(', ')})` };
  });
}

/**
 * A random chain for a tree of {@link broadcastSkeleton}(k) holding transformations with array
 * (broadcast) hyperparameters: adamax's b1, b2 and eps, a weight decay, a clip, an ema decay.
 */
export function arrayHyperChainFor(s: Skeleton, k: number): fc.Arbitrary<Described> {
  const withArrays: fc.Arbitrary<Described> = fc.oneof(
    fc.tuple(fc.option(arrayHyper(k, decay)), fc.option(arrayHyper(k, decay)), fc.option(arrayHyper(k, eps)))
      .filter(([b1, b2, e]) => b1 !== null || b2 !== null || e !== null)
      .map(([b1, b2, e]) => described(scaleByAdamax({ ...(b1 && { b1: b1.array }), ...(b2 && { b2: b2.array }), ...(e && { eps: e.array }) }), `scaleByAdamax({b1: ${b1?.text}, b2: ${b2?.text}, eps: ${e?.text}})`)),
    arrayHyper(k, rate).map((w) => described(addDecayedWeights(w.array), `addDecayedWeights(${w.text})`)),
    arrayHyper(k, rate).map((m) => described(clip(m.array), `clip(${m.text})`)),
    arrayHyper(k, rate).map((m) => described(scale(m.array), `scale(${m.text})`)),
    fc.tuple(arrayHyper(k, decay), fc.boolean()).map(([d, debias]) => described(ema(d.array, { debias }), `ema(${d.text}, {debias: ${debias}})`)),
  );
  // After the random chain: clipByGlobalNorm fuses only as the first transformation.
  return fc.tuple(withArrays, chainFor(s)).map(([a, rest]) => {
    const parts = [rest, a];
    return described(chain(...parts.map((p) => p.tx)), `chain(${parts.map((p) => p.text).join(', ')})`);
  });
}

function treeLeavesOf(t: Tree): { leaves: ArrayLike<number>[] } {
  const leaves: ArrayLike<number>[] = [];
  const walk = (x: unknown): void => {
    if (x === null || x === undefined) return;
    if (isArrayLeaf(x)) { leaves.push(leafData(x)); return; }
    if (Array.isArray(x)) { x.forEach(walk); return; }
    for (const k of Object.keys(x as object).sort()) walk((x as Record<string, unknown>)[k]);
  };
  walk(t);
  return { leaves };
}

/**
 * The engine's per-step mask check (selection.ts) agrees with the general path (maskTree, then the
 * leaves) on every mask the general path accepts, and defers to it (undefined) on anything else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { leafTable, leavesOf } from '../../src/engine/leaves.js';
import { DIFFERS, MATCH, SelectionWalker, UNDECIDED } from '../../src/engine/selection.js';
import { labelMask } from '../../src/engine/labels.js';
import { maskTree } from '../../src/transforms/masked.js';
import { maskOf, rootSkeleton, treeOf } from './support.js';

function general(table: ReturnType<typeof leafTable>, mask: unknown): number[] | Error {
  try {
    return leavesOf(table, maskTree(table.indexTree, mask as never, 'updates'));
  } catch (e) {
    return e as Error;
  }
}

test('the fast mask walk selects what maskTree selects, or defers', () => {
  const hostile = fc.constantFrom<unknown>(1, 'x', undefined, [], {}, [true], { zz: true }, new Map(), Object.create({ a: true }));
  const scenario = rootSkeleton.chain((s) => fc.tuple(treeOf(s), fc.oneof({ weight: 4, arbitrary: maskOf(s) }, { weight: 1, arbitrary: hostile })));
  fc.assert(fc.property(scenario, ([params, mask]) => {
    if (params === null) return;
    const table = leafTable(params);
    const fast = new SelectionWalker(table).select(mask as never, table.indexTree);
    const slow = general(table, mask);
    if (fast !== undefined) assert.deepEqual(fast, slow);
  }), { numRuns: 400 });
});

test('the fast mask walk defers on getters and non-plain nodes (the general path reports them)', () => {
  const table = leafTable({ a: new Float32Array(1), b: [new Float32Array(2), null] });
  const walker = new SelectionWalker(table);
  assert.deepEqual(walker.select({ a: true, b: [false, true] }, table.indexTree), [0]);
  assert.deepEqual(walker.select(true, table.indexTree), [0, 1]);
  const getter = Object.defineProperty({ b: true }, 'a', { get: () => true, enumerable: true });
  assert.equal(walker.select(getter as never, table.indexTree), undefined);
  assert.equal(walker.select({ a: true } as never, table.indexTree), undefined);
  assert.equal(walker.select({ a: true, b: [true] } as never, table.indexTree), undefined);
});

/** The leaf flags of a selection (1: selected), as the engine compiles them. */
function flagsOf(table: ReturnType<typeof leafTable>, leaves: readonly number[]): Uint8Array {
  const flags = new Uint8Array(table.leaves.length);
  for (const i of leaves) flags[i] = 1;
  return flags;
}

test('the per-step mask check (matches) agrees with the general path, or defers', () => {
  const hostile = fc.constantFrom<unknown>(1, 'x', undefined, null, [], {}, [true], { zz: true }, new Map(), Object.create({ a: true }));
  const scenario = rootSkeleton.chain((s) => fc.tuple(treeOf(s), maskOf(s), fc.oneof({ weight: 4, arbitrary: maskOf(s) }, { weight: 1, arbitrary: hostile })));
  let decided = 0;
  fc.assert(fc.property(scenario, ([params, compiled, mask]) => {
    if (params === null) return;
    const table = leafTable(params);
    const expected = general(table, compiled);
    if (expected instanceof Error) return;
    const verdict = new SelectionWalker(table).matches(mask, table.indexTree, flagsOf(table, expected));
    if (verdict === UNDECIDED) return;
    decided++;
    const slow = general(table, mask);
    assert.ok(!(slow instanceof Error), `decided ${verdict} where the general path throws ${String(slow)}`);
    assert.equal(verdict === MATCH, JSON.stringify(slow) === JSON.stringify(expected));
  }), { numRuns: 400 });
  assert.ok(decided > 100, `${decided}`);
});

/** A label tree: each boolean of a mask becomes 'a' (true) or 'b'. */
function labelsFrom(mask: unknown): unknown {
  if (typeof mask === 'boolean') return mask ? 'a' : 'b';
  if (Array.isArray(mask)) return mask.map(labelsFrom);
  if (mask !== null && typeof mask === 'object') return Object.fromEntries(Object.entries(mask).map(([k, v]) => [k, labelsFrom(v)]));
  return mask;
}

test('the per-step labels check (matchesLabels) agrees with the general path, or defers', () => {
  const known = ['a', 'b'];
  const hostile = fc.constantFrom<unknown>(1, 'c', undefined, null, [], {}, ['a'], { zz: 'a' });
  const scenario = rootSkeleton.chain((s) => fc.tuple(treeOf(s), maskOf(s), fc.oneof({ weight: 4, arbitrary: maskOf(s).map(labelsFrom) }, { weight: 1, arbitrary: hostile })));
  let decided = 0;
  fc.assert(fc.property(scenario, ([params, compiledMask, labels]) => {
    if (params === null) return;
    const table = leafTable(params);
    const compiled = known.map((k) => general(table, labelMask(labelsFrom(compiledMask), k)));
    if (compiled.some((c) => c instanceof Error)) return;
    const groupOf = new Int32Array(table.leaves.length).fill(-1);
    compiled.forEach((leaves, g) => { for (const i of leaves as number[]) groupOf[i] = g; });
    const verdict = new SelectionWalker(table).matchesLabels(labels, table.indexTree, known, groupOf);
    if (verdict === UNDECIDED) return;
    decided++;
    const slow = known.map((k) => general(table, labelMask(labels, k)));
    assert.ok(!slow.some((x) => x instanceof Error), `decided ${verdict} where the general path throws`);
    assert.equal(verdict === MATCH, JSON.stringify(slow) === JSON.stringify(compiled));
  }), { numRuns: 400 });
  assert.ok(decided > 100, `${decided}`);
});

test('the per-step checks defer on getters and setters (the general path reports them)', () => {
  const table = leafTable({ a: new Float32Array(1), b: new Float32Array(1) });
  const walker = new SelectionWalker(table);
  const flags = Uint8Array.of(1, 0);
  assert.equal(walker.matches({ a: true, b: false }, table.indexTree, flags), MATCH);
  assert.equal(walker.matches({ a: false, b: false }, table.indexTree, flags), DIFFERS);
  assert.equal(walker.matches(Object.defineProperty({ b: false }, 'a', { get: () => true, enumerable: true }), table.indexTree, flags), UNDECIDED);
  assert.equal(walker.matches(Object.defineProperty({ b: false }, 'a', { set: () => {}, enumerable: true }), table.indexTree, flags), UNDECIDED);
  assert.equal(walker.matches({ a: true, b: false, c: true }, table.indexTree, flags), UNDECIDED);
  const groups = Int32Array.of(0, 1);
  assert.equal(walker.matchesLabels({ a: 'a', b: 'b' }, table.indexTree, ['a', 'b'], groups), MATCH);
  assert.equal(walker.matchesLabels('a', table.indexTree, ['a', 'b'], groups), DIFFERS);
  assert.equal(walker.matchesLabels({ a: 'a', b: 'c' }, table.indexTree, ['a', 'b'], groups), UNDECIDED);
});

test('the per-step checks read a mask in any key order, call no getter, and defer on key sets that differ', () => {
  const table = leafTable({ a: new Float32Array(1), b: { c: new Float32Array(1), d: [new Float32Array(1), new Float32Array(1)] }, e: new Float32Array(1) });
  const walker = new SelectionWalker(table);
  const flags = Uint8Array.of(1, 0, 1, 1, 0);
  const mask = { a: true, b: { c: false, d: [true, true] }, e: false };
  assert.equal(walker.matches(mask, table.indexTree, flags), MATCH);
  // Keys in another order than the tree's sorted one, and a prefix boolean over a subtree.
  assert.equal(walker.matches({ e: false, b: { d: true, c: false }, a: true }, table.indexTree, flags), MATCH);
  assert.equal(walker.matches({ e: true, b: { d: true, c: false }, a: true }, table.indexTree, flags), DIFFERS);
  assert.equal(walker.matches({ a: true, b: { c: false, d: [true, true] } }, table.indexTree, flags), UNDECIDED);
  assert.equal(walker.matches({ a: true, b: { c: false, d: [true, true] }, e: false, f: true }, table.indexTree, flags), UNDECIDED);
  assert.equal(walker.matches({ a: true, b: { c: false, d: [true, true] }, f: false }, table.indexTree, flags), UNDECIDED);
  const hidden = Object.defineProperty({ a: true, b: { c: false, d: [true, true] } }, 'e', { value: false, enumerable: false });
  assert.equal(walker.matches(hidden, table.indexTree, flags), UNDECIDED);
  // A difference first, then a part only the general path can judge: undecided.
  assert.equal(walker.matches({ a: false, b: { c: false, d: [true, 1] }, e: false }, table.indexTree, flags), UNDECIDED);
  let calls = 0;
  const getter = Object.defineProperty({ a: true, b: true }, 'e', { get: () => { calls++; return false; }, enumerable: true });
  assert.equal(walker.matches(getter, table.indexTree, flags), UNDECIDED);
  const labels = Object.defineProperty({ a: 'x', b: 'y' }, 'e', { get: () => { calls++; return 'x'; }, enumerable: true });
  assert.equal(walker.matchesLabels(labels, table.indexTree, ['x', 'y'], Int32Array.of(0, 1, 1, 1, 0)), UNDECIDED);
  assert.equal(calls, 0);
  assert.equal(walker.matchesLabels({ e: 'x', b: { d: 'y', c: 'y' }, a: 'x' }, table.indexTree, ['x', 'y'], Int32Array.of(0, 1, 1, 1, 0)), MATCH);
  assert.equal(walker.matchesLabels({ e: 'x', b: { d: 'y', c: 'y' }, a: 'z' }, table.indexTree, ['x', 'y'], Int32Array.of(0, 1, 1, 1, 0)), UNDECIDED);
});

test('a deeply frozen mask judged before keeps its verdict; anything that could have changed is walked again', () => {
  const table = leafTable({ a: new Float32Array(1), b: { c: new Float32Array(1), d: new Float32Array(1) }, e: new Float32Array(1) });
  const walker = new SelectionWalker(table);
  const flags = Uint8Array.of(1, 0, 1, 0);
  const deep = Object.freeze({ a: true, b: Object.freeze({ c: false, d: true }), e: false });
  assert.equal(walker.matches(deep, table.indexTree, flags), MATCH);
  assert.equal(walker.matches(deep, table.indexTree, flags), MATCH);
  // The same frozen tree checked against another selection (another mask on the same tree).
  assert.equal(walker.matches(deep, table.indexTree, Uint8Array.of(1, 1, 1, 0)), DIFFERS);
  assert.equal(walker.matches(deep, table.indexTree, flags), MATCH);
  // Frozen at the top, not below: the inner dict can change between steps.
  const inner = { c: false, d: true };
  const shallow = Object.freeze({ a: true, b: inner, e: false });
  assert.equal(walker.matches(shallow, table.indexTree, flags), MATCH);
  inner.c = true;
  assert.equal(walker.matches(shallow, table.indexTree, flags), DIFFERS);
  (inner as Record<string, unknown>).x = true;
  assert.equal(walker.matches(shallow, table.indexTree, flags), UNDECIDED);
  delete (inner as Record<string, unknown>).x;
  inner.c = false;
  assert.equal(walker.matches(shallow, table.indexTree, flags), MATCH);
  // Not frozen: a mutated tree is walked again.
  const open = { a: true, b: Object.freeze({ c: false, d: true }), e: false };
  assert.equal(walker.matches(open, table.indexTree, flags), MATCH);
  open.e = true;
  assert.equal(walker.matches(open, table.indexTree, flags), DIFFERS);
  // Sealed is not frozen: its values can be written.
  const sealed = Object.seal({ a: true, b: Object.freeze({ c: false, d: true }), e: false });
  assert.equal(walker.matches(sealed, table.indexTree, flags), MATCH);
  sealed.a = false;
  assert.equal(walker.matches(sealed, table.indexTree, flags), DIFFERS);
  // A frozen tree with a getter is never decided (and the getter never called).
  let calls = 0;
  const getter = Object.freeze(Object.defineProperty({ a: true, b: Object.freeze({ c: false, d: true }) }, 'e', { get: () => { calls++; return false; }, enumerable: true }));
  assert.equal(walker.matches(getter, table.indexTree, flags), UNDECIDED);
  assert.equal(walker.matches(getter, table.indexTree, flags), UNDECIDED);
  assert.equal(calls, 0);
  // Labels: the same, per list of known labels.
  const labels = Object.freeze({ a: 'x', b: Object.freeze([]) as never, e: 'y' });
  assert.equal(walker.matchesLabels(labels, table.indexTree, ['x', 'y'], Int32Array.of(0, 1, 1, 1)), UNDECIDED);
  const good = Object.freeze({ a: 'x', b: 'y', e: 'y' });
  assert.equal(walker.matchesLabels(good, table.indexTree, ['x', 'y'], Int32Array.of(0, 1, 1, 1)), MATCH);
  assert.equal(walker.matchesLabels(good, table.indexTree, ['y', 'x'], Int32Array.of(0, 1, 1, 1)), DIFFERS);
  assert.equal(walker.matchesLabels(good, table.indexTree, ['x', 'y'], Int32Array.of(0, 1, 1, 1)), MATCH);
});

test('dicts of more keys than V8 keeps fast (hash tables, walked by their key list) are judged like small ones', () => {
  const n = 1500;
  const names = Array.from({ length: n }, (_, i) => `k${i}`);
  const table = leafTable(Object.fromEntries(names.map((k) => [k, new Float32Array(1)])));
  const walker = new SelectionWalker(table);
  const flagOf = (k: string): boolean => Number(k.slice(1)) % 3 === 0;
  const flags = new Uint8Array(n);
  for (const l of table.leaves) flags[l.index] = flagOf(String(l.path[0])) ? 1 : 0;
  const mask = (): Record<string, boolean> => Object.fromEntries(names.map((k) => [k, flagOf(k)]));
  assert.equal(walker.matches(mask(), table.indexTree, flags), MATCH);
  assert.equal(walker.matches(Object.fromEntries([...names].reverse().map((k) => [k, flagOf(k)])), table.indexTree, flags), MATCH);
  assert.equal(walker.matches({ ...mask(), k7: true }, table.indexTree, flags), DIFFERS);
  assert.equal(walker.matches({ ...mask(), extra: true }, table.indexTree, flags), UNDECIDED);
  const missing = mask();
  delete missing.k1499;
  assert.equal(walker.matches(missing, table.indexTree, flags), UNDECIDED);
  assert.equal(walker.matches({ ...missing, extra: false }, table.indexTree, flags), UNDECIDED);
  assert.equal(walker.matches(Object.defineProperty(mask(), 'k3', { value: true, enumerable: false }), table.indexTree, flags), UNDECIDED);
  assert.equal(walker.matches(Object.defineProperty(mask(), 'k3', { get: () => true, enumerable: true }), table.indexTree, flags), UNDECIDED);
  const frozen = Object.freeze(mask());
  assert.equal(walker.matches(frozen, table.indexTree, flags), MATCH);
  assert.equal(walker.matches(frozen, table.indexTree, flags), MATCH);
  assert.equal(walker.matches(frozen, table.indexTree, new Uint8Array(n)), DIFFERS);
});

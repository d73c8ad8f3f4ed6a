/**
 * The engine's per-step mask check (selection.ts) agrees with the general path (maskTree, then the
 * leaves) on every mask the general path accepts, and defers to it (undefined) on anything else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { leafTable, leavesOf } from '../../src/engine/leaves.js';
import { SelectionWalker } from '../../src/engine/selection.js';
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

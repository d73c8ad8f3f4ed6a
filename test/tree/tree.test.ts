import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptaxError, ShapedArray, assertSameStructure, broadcastTo, formatPath, treeLeaves, treeMap, treeUnflatten, treeZerosLike } from '../../src/index.js';

test('treeMap maps several trees and keeps null and key order', () => {
  const a = { z: new Float32Array([1]), a: [null, new Float64Array([2, 3])] };
  const b = { a: [null, new Float64Array([10, 20])], z: new Float32Array([5]) };
  const out = treeMap(([x, y]: Float64Array[]) => x.map((v, i) => v * y[i]), [a, b]);
  assert.deepEqual(Object.keys(out), ['z', 'a']);
  assert.equal(out.a[0], null);
  assert.deepEqual(Array.from(out.a[1]!), [20, 60]);
  assert.deepEqual(Array.from(out.z), [5]);
});

test('structure mismatches name the path and what differs', () => {
  const cases: [unknown, unknown, RegExp][] = [
    [{ w: new Float32Array(1) }, { v: new Float32Array(1) }, /^params: .*missing key\(s\) w; unexpected key\(s\) v/],
    [{ l: [new Float32Array(1)] }, { l: [new Float32Array(1), null] }, /^params\.l: .*list of 1, got a list of 2/],
    [{ l: [null] }, { l: [new Float32Array(1)] }, /^params\.l\[0\]: .*expected null/],
    [{ 'odd key': new Float32Array(1) }, { 'odd key': 3 }, /^params\["odd key"\]: expected an array leaf .* got number/],
  ];
  for (const [x, y, re] of cases) {
    assert.throws(() => assertSameStructure([x, y]), (e: unknown) => e instanceof OptaxError && re.test((e as Error).message));
  }
});

test('non-float typed arrays are rejected with a reason', () => {
  assert.throws(() => assertSameStructure([{ w: new Int32Array(2) }]), /Int32Array \(only Float32Array and Float64Array/);
});

test('treeLeaves visits dict keys sorted; treeUnflatten inverts it', () => {
  const t = { b: new Float32Array([1]), a: { y: new Float32Array([2]), x: null } };
  const { leaves, paths } = treeLeaves<Float32Array>(t);
  assert.deepEqual(paths, [['a', 'y'], ['b']]);
  const back = treeUnflatten(t, leaves.map((l) => l.map((v) => v + 1)));
  assert.deepEqual(Array.from(back.b), [2]);
  assert.equal(back.a.x, null);
});

test('treeZerosLike keeps dtype, form and shape', () => {
  const z = treeZerosLike({ s: new ShapedArray(new Float64Array([1, 2, 3, 4, 5, 6]), [2, 3]), v: new Float32Array([7]) });
  assert.ok(z.s instanceof ShapedArray && z.s.data instanceof Float64Array);
  assert.deepEqual(z.s.shape, [2, 3]);
  assert.deepEqual(Array.from(z.s.data), [0, 0, 0, 0, 0, 0]);
  assert.ok(z.v instanceof Float32Array);
});

test('broadcastTo follows numpy rules and refuses to grow a leaf', () => {
  assert.deepEqual(Array.from(broadcastTo(new Float32Array([1, 2, 3, 4]), [4], [3, 4])), [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]);
  assert.deepEqual(Array.from(broadcastTo(new Float32Array([1, 2, 3]), [3, 1], [3, 2])), [1, 1, 2, 2, 3, 3]);
  assert.deepEqual(Array.from(broadcastTo(new Float32Array([7]), [], [2])), [7, 7]);
  assert.throws(() => broadcastTo(new Float32Array(3), [3], [3, 4]), /does not broadcast/);
  assert.throws(() => broadcastTo(new Float32Array(6), [2, 3], [3]), /does not broadcast/);
});

test('broadcastTo gives element [i, j, ...] of the leaf from the array\'s index with broadcast dimensions at 0 (every fast path: tiled trailing dimensions, a whole leaf, one value)', () => {
  const shapes: number[][] = [[], [1], [3], [2, 3], [1, 3], [2, 1], [4, 2, 3], [4, 1, 3], [1, 2, 1], [0, 3], [3, 0]];
  for (const to of shapes) {
    for (const from of shapes) {
      const size = from.reduce((a, b) => a * b, 1);
      const data = Float64Array.from({ length: size }, (_, i) => i + 1);
      // numpy's rule, element by element: dimensions aligned from the right, each 1 or equal.
      // The array's shape aligned with the leaf's: padded with leading 1s, or its extra leading dims dropped (all 1s).
      const extra = from.slice(0, Math.max(0, from.length - to.length));
      const src = [...Array(Math.max(0, to.length - from.length)).fill(1), ...from.slice(extra.length)];
      if (!extra.every((d) => d === 1) || !src.every((d, i) => d === 1 || d === to[i])) {
        assert.throws(() => broadcastTo(data, from, to), /does not broadcast/, `[${from}] -> [${to}]`);
        continue;
      }
      const total = to.reduce((a, b) => a * b, 1);
      const expected = Array.from({ length: total }, (_, k) => {
        let rest = k, at = 0, stride = 1;
        for (let d = to.length - 1; d >= 0; d--) {
          const index = rest % to[d];
          rest = Math.floor(rest / to[d]);
          if (src[d] !== 1) at += index * stride;
          stride *= src[d];
        }
        return data[at];
      });
      assert.deepEqual(Array.from(broadcastTo(data, from, to)), expected, `[${from}] -> [${to}]`);
    }
  }
});

test('ShapedArray checks its shape', () => {
  assert.throws(() => new ShapedArray(new Float32Array(5), [2, 3]), /holds 6 elements but data has 5/);
  assert.equal(formatPath(['a', 0, 'b c']), 'params.a[0]["b c"]');
});

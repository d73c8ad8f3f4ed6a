/**
 * The arena: leaves grouped by dtype and variant, 64-byte aligned, one region per stream per group,
 * so that a whole group is one kernel call whatever its number of leaves; thread shares cover each
 * group exactly once, on whole cache lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyze } from '../../src/engine/analyze.js';
import { composeProgram } from '../../src/engine/compose.js';
import { programSlots, splitCalls } from '../../src/engine/dispatch.js';
import { leafTable } from '../../src/engine/leaves.js';
import { ALIGN, STAGGER_SPAN, planLayout, staggeredStart } from '../../src/engine/layout.js';
import type { GradientTransformation } from '../../src/core/transformation.js';
import type { Tree } from '../../src/tree/tree.js';
import { adamax } from '../../src/alias/adamax.js';
import { chain } from '../../src/transforms/chain.js';
import { ema } from '../../src/transforms/ema.js';
import { masked } from '../../src/transforms/masked.js';
import { scale } from '../../src/transforms/scale.js';

function plan(tx: GradientTransformation<any>, params: Tree) {
  const table = leafTable(params);
  const analysis = analyze(tx, table, params, tx.init(params));
  assert.ok(analysis.fusable);
  const layout = planLayout(table, analysis.stages);
  const programs = layout.groups.map((g) => composeProgram(g.dtype, g.stages.map((k) => analysis.stages[k])));
  const slots = programs.map((p, g) => programSlots(p, layout.groups[g], analysis.stages, layout));
  return { table, stages: analysis.stages, layout, programs, slots };
}

test('2000 leaves of one dtype form one group: one kernel call per step over one region per stream', () => {
  const params: Record<string, Float32Array> = {};
  for (let i = 0; i < 2000; i++) params[`p${i}`] = new Float32Array(500);
  const { layout, programs } = plan(adamax(1e-3), params);
  assert.equal(layout.groups.length, 1);
  const [group] = layout.groups;
  assert.equal(group.length, 2000 * 512); // each leaf padded to a whole number of 64-byte lines
  assert.deepEqual([...group.streams.keys()], ['params', 'grads', 's0.mu', 's0.nu']);
  for (const base of group.streams.values()) assert.equal(base % ALIGN, 0);
  for (const offset of layout.leafOffset) assert.equal(offset % 16, 0);
  assert.equal(splitCalls(layout.groups, programs, 1)[0].length, 1);
  // The program reads the gradient, the params and the moments, and writes params and moments.
  assert.deepEqual(programs[0].streams, ['updates', 'params', 's0.mu', 's0.nu']);
});

test("a group's stream regions start on different lines of a 4 KiB span, spread as far apart as it allows, and never overlap", () => {
  // 2000 leaves of 500 float32 (padded to 512): each region is 4,096,000 bytes, a multiple of the span,
  // so regions laid back to back would all start on the same line of it.
  const params: Record<string, Float32Array> = {};
  for (let i = 0; i < 2000; i++) params[`p${i}`] = new Float32Array(500);
  for (const tx of [adamax(1e-3), chain(ema(0.9), adamax(1e-3))]) {
    const { layout } = plan(tx, params);
    const [group] = layout.groups;
    const bases = [...group.streams.values()];
    const count = bases.length, spacing = Math.floor(STAGGER_SPAN / ALIGN / count) * ALIGN;
    bases.forEach((base, k) => assert.equal(base % STAGGER_SPAN, k * spacing, `stream ${k} of ${count}`));
    const regionBytes = group.length * 4;
    for (let k = 1; k < count; k++) {
      assert.ok(bases[k] >= bases[k - 1] + regionBytes, 'regions do not overlap');
      assert.ok(bases[k] - (bases[k - 1] + regionBytes) < STAGGER_SPAN, 'padding below a span');
    }
    assert.ok(layout.bytes >= bases[count - 1] + regionBytes);
  }
});

test('staggeredStart: a line less than a span past the cursor; up to 64 streams on distinct lines of the span, 0 first', () => {
  for (const cursor of [0, 64, 4032, 4096, 4160, 1_000_064]) {
    for (const count of [1, 3, 4, 5, 9, 64, 100]) {
      const offsets = new Set<number>();
      for (let k = 0; k < count; k++) {
        const at = staggeredStart(cursor, k, count);
        assert.ok(at >= cursor && at - cursor < STAGGER_SPAN && at % ALIGN === 0, `${cursor} ${k} ${count} -> ${at}`);
        if (k === 0) assert.equal(at % STAGGER_SPAN, 0);
        offsets.add(at % STAGGER_SPAN);
      }
      assert.equal(offsets.size, Math.min(count, STAGGER_SPAN / ALIGN), `${count} streams`);
    }
  }
});

test('float32 and float64 leaves, and leaves running different stages, live in separate groups', () => {
  const params = { a: new Float32Array(3), b: new Float64Array(5), c: new Float32Array(17), d: new Float64Array(1), e: new Float32Array(0) };
  const tx = chain(masked(adamax(0.1), { a: true, b: true, c: false, d: false, e: true }), scale(2));
  const { layout, table } = plan(tx, params);
  const describe = layout.groups.map((g) => `${g.dtype}:${g.stages.join('+')}:${g.leaves.map((i) => table.leaves[i].path.join('.')).join(',')}`);
  assert.deepEqual(describe, ['float32:0+1+2:a,e', 'float32:2:c', 'float64:0+1+2:b', 'float64:2:d']);
  // Regions never overlap, and state streams exist only for the groups whose stages keep state.
  const regions = layout.groups.flatMap((g) => [...g.streams.values()].map((base) => [base, base + g.length * (g.dtype === 'float32' ? 4 : 8)]));
  regions.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < regions.length; i++) assert.ok(regions[i][0] >= regions[i - 1][1]);
  assert.deepEqual([...layout.groups[1].streams.keys()], ['params', 'grads']);
  assert.deepEqual([...layout.groups[0].streams.keys()], ['params', 'grads', 's0.mu', 's0.nu']);
});

test('thread shares cover every group exactly once, on whole cache lines', () => {
  const params = { a: new Float32Array(1000), b: new Float64Array(333), c: new Float32Array(5) };
  const { layout, programs } = plan(adamax(0.1), params);
  for (const threads of [1, 2, 3, 8]) {
    const shares = splitCalls(layout.groups, programs, threads);
    assert.equal(shares.length, threads);
    layout.groups.forEach((group, g) => {
      const bpe = group.dtype === 'float32' ? 4 : 8;
      const base = group.streams.get('params')!;
      const pieces = shares.flatMap((calls) => calls.filter((c) => c.kernel === g)).map((c) => [(c.pointers[1] - base) / bpe, c.n]);
      pieces.sort((x, y) => x[0] - y[0]);
      let next = 0;
      for (const [lo, n] of pieces) {
        assert.equal(lo, next);
        assert.equal((lo * bpe) % 64, 0);
        next = lo + n;
      }
      assert.equal(next, group.length);
    });
  }
});

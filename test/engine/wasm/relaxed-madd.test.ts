/**
 * The relaxed-SIMD fma path: where `f32x4.relaxed_madd` / `f64x2.relaxed_madd` is shown fused
 * (relaxed-madd.ts), float32 / float64 kernels use it, and must give the exact fma's bits, like the
 * emulation elsewhere. Node 20 runs
 * relaxed SIMD only behind `--experimental-wasm-relaxed-simd`, so the checks run here (usually the
 * emulation) and in child processes with the flag, with and without x64's FMA3 (`--no-enable-fma3`
 * makes V8 emit `mulps` + `addps`: the probe must then refuse it and the emulation run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fc from 'fast-check';
import { compile } from '../../../src/engine/compile.js';
import { relaxedMaddFused } from '../../../src/engine/wasm/relaxed-madd.js';
import { emitFusedModule } from '../../../src/engine/wasm/fused-module.js';
import { adamax } from '../../../src/alias/adamax.js';
import { applyIfFinite } from '../../../src/transforms/apply-if-finite.js';
import { multiSteps } from '../../../src/transforms/multi-steps.js';
import type { GradientTransformation } from '../../../src/core/transformation.js';
import type { FusedProgram } from '../../../src/engine/program.js';
import { ex } from '../../../src/kernel/expr.js';
import { ReferenceRun, assertBitEqual, cloneTree } from '../support.js';
import { checkFloat32Fma } from './fma-cases.js';
import { runWasm } from './harness.js';
import { FLOAT64, exactFma, hostileFloat64, words } from '../../core/fma-oracle.js';

interface Report {
  /** relaxedMaddFused() in that process. */
  readonly fused: boolean;
  /** relaxedMaddFused('float64') in that process. */
  readonly fused64: boolean;
  /** float64 fma results compared with the integer oracle through relaxed_madd kernels (0 where they cannot run). */
  readonly relaxed64Compared: number;
  /** Whether a kernel with relaxed_madd validates there. */
  readonly validates: boolean;
  /** fma results compared with the exact fma through relaxed_madd kernels (0 where they cannot run). */
  readonly relaxedCompared: number;
  /** Engine steps compared bit for bit with the reference path. */
  readonly engineSteps: number;
}

/**
 * A float32 tree of two leaves (vectors and a scalar tail) with hostile-ish values, and `block` in
 * elements 16..23 (two whole vectors): params of -0 with gradients of 1 there make MultiSteps'
 * p + 0 * y change every lane of those vectors (to +0).
 */
function tree(seed: number, block: number): { w: Float32Array; b: Float32Array } {
  const values = fc.sample(fc.oneof(fc.float({ noNaN: true, noDefaultInfinity: true, min: -4, max: 4 }), fc.float({ noNaN: true, noDefaultInfinity: true })), { numRuns: 1031, seed });
  // Signed zeros (MultiSteps' p + 0 * y is +0 for a -0 p and a positive y), the extremes (non-finite updates) and a subnormal, in every lane.
  const edges = [-0, 0, 3e38, -3e38, 1e-45, -0, 2 ** -126, -1];
  edges.forEach((v, i) => { values[i * 5] = v; values[1024 + (i % 7)] = v; });
  values.fill(block, 16, 24);
  return { w: Float32Array.from(values.slice(0, 1024)), b: Float32Array.from(values.slice(1024)) };
}

/** float64 kernels by `f64x2.relaxed_madd` on the hostile operands of the core tests, against the integer oracle; returns the count. */
function checkFloat64Relaxed(): number {
  const a: number[] = [], b: number[] = [], c: number[] = [];
  const kinds = Object.values(hostileFloat64(words(11)));
  for (let i = 0; i < 3000; i++) for (const make of kinds) { const [x, y, z] = make(); a.push(x); b.push(y); c.push(z); }
  const program: FusedProgram = { dtype: 'float64', streams: ['updates', 'params', 'a'], scalars: [], outputs: [{ stream: 'a', expr: ex.fma(ex.updates, ex.params, ex.state('a')) }] };
  const inputs = { updates: Float64Array.from(a), params: Float64Array.from(b), a: Float64Array.from(c) };
  const got = runWasm(emitFusedModule(program, { shared: false, maximumPages: 256, relaxedMadd: true }), program, inputs, [], a.length, { maximumPages: 256 }).a;
  for (let i = 0; i < a.length; i++) {
    const expected = exactFma(a[i], b[i], c[i], FLOAT64);
    if (!Object.is(got[i], expected) && !(Number.isNaN(got[i]) && Number.isNaN(expected))) assert.fail(`relaxed_madd fma(${a[i]}, ${b[i]}, ${c[i]}) = ${got[i]}, exact ${expected}`);
  }
  return a.length;
}

/** {@link tree} in float64. */
function tree64(seed: number, block: number): { w: Float64Array; b: Float64Array } {
  const t = tree(seed, block);
  return { w: Float64Array.from(t.w, (x, i) => x * (1 + 2 ** -40 * (i % 7))), b: Float64Array.from(t.b) };
}

/** The checks, in this process: kernels through relaxed_madd where it is fused, and the engine's traced adamax against the reference. */
function checks(): Report {
  const fused = relaxedMaddFused();
  const probe: FusedProgram = { dtype: 'float32', streams: ['updates', 'params'], scalars: [], outputs: [{ stream: 'params', expr: ex.fma(ex.updates, ex.params, ex.params) }] };
  const validates = WebAssembly.validate(emitFusedModule(probe, { shared: false, maximumPages: 1, relaxedMadd: true }));
  // A runtime that validates relaxed SIMD but does not fuse must never get such kernels; one that fuses gives the exact bits.
  const relaxedCompared = fused ? checkFloat32Fma({ relaxedMadd: true }) : 0;
  let engineSteps = 0;
  const fused64 = relaxedMaddFused('float64');
  const relaxed64Compared = fused64 ? checkFloat64Relaxed() : 0;
  const txs: [GradientTransformation<any>, typeof tree | typeof tree64][] = [
    [applyIfFinite(adamax(1e-3), { maxConsecutiveErrors: 3 }), tree],
    [multiSteps(adamax(1e-2, { b1: 0.8 }), { everyKSchedule: 3 }), tree],
    [applyIfFinite(adamax(1e-3), { maxConsecutiveErrors: 3 }), tree64],
  ];
  for (const [tx, make] of txs) {
    for (const threads of [1, 2]) {
      const ref = new ReferenceRun(tx as GradientTransformation<unknown>, make(1, -0));
      const s = compile(tx, make(1, -0), { backend: 'wasm', threads, minElementsPerThread: 256 });
      for (let step = 0; step < 7; step++) {
        const g = make(10 + step, 1);
        ref.step(cloneTree(g));
        s.step(cloneTree(g));
        assertBitEqual(s.params, ref.params, 'params');
        assertBitEqual(s.state, ref.state, 'state');
        engineSteps++;
      }
      s.dispose();
    }
  }
  return { fused, fused64, validates, relaxedCompared, relaxed64Compared, engineSteps };
}

/** True when this x64 Linux CPU has FMA3 (undefined where that cannot be told). */
function cpuHasFma(): boolean | undefined {
  if (process.arch !== 'x64') return undefined;
  try {
    return /^flags\s*:.*\bfma\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return undefined;
  }
}

const self = fileURLToPath(import.meta.url);

/** The flags that turn relaxed SIMD on: none where it is on by default (Node 22 and later). */
function relaxedSimdFlags(): string[] {
  const probe: FusedProgram = { dtype: 'float32', streams: ['updates', 'params'], scalars: [], outputs: [{ stream: 'params', expr: ex.fma(ex.updates, ex.params, ex.params) }] };
  return WebAssembly.validate(emitFusedModule(probe, { shared: false, maximumPages: 1, relaxedMadd: true })) ? [] : ['--experimental-wasm-relaxed-simd'];
}

/** The checks in a child process run with `flags`; undefined where this Node rejects a flag (a later Node may drop it). */
function child(flags: readonly string[]): Report | undefined {
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', self, 'child'], { cwd: path.resolve(path.dirname(self), '../../..'), encoding: 'utf8', timeout: 240_000 });
  if (r.status !== 0 && /bad option/i.test(r.stderr)) return undefined;
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Report;
}

if (process.argv[2] === 'child' && path.resolve(process.argv[1] ?? '') === self) {
  process.stdout.write(`${JSON.stringify(checks())}\n`);
} else {
  test('in this process: fused only where relaxed SIMD validates, and bit-identical to the reference either way', () => {
    const r = checks();
    if (r.fused) assert.ok(r.validates && r.relaxedCompared > 10_000);
    if (r.fused64) assert.ok(r.validates && r.relaxed64Compared > 10_000);
    assert.equal(r.engineSteps, 42);
  });

  test('with relaxed SIMD on (Node 20: --experimental-wasm-relaxed-simd): relaxed_madd is used exactly where the CPU fuses it, with the exact fma\'s bits', (t) => {
    const r = child(relaxedSimdFlags());
    if (!r) return t.skip('this Node rejects --experimental-wasm-relaxed-simd');
    assert.equal(r.validates, true);
    const fma = cpuHasFma();
    if (fma !== undefined) assert.equal(r.fused, fma);
    if (fma !== undefined) assert.equal(r.fused64, fma);
    if (r.fused) assert.ok(r.relaxedCompared > 10_000);
    if (r.fused64) assert.ok(r.relaxed64Compared > 10_000);
    assert.equal(r.engineSteps, 42);
  });

  test('with relaxed SIMD but x64 FMA3 disabled (V8 then emits mulps + addps): the probe refuses it and the emulation runs', { skip: process.arch !== 'x64' }, (t) => {
    const r = child([...relaxedSimdFlags(), '--no-enable-fma3']);
    if (!r) return t.skip('this Node rejects one of the flags');
    assert.equal(r.validates, true);
    assert.equal(r.fused, false);
    assert.equal(r.fused64, false);
    assert.equal(r.engineSteps, 42);
  });
}

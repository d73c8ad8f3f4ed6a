/**
 * In which order XLA:CPU's reduce-window kernels add each window, measured with a system LLVM
 * (docs/numerics.md §3, "Windows, inside"). Not part of the package or the
 * tests: a developer's measurement harness, beside sweep.ts (whose target, pipeline and reduce kernel
 * it reuses).
 *
 * For each shape it takes the first `reduce-window` that `TreeReductionRewriter` puts in front of
 * `jnp.sum` (`xlaReduceWindows`), writes the LLVM IR of XLA's loop-fusion kernel for it as read from
 * XLA's sources, optimizes it as `IrCompiler::RunIrPasses` does (sweep.ts), runs it with `lli` on
 * values whose sum depends on the order (random signs and binades), and compares every window sum
 * bit for bit with the in-order window sums optax-ts adds and with the two vectorized orders LLVM
 * was seen to produce (lanes of the padded innermost loop, lanes of rows). It then runs the final reduce's kernel
 * (sweep.ts's) on the measured window sums and compares the leaf's sum with `xlaReduceSum`.
 *
 * The window kernel, from the sources (paths relative to openxla/xla):
 * - the entry's `xla.loop` over the output elements (xla/codegen/emitters/loop_kernel_emitter.cc,
 *   `EmitEntryFunction`): here one work group, a loop nest over the output dimensions, outermost
 *   first, each loop enclosing more than one iteration, so "unroll disable" (`AddLoopUnrollFlags`);
 * - per output element, `EmitReduceWindow` (xla/codegen/emitters/elemental_hlo_to_mlir.cc): the
 *   reduce-window's output-to-input indexing map (window positions are its symbols, the padding its
 *   constraints `0 <= o*w + s - padLow < d`), `EmitLoopNestWithStatus` -> `EmitLoopNest` (peeling
 *   never removes a padding constraint, which depends on the output index) -> `EmitLoopNestImpl`:
 *   `scf::buildLoopNest` over the symbols, first outermost, one accumulator from the init value, each
 *   body inside `scf.if(CheckConstraints(...))` whose else yields the accumulator unchanged; the
 *   reducer call's add is `fadd reassoc` (`AddReductionFastMathFlags`); the innermost window loop is
 *   not unroll-disabled, the others are;
 * - LICM and `UnswitchLoops` (xla/backends/cpu/codegen/fusion_compiler.cc, `AddScalarOptimizationPasses`):
 *   a check that does not depend on the innermost window position guards the whole innermost loop.
 *
 * Usage: npx tsx scripts/llvm-reduce-order/windows.ts [--opt opt-22] [--lli lli-22]
 *   [--cpu sapphirerapids] [--mattr +prefer-no-gather,+prefer-no-scatter] [--seeds 3]
 *   [--shape f32:784,128 ...] [--emit]   (default: the sample of docs/numerics.md §3)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { kernelEntryEnd, o3WithoutSlp, reduceKernelIr } from './sweep.js';
import { orderSensitiveValues } from '../../test/core/order-sensitive-values.js';
import { type ReduceWindowLevel, reduceWindowTerms, valueTerms, xlaReduceSum, xlaReduceWindows } from '../../src/core/xla-reduce-sum.js';

export type Dtype = 'f32' | 'f64';

const irType = (dtype: Dtype): string => (dtype === 'f32' ? 'float' : 'double');
const bytesOf = (dtype: Dtype): number => (dtype === 'f32' ? 4 : 8);
const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
const stridesOf = (dims: readonly number[]): number[] => dims.map((_, k) => product(dims.slice(k + 1)));

/** The kernel of one reduce-window level (the module comment), in sweep.ts's kernel ABI: in, init, out. */
export function reduceWindowKernelIr(dtype: Dtype, level: ReduceWindowLevel): string {
  const T = irType(dtype), size = bytesOf(dtype);
  const { dims, window, out, padLow, padHigh } = level;
  const n = dims.length;
  const inStrides = stridesOf(dims), outStrides = stridesOf(out);
  const count = product(dims), outCount = product(out);
  const windowStrides = stridesOf(window);
  const body: string[] = [];
  const loopMd: number[] = [];
  // A counted loop `for (iv = 0; iv < trip; iv++)`, upstream scf-to-cf style: plain add, icmp slt.
  const open = (iv: string, trip: number, pred: string, phis: string[]): void => {
    body.push(`${iv}.h:`, `  %${iv} = phi i32 [ 0, %${pred} ], [ %${iv}.next, %${iv}.l ]`, ...phis,
      `  %${iv}.c = icmp slt i32 %${iv}, ${trip}`, `  br i1 %${iv}.c, label %${iv}.b, label %${iv}.x`, `${iv}.b:`);
  };
  const close = (iv: string, unrollDisabled: boolean): void => {
    let md = '';
    if (unrollDisabled) {
      loopMd.push(loopMd.length);
      md = `, !llvm.loop !${100 + loopMd.length - 1}`;
    }
    body.push(`  %${iv}.next = add i32 %${iv}, 1`, `  br label %${iv}.h${md}`, `${iv}.x:`);
  };
  const outLoop = (k: number, pred: string): void => {
    open(`o${k}`, out[k], pred, []);
    if (k < n - 1) {
      body.push(`  br label %o${k + 1}.h`);
      outLoop(k + 1, `o${k}.b`);
      body.push(`o${k}.l:`);
    } else {
      body.push('  br label %s0.h');
      const acc = windowLoop(0, `o${k}.b`, '%acc0');
      let index = '0';
      for (let j = 0; j < n; j++) {
        body.push(`  %q${j} = mul nsw i32 %o${j}, ${outStrides[j]}`, `  %qs${j} = add nsw i32 ${index}, %q${j}`);
        index = `%qs${j}`;
      }
      body.push(`  %qp = getelementptr inbounds [${outCount} x ${T}], ptr %out, i32 0, i32 ${index}`,
        `  store ${T} ${acc}, ptr %qp, align ${size}`, `  br label %o${k}.l`, `o${k}.l:`);
    }
    close(`o${k}`, true);
    if (k > 0) body.push(`  br label %o${k - 1}.l`);
  };
  // The window loops: symbol k, accumulator carried; returns the accumulator after the loop.
  const padded = (j: number): boolean => padLow[j] + padHigh[j] > 0;
  // XLA's `UnswitchLoops` (after LICM): when only outer window dimensions are padded, the innermost
  // loop's body is one `scf.if` on a loop-invariant condition, so the check moves in front of the loop.
  const unswitched = n > 1 && !padded(n - 1) && dims.slice(0, n - 1).some((_, j) => padded(j));
  const windowLoop = (k: number, pred: string, accIn: string): string => {
    const iv = `s${k}`;
    if (k === n - 1 && unswitched) {
      const checks = dims.slice(0, n - 1).flatMap((_, j) => (padded(j) ? [j] : []));
      for (const j of checks) {
        body.push(`  %uo${j} = mul nsw i32 %o${j}, ${window[j]}`, `  %us${j} = add nsw i32 %uo${j}, %s${j}`,
          `  %ux${j} = sub nsw i32 %us${j}, ${padLow[j]}`, `  %ulo${j} = icmp sge i32 %ux${j}, 0`,
          `  %uhi${j} = icmp slt i32 %ux${j}, ${dims[j]}`, `  %uok${j} = and i1 %ulo${j}, %uhi${j}`);
      }
      let cond = `%uok${checks[0]}`;
      for (const j of checks.slice(1)) {
        body.push(`  %uand${j} = and i1 ${cond}, %uok${j}`);
        cond = `%uand${j}`;
      }
      body.push(`  br i1 ${cond}, label %${iv}.pre, label %${iv}.skip`, `${iv}.pre:`, `  br label %${iv}.h`);
      pred = `${iv}.pre`;
    }
    open(iv, window[k], pred, [`  %a${k} = phi ${T} [ ${accIn}, %${pred} ], [ %r${k}, %${iv}.l ]`]);
    if (k < n - 1) {
      if (!(k + 1 === n - 1 && unswitched)) body.push(`  br label %s${k + 1}.h`);
      const inner = windowLoop(k + 1, `${iv}.b`, `%a${k}`);
      const from = k + 1 === n - 1 && unswitched ? `s${k + 1}.join` : `s${k + 1}.x`;
      body.push(`${iv}.l:`, `  %r${k} = phi ${T} [ ${inner}, %${from} ]`);
    } else {
      // The input index o*w + s - padLow per dimension, and CheckConstraints on padded dimensions.
      let inBounds = '';
      let index = '0';
      for (let j = 0; j < n; j++) {
        body.push(`  %xo${j} = mul nsw i32 %o${j}, ${window[j]}`, `  %xs${j} = add nsw i32 %xo${j}, %s${j}`,
          `  %x${j} = sub nsw i32 %xs${j}, ${padLow[j]}`);
        if (padded(j) && !unswitched) {
          body.push(`  %lo${j} = icmp sge i32 %x${j}, 0`, `  %hi${j} = icmp slt i32 %x${j}, ${dims[j]}`,
            `  %ok${j} = and i1 %lo${j}, %hi${j}`);
          if (inBounds === '') inBounds = `%ok${j}`;
          else {
            body.push(`  %okc${j} = and i1 ${inBounds}, %ok${j}`);
            inBounds = `%okc${j}`;
          }
        }
        body.push(`  %xm${j} = mul nsw i32 %x${j}, ${inStrides[j]}`, `  %xi${j} = add nsw i32 ${index}, %xm${j}`);
        index = `%xi${j}`;
      }
      const load = [`  %p = getelementptr inbounds [${count} x ${T}], ptr %in, i32 0, i32 ${index}`,
        `  %v = load ${T}, ptr %p, align ${size}, !invariant.load !0`, `  %sum = fadd reassoc ${T} %a${k}, %v`];
      if (inBounds === '') {
        body.push(...load, `  br label %${iv}.l`, `${iv}.l:`, `  %r${k} = phi ${T} [ %sum, %${iv}.b ]`);
      } else {
        body.push(`  br i1 ${inBounds}, label %then, label %${iv}.l`, 'then:', ...load, `  br label %${iv}.l`,
          `${iv}.l:`, `  %r${k} = phi ${T} [ %sum, %then ], [ %a${k}, %${iv}.b ]`);
      }
    }
    close(iv, k < n - 1 && windowStrides[k] > 1);
    if (k === n - 1 && unswitched) {
      body.push(`  br label %${iv}.join`, `${iv}.skip:`, `  br label %${iv}.join`, `${iv}.join:`,
        `  %j${k} = phi ${T} [ %a${k}, %${iv}.x ], [ ${accIn}, %${iv}.skip ]`);
    }
    if (k > 0) body.push(`  br label %s${k - 1}.l`);
    return k === n - 1 && unswitched ? `%j${k}` : `%a${k}`;
  };
  outLoop(0, 'entry');
  const loadArg = (i: number, bytes: number): string =>
    `  %g${i} = getelementptr inbounds %XLA_CPU_KernelArg, ptr %args, i32 ${i}, i32 0\n` +
    `  %p${i} = load ptr, ptr %g${i}, align 8, !invariant.load !0, !dereferenceable !${bytes === count * size ? 1 : bytes === size ? 2 : 3}`;
  return [
    'target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"',
    'target triple = "x86_64-unknown-linux-gnu"',
    '%XLA_CPU_KernelCallFrame = type { ptr, ptr, i64, ptr }',
    '%XLA_CPU_KernelArg = type { ptr, i64 }',
    `define internal void @fusion_wrapped(ptr align 16 dereferenceable(${count * size}) %in, ` +
      `ptr align 16 dereferenceable(${size}) %init, ptr align 16 dereferenceable(${outCount * size}) %out) #1 {`,
    'entry:',
    `  %acc0 = load ${T}, ptr %init, align ${size}, !invariant.load !0`,
    '  br label %o0.h',
    ...body,
    '  ret void',
    '}',
    'define ptr @fusion(ptr %frame) #0 {',
    '  %ag = getelementptr inbounds %XLA_CPU_KernelCallFrame, ptr %frame, i32 0, i32 3',
    '  %args = load ptr, ptr %ag, align 8, !invariant.load !0',
    loadArg(0, count * size), loadArg(1, size), loadArg(2, outCount * size),
    '  call void @fusion_wrapped(ptr %p0, ptr %p1, ptr %p2)',
    ...kernelEntryEnd(),
    `!1 = !{i64 ${count * size}}`,
    `!2 = !{i64 ${size}}`,
    `!3 = !{i64 ${outCount * size}}`,
    ...loopMd.map((i) => `!${100 + i} = distinct !{!${100 + i}, !20}`),
    '!20 = !{!"llvm.loop.unroll.disable"}',
    '',
  ].join('\n');
}

/** A float constant in LLVM's hex notation (a float is written as the double it widens to). */
function hexConstant(value: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  return `0x${view.getBigUint64(0).toString(16).toUpperCase().padStart(16, '0')}`;
}

export interface Toolchain {
  readonly opt: string;
  readonly lli: string;
  readonly cpu: string;
  readonly mattr: string;
  readonly pipeline: string;
  readonly dir: string;
}

/** XLA's passes on a kernel (sweep.ts): inline and clean up, then O3 without SLP; the vectorizer's remarks too. */
export function optimize(tc: Toolchain, ir: string): { ir: string; remarks: string } {
  // `no-verify-fixpoint`: XLA's `InstCombinePass()` does not verify (opt's textual default does, and
  // fails on the bounds checks).
  const inlined = execFileSync(tc.opt, ['-S', '-passes=always-inline,function(instcombine<no-verify-fixpoint>,early-cse,dce),globaldce'], { input: ir, encoding: 'utf8' });
  const run = spawnSync(tc.opt, ['-S', '-mtriple=x86_64-unknown-linux-gnu', `-mcpu=${tc.cpu}`, ...(tc.mattr ? [`-mattr=${tc.mattr}`] : []),
    `-passes=${tc.pipeline}`, '-pass-remarks=loop-vectorize'], { input: inlined, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (run.status !== 0) throw new Error(`${tc.opt} failed: ${run.stderr}`);
  return { ir: run.stdout, remarks: run.stderr };
}

/**
 * Runs an optimized kernel with `lli` (codegen at O3, as XLA's `IrCompiler`): its arguments are the
 * given buffers, in order, inside an `XLA_CPU_KernelCallFrame`; returns the buffer `result` as written.
 */
export function runKernel(tc: Toolchain, dtype: Dtype, kernel: string, buffers: readonly (readonly number[])[], result: number): number[] {
  return runKernelMany(tc, dtype, kernel, [buffers], result)[0];
}

/** {@link runKernel} on several sets of buffers (one `lli` run: one frame per set, called in turn). */
export function runKernelMany(tc: Toolchain, dtype: Dtype, kernel: string, sets: readonly (readonly (readonly number[])[])[], result: number): number[][] {
  const T = irType(dtype), size = bytesOf(dtype);
  const globals = sets.flatMap((buffers, k) => [
    ...buffers.map((b, i) => `@buf${k}_${i} = global [${b.length} x ${T}] [${b.map((v) => `${T} ${hexConstant(v)}`).join(', ')}], align 64`),
    `@args${k} = global [${buffers.length} x %XLA_CPU_KernelArg] [${buffers.map((b, i) => `%XLA_CPU_KernelArg { ptr @buf${k}_${i}, i64 ${b.length * size} }`).join(', ')}]`,
    `@frame${k} = global %XLA_CPU_KernelCallFrame { ptr null, ptr @wg, i64 ${buffers.length}, ptr @args${k} }`,
  ]);
  const main = [
    'target triple = "x86_64-unknown-linux-gnu"',
    '%XLA_CPU_KernelCallFrame = type { ptr, ptr, i64, ptr }',
    '%XLA_CPU_KernelArg = type { ptr, i64 }',
    '@wg = global [3 x i64] zeroinitializer',
    ...globals,
    'declare ptr @fusion(ptr)',
    'declare i64 @write(i32, ptr, i64)',
    'define i32 @main() {',
    ...sets.flatMap((buffers, k) => [`  %r${k} = call ptr @fusion(ptr @frame${k})`,
      `  %w${k} = call i64 @write(i32 1, ptr @buf${k}_${result}, i64 ${buffers[result].length * size})`]),
    '  ret i32 0',
    '}',
    '',
  ].join('\n');
  const kernelPath = join(tc.dir, 'kernel.ll'), mainPath = join(tc.dir, 'main.ll');
  writeFileSync(kernelPath, kernel);
  writeFileSync(mainPath, main);
  const run = spawnSync(tc.lli, ['-O3', `-mcpu=${tc.cpu}`, ...(tc.mattr ? [`-mattr=${tc.mattr}`] : []), `-extra-module=${kernelPath}`, mainPath],
    { maxBuffer: 1 << 28 });
  if (run.status !== 0) throw new Error(`${tc.lli} failed: ${run.stderr.toString()}`);
  const out = run.stdout;
  const total = sets.reduce((n, buffers) => n + buffers[result].length * size, 0);
  if (out.length !== total) throw new Error(`${tc.lli} wrote ${out.length} bytes, expected ${total}`);
  let at = 0;
  return sets.map((buffers) => Array.from({ length: buffers[result].length }, () => {
    const v = dtype === 'f32' ? out.readFloatLE(at) : out.readDoubleLE(at);
    at += size;
    return v;
  }));
}

/**
 * The order LLVM's loop vectorizer gives an innermost window loop with a bounds check (the window's
 * last dimension padded): `ic` interleaved parts of `vf` lanes, part 0 starting from `[acc, -0, ...]`,
 * the others from `-0`; element `j` of the row (`j = i*vf*ic + p*vf + l`) goes to part `p`, lane `l`,
 * skipped when out of bounds (masked loads); then the parts are added in turn to part 0 and the lanes
 * reduced by halving (`vector.reduce.fadd` lowered with shuffles). With one lane and one part it is
 * optax-ts's in-order window sum.
 */
function laneModelWindowSums(dtype: Dtype, level: ReduceWindowLevel, x: readonly number[], vf: number, ic: number): number[] {
  const { dims, window, out, padLow } = level;
  const n = dims.length, last = n - 1, strides = stridesOf(dims);
  const round = dtype === 'f32' ? Math.fround : (v: number) => v;
  const rows = product(window.slice(0, last));
  return Array.from({ length: product(out) }, (_, w) => {
    const origin = out.map((_, k) => (Math.floor(w / product(out.slice(k + 1))) % out[k]) * window[k] - padLow[k]);
    let acc = 0;
    for (let r = 0; r < rows; r++) {
      let offset = 0, rowInside = true;
      for (let k = 0; k < last; k++) {
        const at = origin[k] + (Math.floor(r / product(window.slice(k + 1, last))) % window[k]);
        if (at < 0 || at >= dims[k]) rowInside = false;
        offset += at * strides[k];
      }
      const valid = (j: number): boolean => rowInside && origin[last] + j >= 0 && origin[last] + j < dims[last];
      const parts = Array.from({ length: ic }, () => new Array<number>(vf).fill(-0));
      parts[0][0] = acc;
      for (let j = 0; j < window[last]; j++) {
        if (!valid(j)) continue;
        const p = Math.floor(j / vf) % ic, l = j % vf;
        parts[p][l] = round(parts[p][l] + x[offset + origin[last] + j]);
      }
      const lanes = parts[0];
      for (let p = 1; p < ic; p++) for (let l = 0; l < vf; l++) lanes[l] = round(parts[p][l] + lanes[l]);
      for (let half = vf / 2; half >= 1; half /= 2) for (let l = 0; l < half; l++) lanes[l] = round(lanes[l] + lanes[l + half]);
      acc = lanes[0];
    }
    return acc;
  });
}

/**
 * The order of a window whose row loop (the one around the unrolled innermost loop) LLVM vectorized,
 * as for a plain reduce ("Vectorized rows" in docs/numerics.md §3): for each run of that loop, lane `l`
 * of `[acc, -0, ...]` adds rows `l, l + vf, ...` element by element, then the lanes are reduced by
 * halving. Only for windows without padding (the row loop then has no bounds check).
 */
function rowLaneModelWindowSums(dtype: Dtype, level: ReduceWindowLevel, x: readonly number[], vf: number): number[] {
  const { dims, window, out } = level;
  const n = dims.length, strides = stridesOf(dims);
  const round = dtype === 'f32' ? Math.fround : (v: number) => v;
  const rows = window[n - 2], cols = window[n - 1], outer = product(window.slice(0, n - 2));
  return Array.from({ length: product(out) }, (_, w) => {
    const origin = out.map((_, k) => (Math.floor(w / product(out.slice(k + 1))) % out[k]) * window[k]);
    let acc = 0;
    for (let g = 0; g < outer; g++) {
      let base = 0;
      for (let k = 0; k < n - 2; k++) base += (origin[k] + (Math.floor(g / product(window.slice(k + 1, n - 2))) % window[k])) * strides[k];
      const lanes = new Array<number>(vf).fill(-0);
      lanes[0] = acc;
      for (let r = 0; r < rows; r++) {
        const at = base + (origin[n - 2] + r) * strides[n - 2] + origin[n - 1];
        for (let c = 0; c < cols; c++) lanes[r % vf] = round(lanes[r % vf] + x[at + c]);
      }
      for (let half = vf / 2; half >= 1; half /= 2) for (let l = 0; l < half; l++) lanes[l] = round(lanes[l] + lanes[l + half]);
      acc = lanes[0];
    }
    return acc;
  });
}

/** optax-ts's window sums of one level (src/core/xla-reduce-sum.ts, `reduceWindowTerms`), row-major. */
export function optaxWindowSums(dtype: Dtype, level: ReduceWindowLevel, x: readonly number[]): number[] {
  const terms = reduceWindowTerms(valueTerms(dtype === 'f32' ? 'float32' : 'float64', x), level);
  return Array.from({ length: product(level.out) }, (_, w) => terms.run(w, w + 1, -0));
}

interface Measurement {
  /** Window sums (over all seeds) equal to optax-ts's in-order sums, to the lane or row model (-1: neither applies), in all. */
  readonly windowsInOrder: number;
  readonly windowsModel: number;
  readonly windows: number;
  /** The window kernel's vectorized loops, `VFxIC` each (`.`: none), and the final reduce's VF (0: none). */
  readonly vf: string;
  readonly lastVf: number;
  /** Window sums (over all seeds) equal to optax-ts's (`reduceWindowTerms`: in order, or in lanes where the last dimension is padded). */
  readonly windowsOptax: number;
  /** Seeds whose leaf sum equals `xlaReduceSum`'s. */
  readonly sumsEqual: number;
}

/**
 * One shape, over `seeds` data sets: window sums by LLVM against in order and against the lane or row model,
 * then the leaf's sum (the final reduce's kernel run on the measured window sums) against `xlaReduceSum`.
 */
export function measure(tc: Toolchain, dtype: Dtype, shape: readonly number[], seeds: readonly number[]): Measurement {
  const { levels, last } = xlaReduceWindows(shape);
  if (levels.length !== 1) throw new Error(`[${shape.join(', ')}]: ${levels.length} window levels; this harness measures shapes with one`);
  const level = levels[0];
  const kernel = optimize(tc, reduceWindowKernelIr(dtype, level));
  const vectorized = [...kernel.remarks.matchAll(/vectorization width: (\d+), interleaved count: (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  const lastPadded = level.padLow[level.dims.length - 1] + level.padHigh[level.dims.length - 1] > 0;
  // The lane model applies where the one vectorized loop is the padded innermost window loop; the row
  // model where it is the row loop of a window without padding; in order where nothing is vectorized.
  const unpadded = level.dims.every((_, k) => level.padLow[k] + level.padHigh[k] === 0);
  const modelOf = (x: readonly number[]): number[] | null => {
    if (vectorized.length === 0) return laneModelWindowSums(dtype, level, x, 1, 1);
    if (vectorized.length !== 1) return null;
    if (lastPadded) return laneModelWindowSums(dtype, level, x, vectorized[0][0], vectorized[0][1]);
    if (unpadded && level.dims.length >= 2 && vectorized[0][1] === 1) return rowLaneModelWindowSums(dtype, level, x, vectorized[0][0]);
    return null;
  };
  // The final reduce of the window sums, with sweep.ts's reduce kernel (its ABI: in, out, init).
  const finalKernel = optimize(tc, reduceKernelIr(dtype, last.length > 0 ? last : [1], { constInit: false, nswIv: false }));
  const lastVf = Number(/vectorization width: (\d+)/.exec(finalKernel.remarks)?.[1] ?? 0);
  let windowsInOrder = 0, windowsModel = 0, windows = 0, sumsEqual = 0, windowsOptax = 0;
  for (const seed of seeds) {
    const x = orderSensitiveValues(dtype, product(shape), seed);
    const sums = runKernel(tc, dtype, kernel.ir, [x, [0], new Array(product(level.out)).fill(0)], 2);
    const inOrder = laneModelWindowSums(dtype, level, x, 1, 1); // one lane, one part: in order, optax-ts's sums
    const modelled = modelOf(x);
    windows += sums.length;
    windowsInOrder += sums.filter((v, i) => Object.is(v, inOrder[i])).length;
    const optax = optaxWindowSums(dtype, level, x);
    windowsOptax += sums.filter((v, i) => Object.is(v, optax[i])).length;
    if (modelled === null) windowsModel = -Infinity;
    else windowsModel += sums.filter((v, i) => Object.is(v, modelled[i])).length;
    const [leafSum] = runKernel(tc, dtype, finalKernel.ir, [sums, [0], [0]], 1);
    if (Object.is(leafSum, xlaReduceSum(valueTerms(dtype === 'f32' ? 'float32' : 'float64', x), shape))) sumsEqual++;
  }
  return { windowsInOrder, windowsModel: Math.max(windowsModel, -1), windows, windowsOptax, vf: vectorized.map(([v, i]) => `${v}x${i}`).join('+') || '.', lastVf, sumsEqual };
}

/** The sample of docs/numerics.md §3: vectors past 32 and rank-2/3 leaves of real models. */
function defaultShapes(): { dtype: Dtype; dims: number[] }[] {
  const vectors = [...Array.from({ length: 32 }, (_, i) => 33 + i), 65, 70, 96, 97, 100, 127, 128, 129, 200, 255, 256, 300, 333, 500, 512, 640, 700, 777, 784, 999, 1000, 1024];
  const ranked = [[33, 7], [64, 64], [100, 3], [784, 128], [128, 784], [3, 1000], [40, 40, 40], [33, 33], [64, 10], [10, 64], [128, 128],
    [256, 256], [100, 100], [50, 2], [2, 50], [33, 8], [8, 33], [300, 5], [512, 10], [1000, 10], [10, 1000], [64, 3, 3], [3, 3, 64], [128, 64, 3], [64, 4], [96, 8], [64, 2]];
  return (['f32', 'f64'] as const).flatMap((dtype) => [...vectors.map((n) => [n]), ...ranked].map((dims) => ({ dtype, dims })));
}

function main(argv: string[]): void {
  const option = (name: string, fallback: string): string => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : fallback;
  };
  const opt = option('--opt', 'opt-22');
  const given = argv.flatMap((a, i) => (argv[i - 1] === '--shape' ? [a] : [])).map((s) => {
    const [dtype, dims] = s.split(':');
    if (dtype !== 'f32' && dtype !== 'f64') throw new Error(`bad --shape ${s}: expected f32:d0,d1,... or f64:...`);
    return { dtype: dtype as Dtype, dims: dims.split(',').map(Number) };
  });
  if (argv.includes('--emit')) {
    process.stdout.write(reduceWindowKernelIr(given[0].dtype, xlaReduceWindows(given[0].dims).levels[0]));
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'windows-'));
  const tc: Toolchain = {
    opt, lli: option('--lli', opt.replace('opt', 'lli')), cpu: option('--cpu', 'sapphirerapids'),
    mattr: option('--mattr', '+prefer-no-gather,+prefer-no-scatter'), pipeline: o3WithoutSlp(opt), dir,
  };
  const seeds = Array.from({ length: Number(option('--seeds', '3')) }, (_, i) => i + 1);
  console.log(`${tc.opt}/${tc.lli} -mcpu=${tc.cpu} -mattr=${tc.mattr || '(none)'} seeds ${seeds.join(',')}`);
  console.log('shape: window sums equal to in order / to the model (lanes, rows) / all; window-kernel VFxIC; final-reduce VF; window sums equal to optax-ts\'s; seeds whose leaf sum == xlaReduceSum');
  try {
    for (const { dtype, dims } of given.length > 0 ? given : defaultShapes()) {
      const m = measure(tc, dtype, dims, seeds);
      const verdict = m.windowsInOrder === m.windows ? 'in-order' : m.windowsModel !== m.windows ? 'OTHER' : m.vf.endsWith('x1') ? 'rows' : 'lanes';
      console.log(`${dtype} [${dims.join(', ')}]: ${verdict} ${m.windowsInOrder}/${m.windowsModel < 0 ? '-' : m.windowsModel}/${m.windows}; vf ${m.vf}; final vf ${m.lastVf || '.'}; optax-ts ${m.windowsOptax}/${m.windows}; sum ${m.sumsEqual}/${seeds.length}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Run only as a script, so fixture.ts can import the kernels and the toolchain.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main(process.argv.slice(2));

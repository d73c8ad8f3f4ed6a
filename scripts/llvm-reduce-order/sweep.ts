/**
 * Which row loops of `jnp.sum(x)` LLVM vectorizes, measured with a system LLVM (docs/numerics.md §3,
 * "Vectorized rows"). Not part of the package or the tests: a developer's measurement harness.
 *
 * It writes, for each shape, the LLVM IR that XLA:CPU's loop-fusion emitter produces for
 * `reduce(x, init)` over every dimension, as read from XLA's sources (the facts and their files are in
 * docs/numerics.md §3), then runs what XLA's `IrCompiler::RunIrPasses` runs:
 *
 * - `RunInlineAndOptPasses` (always-inline, instcombine, early-cse, dce, globaldce), because the kernel
 *   calls an internal always-inline `_wrapped` function;
 * - the O3 module pipeline with the SLP vectorizer removed (`GetPipelineTuningOptions`), for
 *   `-mcpu` (the host CPU name XLA passes; default sapphirerapids, the recording machine) and `-mattr`
 *   (default `+prefer-no-gather,+prefer-no-scatter`, which `EnableFeaturesIfAVX512` adds on any AVX-512
 *   host);
 *
 * and prints the vectorization factor the loop vectorizer's remark reports (`.` = not vectorized).
 *
 * Usage: npx tsx scripts/llvm-reduce-order/sweep.ts [--opt opt-22] [--cpu sapphirerapids]
 *   [--mattr +prefer-no-gather,+prefer-no-scatter] [--max 16] [--shape f32:4,5 ...] [--nsw-iv]
 *   [--const-init] [--emit]   (--emit prints the IR of the first --shape and exits)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

type Dtype = 'f32' | 'f64';

interface Variant {
  /** The reduce's init value is the constant 0.0 instead of a loaded operand. */
  readonly constInit: boolean;
  /** The induction variables' increments carry `nsw` (XLA's scf-to-cf lowering does not emit it). */
  readonly nswIv: boolean;
}

/**
 * The kernel for a reduce of `dims` to a scalar: `_wrapped` holds the loop nest (outermost first, i32
 * indices as XLA's 32-bit index layout gives for small arrays, `nsw` index arithmetic from
 * `SimplifyAffine`, `!invariant.load` loads from a `[N x T]` GEP, `fadd reassoc` from
 * `AddReductionFastMathFlags`, `llvm.loop.unroll.disable` on loops enclosing more than one inner
 * iteration from `AddLoopUnrollFlags`); the entry function reads the buffers from the call frame with
 * `!dereferenceable` and carries `prefer-vector-width`, frame pointers and uwtable as
 * `WrapEntryWithCallFrame` sets them.
 */
export function reduceKernelIr(dtype: Dtype, dims: readonly number[], variant: Variant): string {
  const T = dtype === 'f32' ? 'float' : 'double';
  const size = dtype === 'f32' ? 4 : 8;
  const n = dims.length;
  const count = dims.reduce((a, b) => a * b, 1);
  const strides = dims.map((_, k) => dims.slice(k + 1).reduce((a, b) => a * b, 1));
  const unrollDisabled = (k: number): boolean => k < n - 1 && strides[k] > 1;
  const body: string[] = [];
  const loop = (k: number, pred: string, accIn: string): { exit: string; acc: string } => {
    body.push(`h${k}:`,
      `  %i${k} = phi i32 [ 0, %${pred} ], [ %i${k}.next, %l${k} ]`,
      `  %a${k} = phi ${T} [ ${accIn}, %${pred} ], [ %r${k}, %l${k} ]`,
      `  %c${k} = icmp slt i32 %i${k}, ${dims[k]}`,
      `  br i1 %c${k}, label %b${k}, label %x${k}`,
      `b${k}:`);
    if (k < n - 1) {
      body.push(`  br label %h${k + 1}`);
      const inner = loop(k + 1, `b${k}`, `%a${k}`);
      body.push(`l${k}:`, `  %r${k} = phi ${T} [ ${inner.acc}, %${inner.exit} ]`);
    } else {
      let index = '';
      for (let j = 0; j < n; j++) {
        let term = `%i${j}`;
        if (strides[j] !== 1) {
          body.push(`  %m${j} = mul nsw i32 %i${j}, ${strides[j]}`);
          term = `%m${j}`;
        }
        if (index === '') index = term;
        else {
          body.push(`  %s${j} = add nsw i32 ${index}, ${term}`);
          index = `%s${j}`;
        }
      }
      body.push(`  %p = getelementptr inbounds [${count} x ${T}], ptr %in, i32 0, i32 ${index}`,
        `  %v = load ${T}, ptr %p, align ${size}, !invariant.load !0`,
        `  %r${k} = fadd reassoc ${T} %a${k}, %v`,
        `  br label %l${k}`,
        `l${k}:`);
    }
    body.push(`  %i${k}.next = add${variant.nswIv ? ' nsw' : ''} i32 %i${k}, 1`,
      `  br label %h${k}${unrollDisabled(k) ? `, !llvm.loop !${10 + k}` : ''}`,
      `x${k}:`);
    if (k > 0) body.push(`  br label %l${k - 1}`);
    return { exit: `x${k}`, acc: `%a${k}` };
  };
  const initParam = variant.constInit ? '' : `ptr align 16 dereferenceable(${size}) %init, `;
  const acc0 = variant.constInit ? '0.0' : '%acc0';
  const { acc } = loop(0, 'entry', acc0);
  const loadArg = (i: number, bytes: number): string =>
    `  %g${i} = getelementptr inbounds %XLA_CPU_KernelArg, ptr %args, i32 ${i}, i32 0\n` +
    `  %p${i} = load ptr, ptr %g${i}, align 8, !invariant.load !0, !dereferenceable !${bytes === size ? 2 : 1}`;
  return [
    'target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"',
    'target triple = "x86_64-unknown-linux-gnu"',
    '%XLA_CPU_KernelCallFrame = type { ptr, ptr, i64, ptr }',
    '%XLA_CPU_KernelArg = type { ptr, i64 }',
    '%kernel_dim3 = type { i64, i64, i64 }',
    `define internal void @fusion_wrapped(ptr align 16 dereferenceable(${count * size}) %in, ${initParam}` +
      `ptr align 16 dereferenceable(${size}) %out, i32 %wx, i32 %wy, i32 %wz) #1 {`,
    'entry:',
    ...(variant.constInit ? [] : [`  %acc0 = load ${T}, ptr %init, align ${size}, !invariant.load !0`]),
    '  br label %h0',
    ...body,
    `  store ${T} ${acc}, ptr %out, align ${size}`,
    '  ret void',
    '}',
    'define ptr @fusion(ptr %frame) #0 {',
    '  %ag = getelementptr inbounds %XLA_CPU_KernelCallFrame, ptr %frame, i32 0, i32 3',
    '  %args = load ptr, ptr %ag, align 8, !invariant.load !0',
    loadArg(0, count * size),
    loadArg(1, size),
    ...(variant.constInit ? [] : [loadArg(2, size)]),
    '  %wg = getelementptr inbounds %XLA_CPU_KernelCallFrame, ptr %frame, i32 0, i32 1',
    '  %w = load ptr, ptr %wg, align 8',
    ...['x', 'y', 'z'].flatMap((d, i) => [
      `  %w${d}g = getelementptr inbounds %kernel_dim3, ptr %w, i32 0, i32 ${i}`,
      `  %w${d}64 = load i64, ptr %w${d}g, align 8, !invariant.load !0`,
      `  %w${d} = trunc nsw i64 %w${d}64 to i32`,
    ]),
    `  call void @fusion_wrapped(ptr %p0, ${variant.constInit ? '' : 'ptr %p2, '}ptr %p1, i32 %wx, i32 %wy, i32 %wz)`,
    ...kernelEntryEnd(),
    `!1 = !{i64 ${count * size}}`,
    `!2 = !{i64 ${size}}`,
    ...dims.map((_, k) => `!${10 + k} = distinct !{!${10 + k}, !20}`),
    '!20 = !{!"llvm.loop.unroll.disable"}',
    '',
  ].join('\n');
}

/**
 * The end of a kernel's entry function and the module's attributes as `WrapEntryWithCallFrame` sets
 * them (`#0` the entry, `#1` the always-inline `_wrapped` function), and `!0`, the empty node that
 * `!invariant.load` names. Shared with windows.ts.
 */
export function kernelEntryEnd(): string[] {
  return ['  ret ptr null', '}', 'attributes #0 = { uwtable "frame-pointer"="all" "prefer-vector-width"="256" }',
    'attributes #1 = { alwaysinline }', '!0 = !{}'];
}

/** The O3 module pipeline of `opt` without the SLP vectorizer (XLA sets `SLPVectorization = false`). */
export function o3WithoutSlp(opt: string): string {
  const printed = execFileSync(opt, ['-O3', '-print-pipeline-passes', '-disable-output', '-'], {
    input: 'define void @f() {\n  ret void\n}\n', encoding: 'utf8',
  }).trim();
  const pipeline = printed.replace(/slp-vectorizer,/g, '');
  if (pipeline === printed || pipeline.includes('slp-vectorizer')) throw new Error('could not remove slp-vectorizer from the O3 pipeline');
  return pipeline;
}

/** The vectorization factor LLVM chose for the kernel's loops (0: none vectorized). */
export function vectorizationFactor(opt: string, pipeline: string, cpu: string, mattr: string, ir: string): number {
  const inlined = execFileSync(opt, ['-S', '-passes=always-inline,function(instcombine,early-cse,dce),globaldce'], { input: ir, encoding: 'utf8' });
  const args = ['-S', '-o', '/dev/null', '-mtriple=x86_64-unknown-linux-gnu', `-mcpu=${cpu}`, ...(mattr ? [`-mattr=${mattr}`] : []),
    `-passes=${pipeline}`, '-pass-remarks=loop-vectorize'];
  const run = spawnSync(opt, args, { input: inlined, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${opt} failed: ${run.stderr}`);
  const remarks = run.stderr;
  const match = /vectorization width: (\d+)/.exec(remarks);
  return match ? Number(match[1]) : 0;
}

function main(argv: string[]): void {
  const option = (name: string, fallback: string): string => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : fallback;
  };
  const opt = option('--opt', 'opt-22');
  const cpu = option('--cpu', 'sapphirerapids');
  const mattr = option('--mattr', '+prefer-no-gather,+prefer-no-scatter');
  const max = Number(option('--max', '16'));
  const variant: Variant = { constInit: argv.includes('--const-init'), nswIv: argv.includes('--nsw-iv') };
  const shapes = argv.flatMap((a, i) => (argv[i - 1] === '--shape' ? [a] : [])).map((s) => {
    const [dtype, dims] = s.split(':');
    if (dtype !== 'f32' && dtype !== 'f64') throw new Error(`bad --shape ${s}: expected f32:d0,d1,... or f64:...`);
    return { dtype: dtype as Dtype, dims: dims.split(',').map(Number) };
  });
  if (argv.includes('--emit')) {
    process.stdout.write(reduceKernelIr(shapes[0].dtype, shapes[0].dims, variant));
    return;
  }
  const pipeline = o3WithoutSlp(opt);
  const vf = (dtype: Dtype, dims: number[]): number => vectorizationFactor(opt, pipeline, cpu, mattr, reduceKernelIr(dtype, dims, variant));
  console.log(`${opt} -mcpu=${cpu} -mattr=${mattr || '(none)'}${variant.nswIv ? ' nsw-iv' : ''}${variant.constInit ? ' const-init' : ''}`);
  if (shapes.length > 0) {
    for (const { dtype, dims } of shapes) console.log(`${dtype} [${dims.join(', ')}]: ${vf(dtype, dims) || 'not vectorized'}`);
    return;
  }
  // The [rows, cols] grid: row-loop trip count down, row length across.
  for (const dtype of ['f32', 'f64'] as const) {
    console.log(`${dtype} rows\\cols ${Array.from({ length: max }, (_, c) => String(c + 1).padStart(2)).join(' ')}`);
    for (let rows = 2; rows <= max; rows++) {
      const cells = Array.from({ length: max }, (_, c) => vf(dtype, [rows, c + 1]));
      console.log(`${dtype} ${String(rows).padStart(9)} ${cells.map((v) => (v ? String(v).padStart(2) : ' .')).join(' ')}`);
    }
  }
}

// Run only as a script, so windows.ts can import the pipeline and the IR pieces.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main(process.argv.slice(2));

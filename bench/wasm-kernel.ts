/**
 * ns/element of the emitted WebAssembly SIMD kernel for adamax -> scale(-lr) -> p + u (float32, one
 * stream set: updates, params, mu, nu, updated in place), single thread, for each main-loop unrolling,
 * with the plain-JS fused loop for comparison.
 *
 *   npx tsx bench/wasm-kernel.ts [n ...]     (default: 1e6 1e7)
 */
import { jsKernelSource, instantiateJsKernel } from '../src/engine/js-kernel.js';
import type { FusedProgram, KernelFunction } from '../src/engine/program.js';
import { emitFusedModule } from '../src/engine/wasm/fused-module.js';
import { instantiateFusedKernel } from '../src/engine/wasm/instantiate.js';
import { type Expr, ex, substitute } from '../src/kernel/expr.js';
import { applyKernel } from '../src/transforms/apply-updates.js';
import { scaleByAdamax } from '../src/transforms/scale-by-adamax.js';
import { scaleKernel } from '../src/transforms/scale.js';

/** The adamax step as the engine composes it, with the kernel of a one-leaf tree (`m * (1/b)`, one division) or of a many-leaf one (`m / b`, two). */
function adamaxProgram(leaves: 'one' | 'many'): FusedProgram {
  const definition = scaleByAdamax().elementwise!;
  const adamax = leaves === 'one' ? definition.singleLeafKernel! : definition.kernel;
  const memo = new Map<Expr, Expr>();
  const stage0 = (e: Expr): Expr => (e.kind === 'scalar' ? ex.scalar(`adamax.${e.name}`) : e);
  const u0 = substitute(adamax.updates, stage0, memo);
  const mu = substitute(adamax.state.mu, stage0, memo);
  const nu = substitute(adamax.state.nu, stage0, memo);
  const u1 = substitute(scaleKernel.updates, (e) => (e.kind === 'updates' ? u0 : e.kind === 'scalar' ? ex.scalar('lr.step_size') : e));
  const p = substitute(applyKernel.updates, (e) => (e.kind === 'updates' ? u1 : e));
  return {
    dtype: 'float32',
    streams: ['updates', 'params', 'mu', 'nu'],
    scalars: ['adamax.one', 'adamax.one_minus_b1', 'adamax.b1', 'adamax.eps', 'adamax.b2', 'adamax.bias', 'lr.step_size'],
    outputs: [{ stream: 'params', expr: p }, { stream: 'mu', expr: mu }, { stream: 'nu', expr: nu }],
  };
}

const SCALARS = [1, 0.1, 0.9, 1e-8, 0.999, 0.1, -1e-3].map(Math.fround);

/**
 * Best of several samples, in ns per element, by wall clock and by this process's CPU time (the
 * machine may be shared: CPU time leaves out the time other processes held the core).
 */
function measure(name: string, run: KernelFunction, n: number, pointers: number[]): void {
  const call = (): void => run(n, ...pointers, ...SCALARS); // extra arguments are ignored
  // Warm up: V8 first runs WebAssembly in its baseline compiler (Liftoff) and tiers up to the
  // optimizing one (TurboFan) after some executions; only the steady state matters for training.
  const warmup = Math.max(5, Math.ceil(5e7 / n));
  for (let i = 0; i < warmup; i++) call();
  const callsPerSample = Math.max(1, Math.ceil(2e7 / n));
  let wall = Infinity, cpu = Infinity;
  for (let r = 0; r < 15; r++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let i = 0; i < callsPerSample; i++) call();
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, Number(process.hrtime.bigint() - t0) / (callsPerSample * n));
    cpu = Math.min(cpu, ((c.user + c.system) * 1e3) / (callsPerSample * n));
  }
  console.log(`  ${name.padEnd(30)} ${wall.toFixed(3)} ns/element wall, ${cpu.toFixed(3)} cpu`);
}

/** Same streams and traffic, almost no arithmetic: the memory floor of this loop shape. */
function copyProgram(): FusedProgram {
  return {
    dtype: 'float32',
    streams: ['updates', 'params', 'mu', 'nu'],
    scalars: [],
    outputs: [{ stream: 'params', expr: ex.add(ex.params, ex.updates) }, { stream: 'mu', expr: ex.state('mu') }, { stream: 'nu', expr: ex.state('nu') }],
  };
}

const sizes = process.argv.slice(2).map(Number);
for (const n of sizes.length ? sizes : [1e6, 1e7]) {
  const bytesPerStream = Math.ceil((n * 4) / 64) * 64 + 64;
  const pages = Math.ceil((4 * bytesPerStream) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const pointers = [0, 1, 2, 3].map((k) => k * bytesPerStream);
  const [g, p, mu, nu] = pointers.map((o) => new Float32Array(memory.buffer, o, n));
  for (let i = 0; i < n; i++) {
    g[i] = Math.sin(i * 0.37) * 0.01;
    p[i] = Math.cos(i * 0.11);
    mu[i] = 0;
    nu[i] = 0;
  }
  for (const leaves of ['one', 'many'] as const) {
    const program = adamaxProgram(leaves);
    console.log(`adamax + lr + apply, float32, n = ${n.toExponential(0)}, ${leaves === 'one' ? "a one-leaf tree's kernel (1 division)" : "a many-leaf tree's kernel (2 divisions)"}; 4 streams, 28 bytes/element moved`);
    for (const unroll of [1, 2, 4] as const) {
      // As the engine emits it: the stream offsets compiled in, one moving index.
      const module = new WebAssembly.Module(emitFusedModule(program, { shared: false, maximumPages: pages, unroll, streamOffsets: pointers }));
      measure(`wasm simd, unroll ${unroll}`, instantiateFusedKernel(module, memory), n, pointers);
    }
    const moving = new WebAssembly.Module(emitFusedModule(program, { shared: false, maximumPages: pages }));
    measure('wasm simd, a pointer per stream', instantiateFusedKernel(moving, memory), n, pointers);
    measure('plain JS fused loop', instantiateJsKernel(jsKernelSource(program), memory.buffer), n, pointers);
  }
  const copy = new WebAssembly.Module(emitFusedModule(copyProgram(), { shared: false, maximumPages: pages }));
  measure('memory floor (p+g, copy mu,nu)', instantiateFusedKernel(copy, memory), n, pointers);
}

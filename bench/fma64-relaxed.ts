/**
 * float64 fused multiply-adds in WebAssembly: `f64x2.relaxed_madd` (where relaxed-madd.ts shows it
 * fused) against the exact emulation, on applyIfFinite(adamax) over float64 leaves (the traced inner
 * step, whose first moment is an fma), one thread, interleaved in one process: CPU time per step of
 * each, and their ratio. Both steppers' results are checked bit-identical first.
 *
 *   node --experimental-wasm-relaxed-simd --import tsx bench/fma64-relaxed.ts [elements] [rounds]
 */
import { adamax, applyIfFinite, compile } from '../src/index.js';
import { forceRelaxedMadd, relaxedMaddFused } from '../src/engine/wasm/relaxed-madd.js';

const n = Number(process.argv[2] ?? 1e6), rounds = Number(process.argv[3] ?? 15), stepsPerSample = Math.max(1, Math.ceil(2e7 / n));
if (!relaxedMaddFused('float64')) throw new Error('f64x2.relaxed_madd is not fused here (run with --experimental-wasm-relaxed-simd on a CPU with FMA)');

function stepper(relaxed: boolean) {
  forceRelaxedMadd(relaxed ? undefined : false);
  const params = { w: Float64Array.from({ length: n }, (_, i) => Math.sin(i)) };
  const s = compile(applyIfFinite(adamax(1e-3), { maxConsecutiveErrors: 3 }), params, { backend: 'wasm', threads: 1 });
  forceRelaxedMadd(undefined);
  (s.grads as { w: Float64Array }).w.set(params.w.map((x, i) => 0.5 * Math.cos(0.37 * i) + 1e-3 * x));
  return s;
}
const emulated = stepper(false), relaxed = stepper(true);
for (let i = 0; i < 20; i++) { emulated.step(); relaxed.step(); }
const we = (emulated.params as { w: Float64Array }).w, wr = (relaxed.params as { w: Float64Array }).w;
for (let i = 0; i < n; i++) if (!Object.is(we[i], wr[i])) throw new Error(`element ${i}: emulated ${we[i]}, relaxed ${wr[i]}`);

const cpuPerStep = (s: typeof emulated): number => {
  const c0 = process.cpuUsage();
  for (let i = 0; i < stepsPerSample; i++) s.step();
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1e3) / (stepsPerSample * n); // ns per element
};
const e: number[] = [], r: number[] = [];
for (let k = 0; k < rounds; k++) { e.push(cpuPerStep(emulated)); r.push(cpuPerStep(relaxed)); }
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const best = (xs: number[]): number => Math.min(...xs);
console.log(`applyIfFinite(adamax), float64, ${n} elements, 1 thread, ${rounds} interleaved samples of ${stepsPerSample} steps (CPU time):`);
console.log(`  emulated fma:     best ${best(e).toFixed(3)} ns/element, median ${median(e).toFixed(3)}`);
console.log(`  relaxed_madd fma: best ${best(r).toFixed(3)} ns/element, median ${median(r).toFixed(3)}`);
console.log(`  emulated / relaxed: best ${(best(e) / best(r)).toFixed(2)}x, median ${(median(e) / median(r)).toFixed(2)}x`);
emulated.dispose();
relaxed.dispose();

// Interleaved CPU-time ratio of injected cases to plain adamax (1e5 float32 leaf, wasm 1 thread).
const root = process.argv[2];
const { compile } = await import(`${root}/src/engine/compile.js`);
const { adamax } = await import(`${root}/src/alias/adamax.js`);
const { chain } = await import(`${root}/src/transforms/chain.js`);
const { clip } = await import(`${root}/src/transforms/clip.js`);
const { ema } = await import(`${root}/src/transforms/ema.js`);
const { clipByGlobalNorm } = await import(`${root}/src/transforms/clip-by-global-norm.js`);
const { injectHyperparams } = await import(`${root}/src/transforms/inject-hyperparams.js`);
const { linearSchedule } = await import(`${root}/src/schedules/linear.js`);
const { cosineDecaySchedule } = await import(`${root}/src/schedules/cosine-decay.js`);
const lr = 1e-3, T = 100_000;
const lin = (a: number, b: number) => linearSchedule({ initValue: a, endValue: b, transitionSteps: T });
const backend = process.argv[3] ?? 'wasm';
const cases: Record<string, () => any> = {
  'adamax': () => adamax(lr),
  'inject cosine lr': () => injectHyperparams(adamax)(cosineDecaySchedule({ initValue: lr, decaySteps: T })),
  'inject b1 sched': () => injectHyperparams(adamax)({ learningRate: lr, b1: lin(0.8, 0.9) }),
  'inject b1,b2,eps sched': () => injectHyperparams(adamax)({ learningRate: lr, b1: lin(0.8, 0.9), b2: lin(0.99, 0.999), eps: cosineDecaySchedule({ initValue: 1e-6, decaySteps: T }) }),
  'inject f64 hyper b1': () => injectHyperparams(adamax, { hyperparamDtype: 'float64' })({ learningRate: lr, b1: lin(0.8, 0.9) }),
  'chain(inject clip, inject ema, adamax)': () => chain(injectHyperparams(clip)(lin(1, 0.1)), injectHyperparams(ema)(lin(0.5, 0.9)), adamax(lr)),
  'chain(inject clipByGlobalNorm, adamax)': () => chain(injectHyperparams(clipByGlobalNorm)(lin(1, 0.1)), adamax(lr)),
};
const n = Number(process.argv[4] ?? 1e5);
const params = () => ({ w: Float32Array.from({ length: n }, (_, i) => Math.cos(i)) });
const steppers = Object.fromEntries(Object.entries(cases).map(([k, make]) => {
  const s = compile(make(), params(), { backend, threads: 1 });
  (s.grads as any).w.set(Float32Array.from({ length: n }, (_, i) => 0.5 * Math.sin(0.37 * i) + 0.01));
  return [k, s];
}));
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
const batch = (s: any, k: number) => { const a = cpu(); for (let i = 0; i < k; i++) s.step(); return cpu() - a; };
const K = Number(process.argv[5] ?? 200);
for (const s of Object.values(steppers)) batch(s, 3 * K); // warm up
const totals: Record<string, number> = Object.fromEntries(Object.keys(cases).map((k) => [k, 0]));
for (let round = 0; round < 10; round++) for (const [k, s] of Object.entries(steppers)) totals[k] += batch(s, K);
for (const k of Object.keys(cases)) console.log(`${k.padEnd(40)} ${(totals[k] / (10 * K) * 1e3).toFixed(1).padStart(8)} us/step  ratio ${(totals[k] / totals.adamax).toFixed(3)}`);
process.exit(0);

import * as o from './src/index.js';
import { ReferenceRun, assertBitEqual, cloneTree } from './test/engine/support.js';
const p = () => ({ a: new Float32Array([1, 2, 3]), b: new Float64Array([-1, 0.5]) });
const txs: [string, any][] = [
  ['inject adamax', o.injectHyperparams(o.adamax)(1e-1)],
  ['inject adamax sched', o.injectHyperparams(o.adamax)((c: number) => 0.1 / (c + 1), { b1: 0.8 })],
  ['inject adamaxw', o.injectHyperparams(o.adamaxw)(0.1, { weightDecay: 0.3, mask: (t: any) => ({ a: true, b: false }) })],
  ['inject clip', o.chain(o.injectHyperparams(o.clipByGlobalNorm)((c: number) => 1), o.adamax(0.1))],
  ['inject ema', o.injectHyperparams(o.ema)(0.9)],
];
for (const [n, tx] of txs) {
  for (const backend of ['wasm', 'js', 'interpreter'] as const) {
    const ref = new ReferenceRun(tx, p());
    const s = o.compile(tx, p(), { backend });
    for (let i = 0; i < 4; i++) {
      const g = { a: new Float32Array([i, -1, 2]), b: new Float64Array([0.5 * i, 3]) };
      if (i === 2 && !n.includes('sched') && n.includes('adamax')) { s.setState(o.setHyperparams(s.state as any, { learningRate: 0.5 } as any)); ref.state = o.setHyperparams(ref.state as any, { learningRate: 0.5 }); }
      ref.step(cloneTree(g)); s.step(cloneTree(g));
      assertBitEqual(s.params, ref.params, n); assertBitEqual(s.state, ref.state, n);
    }
    console.log(n, backend, s.backend, s.referenceReason ?? '');
    s.dispose();
  }
}

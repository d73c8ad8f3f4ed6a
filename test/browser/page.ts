/**
 * Runs in the browser (bundled by test/browser/browser.test.ts): the core API, every fused backend and
 * worker threads, each compared bit for bit with the reference path. Writes one line per check into
 * the page body, which the test reads back with headless Chromium's --dump-dom.
 */
import { adamax, applyUpdates, compile, fromFlaxBytes, linearSchedule, sharedMemorySupported, toFlaxBytes } from '../../src/index.js';

function run(): string[] {
  const lines: string[] = [];
  const tx = adamax(linearSchedule({ initValue: 0.1, endValue: 0.01, transitionSteps: 10 }));
  const n = 1 << 17;
  const init = { w: new Float32Array(n).map((_, i) => Math.sin(i)), b: new Float64Array(7).fill(0.5) };
  const gradsAt = (k: number) => ({ w: init.w.map((v, i) => Math.cos(v * k + i)), b: init.b.map((v) => v * k) });
  let params = { w: init.w.slice(), b: init.b.slice() };
  let state = tx.init(params);
  for (let k = 0; k < 5; k++) {
    const [u, s] = tx.update(gradsAt(k), state, params);
    params = applyUpdates(params, u);
    state = s;
  }
  const configs = [['wasm', 1], ['wasm', 2], ['js', 1], ['interpreter', 1]] as const;
  for (const [backend, threads] of configs) {
    const st = compile(tx, init, { backend, threads, minElementsPerThread: 1024 });
    for (let k = 0; k < 5; k++) st.step(gradsAt(k));
    const same = st.params.w.every((v, i) => Object.is(v, params.w[i])) && st.params.b.every((v, i) => Object.is(v, params.b[i]));
    lines.push(`${backend} threads=${st.threads} identical=${same}`);
    st.dispose();
  }
  const restored = fromFlaxBytes(tx.init(init), toFlaxBytes(state));
  lines.push(`flax count=${restored[0].count}`);
  lines.push(`isolated=${String((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated)} shared=${sharedMemorySupported()}`);
  return lines;
}

let text: string;
try {
  text = run().join('\n');
} catch (e) {
  text = `ERROR ${(e as Error).stack ?? String(e)}`;
}
document.body.setAttribute('data-result', 'done');
document.body.textContent = text;

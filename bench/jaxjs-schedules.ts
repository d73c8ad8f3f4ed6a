/**
 * How closely the jax-js adapter's in-graph schedules and bias correction follow the pure path, and
 * what they cost: every schedule family (test/jax-js/schedule-families.ts) and adamax's bias correction
 * for several b1, evaluated jitted on jax-js's wasm device at every count 0..N (default 100,000) and at
 * large counts, compared bit for bit with the pure path (mismatches and the largest difference in
 * float32 ulps); then the CPU time of a jitted adamaxw step on a small tree with the count scalars
 * evaluated in the graph against read from a table (`countScalars: 'table'`), interleaved.
 *
 * Run: `npx tsx bench/jaxjs-schedules.ts [N]`. Not part of `npm run bench` (it is a parity check).
 */
import * as jax from '@jax-js/jax';
import { adamaxw, scaleByAdamax } from '../src/index.js';
import { applyUpdates, toJaxJs, toJaxJsSchedule } from '../src/jax-js/index.js';
import { ArithAnchors, JaxScheduleArith } from '../src/jax-js/schedule-arith.js';
import { type CompiledElementwise, definitionScalars } from '../src/kernel/elementwise.js';
import { SCHEDULES } from '../test/jax-js/schedule-families.js';

const view = new DataView(new ArrayBuffer(4));
/** The float32 bit pattern as an ordered integer, so that the distance of two floats counts ulps. */
function ordered(x: number): number {
  view.setFloat32(0, x);
  const u = view.getInt32(0);
  return u < 0 ? -(u & 0x7fffffff) : u;
}

function compare(name: string, counts: Int32Array, got: ArrayLike<number>, want: (c: number) => number): string {
  let mismatches = 0, maxUlps = 0;
  for (let i = 0; i < counts.length; i++) {
    const w = want(counts[i]), g = got[i];
    if (Object.is(w, g) || (Number.isNaN(w) && Number.isNaN(g))) continue;
    mismatches++;
    maxUlps = Math.max(maxUlps, Math.abs(ordered(w) - ordered(g)));
  }
  return `${name.padEnd(24)} ${String(counts.length).padStart(8)} counts  ${String(mismatches).padStart(6)} mismatches  max ${maxUlps} ulp`;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 100_000);
  await jax.init('wasm');
  jax.defaultDevice('wasm');
  const np = jax.numpy;
  const big = [1_000_000, 16_777_217, 123_456_789, 2 ** 31 - 1];
  const counts = Int32Array.from([...Array.from({ length: n + 1 }, (_, i) => i), ...big]);
  console.log(`# in-graph evaluation (jitted, wasm) against the pure path, counts 0..${n} and ${big.join(', ')}`);
  for (const [name, schedule] of Object.entries(SCHEDULES)) {
    const lr = toJaxJsSchedule(schedule);
    const out = jax.jit(lr)(np.array(counts));
    const f32 = out.dtype === 'float32';
    console.log(compare(name, counts, await out.data(), (c) => (f32 ? Math.fround(schedule(c)) : schedule(c))));
    lr.dispose();
  }
  const anchors = new ArithAnchors();
  for (const b1 of [0.9, 0.99, 0.999, 0.9999]) {
    const def = scaleByAdamax({ b1 }).elementwise as CompiledElementwise<any>;
    const f = jax.jit((count: jax.numpy.Array) => {
      const arith = new JaxScheduleArith('bench', anchors);
      const bias = def.countScalars!(arith.input(count), 'float32', arith).bias;
      count.dispose();
      return arith.finish(bias, 'float32');
    });
    const got = await f(np.array(counts)).data();
    console.log(compare(`bias correction b1=${b1}`, counts, got, (c) => definitionScalars(def, { count: c }, 'float32', undefined).bias as number));
  }
  anchors.dispose();

  // Step cost: graph against table, interleaved batches, CPU time.
  const schedule = SCHEDULES.warmupCosine;
  const shapes = { w: [64, 64], b: [64] };
  const steps: Record<string, () => void> = {};
  const ready: Record<string, () => Promise<unknown>> = {};
  const disposers: (() => void)[] = [];
  for (const mode of ['graph', 'table'] as const) {
    const opt = toJaxJs(adamaxw(schedule, { weightDecay: 1e-4 }), { countScalars: mode });
    const fn = jax.jit((p: any, s: any, g: any) => {
      const [u, ns] = opt.update(g, s, jax.tree.ref(p));
      return [applyUpdates(p, u), ns];
    }) as any;
    let p: any = Object.fromEntries(Object.entries(shapes).map(([k, sh]) => [k, np.ones(sh)]));
    let s: any = opt.init(jax.tree.ref(p));
    const g = Object.fromEntries(Object.entries(shapes).map(([k, sh]) => [k, np.full(sh, 0.01)]));
    steps[mode] = () => { [p, s] = fn(p, s, jax.tree.ref(g)); };
    ready[mode] = () => jax.blockUntilReady(p);
    disposers.push(() => { jax.tree.dispose(p); jax.tree.dispose(s); jax.tree.dispose(g); opt.dispose(); });
  }
  const cpu: Record<string, number[]> = { graph: [], table: [] };
  for (let round = 0; round < 12; round++) {
    for (const mode of ['graph', 'table']) {
      const t0 = process.cpuUsage();
      for (let i = 0; i < 50; i++) steps[mode]();
      await ready[mode]();
      const t = process.cpuUsage(t0);
      if (round >= 2) cpu[mode].push((t.user + t.system) / 50 / 1000);
    }
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[xs.length >> 1];
  console.log(`# jitted adamaxw(warmupCosine) step, 64x64 + 64 params: graph ${median(cpu.graph).toFixed(3)} ms CPU, table ${median(cpu.table).toFixed(3)} ms CPU (median of 10 interleaved batches of 50)`);
  disposers.forEach((d) => d());
}

await main();

/**
 * One optimizer run on a 2-D test function: the parameters {xy: float32[2]} stepped by the fused
 * engine (or the pure path, when chosen), with the pure path (`tx.update` + `applyUpdates`) run in
 * lockstep to supply the updates for the panel and to check, bit for bit, that both agree.
 * Everything the views show is recorded per step.
 */
import { type Runner, PureRunner, GradientToAdamax, float32BiasCorrection, buildOptimizer, findAdamaxState, makeRunner } from './optimizer.js';
import { FUNCTIONS } from './functions.js';
import { Random } from './random.js';
import type { RunConfig, Settings } from './settings.js';

type XY = { xy: Float32Array };

export interface Trajectory {
  readonly describe: string;
  readonly backend: string;
  readonly threads: number;
  readonly note: string | undefined;
  /** Whether every step's parameters equal the pure path's, bit for bit (undefined on the pure path itself). */
  readonly identical: boolean | undefined;
  /** Index k = after k steps (k = 0: the start). */
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly loss: (number | null)[];
  /** The learning rate each step used (index k: step k; index 0 unused). */
  readonly lr: (number | null)[];
  readonly gx: Float64Array;
  readonly gy: Float64Array;
  /**
   * The gradient Adamax received at step k (after clipping and MultiSteps' accumulation; NaN where
   * MultiSteps emitted no update). Under MultiSteps the mean is taken in double here, so it is shown
   * rounded; without MultiSteps it is exact.
   */
  readonly seen: [Float64Array, Float64Array];
  readonly m: [Float64Array, Float64Array];
  readonly v: [Float64Array, Float64Array];
  readonly u: [Float64Array, Float64Array];
  readonly count: Int32Array;
  readonly bias: Float64Array;
  /** The first step whose parameters are not finite, if any. */
  readonly divergedAt: number | undefined;
  readonly miniStep: Int32Array | undefined;
}

export type TrajectoryResult = { ok: true; value: Trajectory } | { ok: false; error: string };

export function runTrajectory(settings: Settings, run: RunConfig): TrajectoryResult {
  let built;
  try {
    built = buildOptimizer(run);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const fn = FUNCTIONS[settings.fn];
  const n = settings.steps;
  const start = (): XY => ({ xy: Float32Array.of(settings.x0, settings.y0) });
  let runner: Runner<XY>;
  let pure: PureRunner<XY>;
  try {
    // Two parameters: one thread whatever is chosen (the engine would not split them anyway).
    runner = makeRunner(built.tx, start(), settings.backend, 1, () => ({ xy: new Float32Array(2) }));
    pure = runner instanceof PureRunner ? runner : new PureRunner(built.tx, start(), { xy: new Float32Array(2) });
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const arr = () => new Float64Array(n + 1);
  const t: Trajectory = {
    describe: built.describe, backend: runner.backend, threads: runner.threads, note: runner.note, identical: runner === pure ? undefined : true,
    x: arr(), y: arr(), loss: new Array(n + 1).fill(null), lr: new Array(n + 1).fill(null), gx: arr(), gy: arr(), seen: [arr().fill(NaN), arr().fill(NaN)],
    m: [arr(), arr()], v: [arr(), arr()], u: [arr(), arr()], count: new Int32Array(n + 1), bias: arr(), divergedAt: undefined,
    miniStep: run.multiSteps > 1 ? new Int32Array(n + 1) : undefined,
  };
  const w = t as { -readonly [K in keyof Trajectory]: Trajectory[K] };
  const record = (k: number, p: Float32Array) => {
    t.x[k] = p[0];
    t.y[k] = p[1];
    const f = fn.f(p[0], p[1]) - fn.fMin;
    t.loss[k] = Number.isFinite(f) ? Math.max(f, 1e-12) : null;
    if (!Number.isFinite(p[0]) || !Number.isFinite(p[1])) w.divergedAt ??= k;
  };
  record(0, runner.params.xy);
  const noise = new Random(settings.seed);
  const toAdamax = new GradientToAdamax(run);
  try {
    for (let k = 1; k <= n; k++) {
      const p = runner.params.xy;
      let [gx, gy] = fn.grad(p[0], p[1]);
      if (fn.noisy) {
        gx += settings.noise * noise.normal();
        gy += settings.noise * noise.normal();
      }
      runner.grads.xy[0] = gx;
      runner.grads.xy[1] = gy;
      if (pure !== runner) pure.grads.xy.set(runner.grads.xy);
      t.gx[k] = runner.grads.xy[0];
      t.gy[k] = runner.grads.xy[1];
      toAdamax.add({ xy: runner.grads.xy });
      const before = findAdamaxState(pure.state)!.count;
      t.lr[k] = built.lrAt(before);
      runner.step();
      if (pure !== runner) pure.step();
      const after = runner.params.xy;
      if (pure !== runner && !(Object.is(after[0], pure.params.xy[0]) && Object.is(after[1], pure.params.xy[1]))) w.identical = false;
      record(k, after);
      const s = findAdamaxState(runner.state)!;
      const mu = (s.mu as XY).xy, nu = (s.nu as XY).xy, u = pure.lastUpdates?.xy;
      t.m[0][k] = mu[0]; t.m[1][k] = mu[1];
      t.v[0][k] = nu[0]; t.v[1][k] = nu[1];
      t.u[0][k] = u ? u[0] : NaN; t.u[1][k] = u ? u[1] : NaN;
      t.count[k] = s.count;
      const seen = toAdamax.take(s.count !== before)?.xy;
      if (seen) {
        t.seen[0][k] = seen[0];
        t.seen[1][k] = seen[1];
      }
      t.bias[k] = float32BiasCorrection(run.b1, s.count);
      if (t.miniStep) t.miniStep[k] = (runner.state as { mini_step: number }).mini_step;
    }
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  } finally {
    runner.dispose();
  }
  return { ok: true, value: t };
}

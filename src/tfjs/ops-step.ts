import * as tf from '@tensorflow/tfjs-core';
import { OptaxError } from '../core/errors.js';
import { INT32_MAX } from '../core/numerics.js';
import { roundTo } from '../core/dtype.js';
import type { CombinatorInfo, GradientTransformation } from '../core/transformation.js';
import { countTable } from '../kernel/count-table.js';
import { type CompiledElementwise, type ElementwiseDefinition, definitionScalars, kernelForTree } from '../kernel/elementwise.js';
import type { ClipByGlobalNormTransformation } from '../transforms/clip-by-global-norm.js';
import type { InjectionControl } from '../transforms/inject-hyperparams.js';
import { type Mask, maskTree, resolveMask } from '../transforms/masked.js';
import { accumulateKernel, advanceCounters, runningMeanFactor } from '../transforms/multi-steps.js';
import { type ParamLabels, maskOf, resolveLabels } from '../transforms/partition.js';
import type { SkipFunction } from '../transforms/skip-updates.js';
import { type TracedOptions, canTrace, composeTraced, stagesOf, stateAt, tracedStateRoots } from '../transforms/traced.js';
import { ShapedArray, leafData } from '../tree/leaf.js';
import { clipByGlobalNormOps, reduceSum, sumOfSquares } from './global-norm.js';
import { lowerKernel } from './lower-kernel.js';
import { DeviceValue, readState, readStateSync, stateOnDevice, writeState } from './ops-state.js';
import { opsUnsupported } from './ops-support.js';

/**
 * The optimizer step as tfjs ops, for backends whose tensors live elsewhere (webgl, webgpu): the
 * transformation is interpreted as its pure `update` is, with tensors. The per-element rule of each
 * elementwise transformation (its `ex.*` graph, the one the engine compiles; composed and rewritten
 * as XLA does inside `lax.cond` for the inner step of applyIfFinite and multiSteps, transforms/traced.ts)
 * is lowered to tfjs ops, the state kept in tfjs variables, so a step never reads a tensor back:
 * - per-step scalars come from the control state on the host (counts, hyperparameters), except
 *   inside applyIfFinite, where whether a step counts is known only on the device: the counts live
 *   there, and the scalars are read from tables of the pure path's values (kernel/count-table.ts);
 * - masked and partition select, per variable, which lowered transformation runs (the masks and
 *   labels are resolved once per set of variables: a mask function is called with a tree of the
 *   variables' shapes, zeros, rather than with the gradients);
 * - injectHyperparams feeds its hyperparameters (host numbers, set between steps) as scalars;
 * - applyIfFinite reduces the finiteness on the device, keeps its counters there, and selects the
 *   state and the updates with `tf.where`;
 * - multiSteps keeps its accumulator in variables; its mini-step counter is host state, so whether a
 *   step emits is decided on the host, unless a skip function (a device reduction) or an enclosing
 *   applyIfFinite decides whether a mini-step counts: then its counters live on the device too.
 * On the cpu backend, where each op rounds to float32 as XLA does, a step is bit-identical to the
 * pure path (tested there). What it cannot run: see ops-support.ts.
 */

/** Whether state writes happen: always, never (a multiSteps mini-step that does not emit), or where a device boolean holds. */
type Commit = boolean | tf.Tensor;

interface Context {
  readonly commit: Commit;
  /** Counts live on the device (inside applyIfFinite). */
  readonly deviceCounts: boolean;
}

/** True when {@link OpsStep} can run `tx`. */
export function opsSupported(tx: GradientTransformation<any>): boolean {
  return opsUnsupported(tx) === undefined;
}

export { lowerKernel } from './lower-kernel.js';

/** A table of count-dependent scalars on the device: constants, and columns read at min(count, settle). */
interface DeviceTable {
  readonly constants: Record<string, tf.Tensor>;
  readonly columns: Record<string, tf.Tensor>;
  readonly settle: tf.Tensor;
}

/** A compiled step over a set of variables: the state as tfjs variables, laid out as `tx.init` lays it out. */
export class OpsStep {
  private readonly tree: any;
  private readonly owned: tf.Variable[] = [];
  private readonly variables = new Map<string, tf.Variable>();
  /** Each variable's placeholder in the trees masks and labels are resolved against. */
  private readonly placeholders = new Map<string, ShapedArray>();
  private readonly selections = new Map<object, Map<string, readonly string[]>>();
  private readonly tables = new Map<string, DeviceTable>();

  constructor(private readonly tx: GradientTransformation<any>, private readonly names: readonly string[], variables: readonly tf.Variable[]) {
    const why = opsUnsupported(tx);
    if (why) throw new OptaxError(`tfjs ops: cannot run ${why}`);
    const params: Record<string, ShapedArray> = {};
    names.forEach((n, i) => {
      params[n] = new ShapedArray(new Float32Array(variables[i].size), variables[i].shape);
      this.placeholders.set(n, params[n]);
      this.variables.set(n, variables[i]);
    });
    this.tree = stateOnDevice(tx, tx.init(params), this.owned);
  }

  /** The state now (read back), laid out as `tx.init` lays it out. */
  get state(): unknown {
    return readStateSync(this.tree);
  }

  /** The state now, read back asynchronously (see ops-state.ts `readState`). */
  readState(): Promise<unknown> {
    return readState(this.tree);
  }

  /** Loads a state of the same layout (checked leaf by leaf before anything changes). */
  setState(state: unknown): void {
    writeState(this.tree, state);
  }

  /** One step: `variable <- variable + tx.update(gradient, state, variable)`, all as tfjs ops. */
  step(grads: ReadonlyMap<string, tf.Tensor>, variables: readonly tf.Variable[]): void {
    variables.forEach((v, i) => this.variables.set(this.names[i], v));
    tf.tidy(() => {
      const u = new Map<string, tf.Tensor>(this.names.map((n) => [n, grads.get(n)!]));
      this.run(this.tx, this.tree, u, this.names, { commit: true, deviceCounts: false });
      this.names.forEach((n, i) => variables[i].assign(tf.add(variables[i], u.get(n)!)));
    });
  }

  dispose(): void {
    tf.dispose(this.owned);
    for (const t of this.tables.values()) tf.dispose([...Object.values(t.constants), ...Object.values(t.columns), t.settle]);
    this.tables.clear();
  }

  /** `tx.update` on the updates `u` of the variables `active` (the others pass through), its state in `node`. */
  private run(tx: GradientTransformation<any>, node: any, u: Map<string, tf.Tensor>, active: readonly string[], ctx: Context): void {
    if (tx.parts) {
      tx.parts.forEach((p, i) => this.run(p, node[i], u, active, ctx));
      return;
    }
    const c = tx.combinator;
    switch (c?.kind) {
      case 'masked':
        this.run(c.inner, node.inner_state, u, this.select(tx, '', active, (tree) => resolveMask(c.mask as Mask, tree, 'masked')), ctx);
        return;
      case 'partition': {
        const known = Object.keys(c.transforms);
        for (const group of known) {
          const chosen = this.select(tx, group, active, (tree) => maskOf(resolveLabels(c.labels as ParamLabels, tree, 'updates', known), group));
          this.run(c.transforms[group], node.inner_states[group].inner_state, u, chosen, ctx);
        }
        return;
      }
      case 'injectHyperparams': {
        const inner = this.injectStep(c, node, ctx, false);
        this.run(inner, node.inner_state, u, active, ctx);
        return;
      }
      case 'applyIfFinite': this.applyIfFinite(c, node, u, active, ctx); return;
      case 'multiSteps':
        if (node.mini_step instanceof DeviceValue) this.multiStepsOnDevice(c, node, u, active, ctx);
        else this.multiSteps(c, node, u, active, ctx);
        return;
      default:
    }
    if ((tx as ClipByGlobalNormTransformation).reduction) {
      clipByGlobalNormOps((tx as ClipByGlobalNormTransformation).reduction, u, active);
      return;
    }
    const def = tx.elementwise as CompiledElementwise<Record<string, unknown>>;
    const { kernel } = kernelForTree(def, active.map((n) => this.variables.get(n)!.size));
    const scalars = this.scalars(def, tx, node, ctx, false);
    for (const n of active) {
      const state = Object.fromEntries(def.stateLeaves.map((k) => [k, node[k][n] as tf.Variable]));
      const out = lowerKernel(kernel, { updates: u.get(n)!, params: this.variables.get(n)!, state, scalars });
      for (const k of def.stateLeaves) write(state[k], out.state[k], ctx.commit);
      u.set(n, out.updates);
    }
    this.advance(def, node, ctx);
  }

  /**
   * The variables of `active` a mask keeps (`maskFor` resolves it against a tree of every variable,
   * null where not active, as the pure path's masked tree), once per set of active variables.
   */
  private select(owner: object, group: string, active: readonly string[], maskFor: (tree: Record<string, ShapedArray | null>) => unknown): readonly string[] {
    const key = `${group}\u0001${active.join('\u0000')}`;
    let byActive = this.selections.get(owner);
    if (!byActive) this.selections.set(owner, (byActive = new Map()));
    const hit = byActive.get(key);
    if (hit) return hit;
    const on = new Set(active);
    const tree: Record<string, ShapedArray | null> = {};
    for (const n of this.names) tree[n] = on.has(n) ? this.placeholders.get(n)! : null;
    const kept = maskTree(tree, maskFor(tree) as never, 'updates') as Record<string, unknown>;
    const chosen = active.filter((n) => kept[n] !== null && kept[n] !== undefined);
    byActive.set(key, chosen);
    return chosen;
  }

  /** injectHyperparams' step: the inner transformation of this step's hyperparameters; the control advanced where the state is written. */
  private injectStep(c: Extract<CombinatorInfo, { kind: 'injectHyperparams' }>, node: any, ctx: Context, traced: boolean): GradientTransformation<any> {
    const { inner_state: _, ...own } = node;
    const params = Object.fromEntries([...this.placeholders]);
    if (own.count instanceof DeviceValue) {
      // Inside applyIfFinite (no scheduled hyperparameter: see ops-support.ts): the count is on the
      // device, and the hyperparameters are what the state holds.
      c.check({ ...node, count: 0 });
      const { inner } = c.step({ ...own, count: 0 } as InjectionControl, c.dtypeFor(params, params), traced);
      if (ctx.commit !== false) write(own.count.variable, increment(own.count.variable), ctx.commit);
      return inner;
    }
    c.check(node);
    const { control, inner } = c.step(own as InjectionControl, c.dtypeFor(params, params), traced);
    if (ctx.commit === true) Object.assign(node, control);
    return inner;
  }

  /** The per-step scalars of an elementwise transformation, as tensors: from the host control, or from a table at the device count. */
  private scalars(def: ElementwiseDefinition<Record<string, unknown>>, tx: object, node: any, ctx: Context, traced: boolean): Record<string, tf.Tensor> {
    if (!ctx.deviceCounts) {
      const control = Object.fromEntries(Object.keys(def.initControl()).map((k) => [k, node[k]]));
      def.checkControl(control);
      return Object.fromEntries(Object.entries(definitionScalars(def, control, 'float32', undefined, traced)).map(([k, s]) => [k, typeof s === 'number' ? tf.scalar(s, 'float32') : tf.tensor(leafData(s), [...s.shape], 'float32')]));
    }
    const table = this.table(def, tx, traced);
    const out: Record<string, tf.Tensor> = { ...table.constants };
    const columns = Object.entries(table.columns);
    if (columns.length > 0) {
      const index = tf.minimum((node.count as DeviceValue).variable, table.settle);
      for (const [k, col] of columns) out[k] = tf.reshape(tf.gather(col, tf.reshape(index, [1])), []);
    }
    return out;
  }

  private table(def: ElementwiseDefinition<Record<string, unknown>>, tx: object, traced: boolean): DeviceTable {
    const key = `${this.tableIndex(tx)}/${traced}`;
    let t = this.tables.get(key);
    if (!t) {
      const host = countTable('toTfjs', def.name, def, tx, 'float32', traced);
      t = tf.tidy(() => ({
        constants: Object.fromEntries(Object.entries(host.constants).map(([k, v]) => [k, tf.keep(tf.scalar(v, 'float32'))])),
        columns: Object.fromEntries(Object.entries(host.columns).map(([k, v]) => [k, tf.keep(tf.tensor1d(Float32Array.from(v), 'float32'))])),
        settle: tf.keep(tf.scalar(host.settle, 'int32')),
      }));
      this.tables.set(key, t);
    }
    return t;
  }

  private readonly txIndex = new Map<object, number>();
  private tableIndex(tx: object): number {
    let i = this.txIndex.get(tx);
    if (i === undefined) this.txIndex.set(tx, (i = this.txIndex.size));
    return i;
  }

  /** The control after a step: advanced on the host where the state is written, or on the device (the count, saturating) where the commit is. */
  private advance(def: ElementwiseDefinition<Record<string, unknown>>, node: any, ctx: Context): void {
    if (ctx.commit === false) return;
    if (!ctx.deviceCounts) {
      if (ctx.commit !== true) throw new OptaxError('tfjs ops: a host control under a device condition');
      const control = Object.fromEntries(Object.keys(def.initControl()).map((k) => [k, node[k]]));
      Object.assign(node, def.advance(control));
      return;
    }
    if (node.count instanceof DeviceValue) write(node.count.variable, increment(node.count.variable), ctx.commit);
  }

  /**
   * applyIfFinite: the finiteness of the updates reduced on the device, the counters kept there
   * (guardStep's rule as ops), the inner step run (traced, as optax runs it in `lax.cond`) with its
   * state written where it applies, its updates where it applies and zeros elsewhere.
   */
  private applyIfFinite(c: Extract<CombinatorInfo, { kind: 'applyIfFinite' }>, node: any, u: Map<string, tf.Tensor>, active: readonly string[], ctx: Context): void {
    let finite: tf.Tensor = tf.scalar(true, 'bool');
    for (const n of active) finite = tf.logicalAnd(finite, tf.all(tf.isFinite(u.get(n)!)));
    const count = (node.notfinite_count as DeviceValue).variable, total = (node.total_notfinite as DeviceValue).variable;
    const notfinite = tf.where(finite, tf.scalar(0, 'int32'), increment(count));
    const apply = tf.logicalOr(finite, tf.greater(notfinite, tf.scalar(c.maxConsecutiveErrors, 'int32')));
    write(count, notfinite, ctx.commit);
    write((node.last_finite as DeviceValue).variable, finite, ctx.commit);
    write(total, tf.where(finite, total, increment(total)), ctx.commit);
    const commit = ctx.commit === false ? false : ctx.commit === true ? apply : tf.logicalAnd(ctx.commit, apply);
    const inner = new Map(active.map((n) => [n, u.get(n)!]));
    this.runTraced(c.inner, node.inner_state, inner, active, { commit, deviceCounts: true }, {});
    for (const n of active) u.set(n, tf.where(apply, inner.get(n)!, tf.zerosLike(inner.get(n)!)));
  }

  /**
   * multiSteps: the running mean (or sum) into the accumulator, the inner step run on it at every
   * mini-step (traced, as optax runs it), kept only when the mini-step emits (decided on the host);
   * otherwise the updates are `0 * u` as XLA simplifies `emit * u` (multi-steps.ts `silentUpdates`).
   */
  private multiSteps(c: Extract<CombinatorInfo, { kind: 'multiSteps' }>, node: any, u: Map<string, tf.Tensor>, active: readonly string[], ctx: Context): void {
    const k = c.everyK(node.gradient_step);
    const n = node.mini_step;
    const kernel = accumulateKernel(c.useGradMean);
    const r = { r: tf.scalar(runningMeanFactor(n, 'float32'), 'float32') };
    const acc = new Map(active.map((name) => [name, lowerKernel(kernel, { updates: u.get(name)!, state: { acc: node.acc_grads[name] }, scalars: r }).updates]));
    const { emit, mini_step, gradient_step } = advanceCounters(n, node.gradient_step, k);
    const inner = new Map(acc);
    const preScale = this.runTraced(c.inner, node.inner_opt_state, inner, active, { commit: ctx.commit === true && emit, deviceCounts: false }, { computedUpdates: true });
    const zero = tf.scalar(0, 'float32');
    for (const name of active) {
      const out = inner.get(name)!;
      if (emit) u.set(name, out);
      else if (out.rank === 0) u.set(name, tf.zerosLike(out));
      else u.set(name, tf.mul(zero, preScale && out.size > 1 ? preScale.get(name)! : out));
      write(node.acc_grads[name], emit ? tf.mul(zero, acc.get(name)!) : acc.get(name)!, ctx.commit);
    }
    if (ctx.commit === true) Object.assign(node, { mini_step, gradient_step });
  }

  /**
   * multiSteps with its counters on the device (a skip function decides there whether a mini-step
   * counts, or it runs inside applyIfFinite): the skip function as a device reduction
   * (skip-updates.ts: skipNotFinite counts the non-finite elements, skipLargeUpdates sums the leaves'
   * sums of squares), the running-mean factor read from a table at the mini-step, whether the step
   * emits a device boolean; updates, accumulators and counters selected with `tf.where`, the inner
   * state written where it emits.
   */
  private multiStepsOnDevice(c: Extract<CombinatorInfo, { kind: 'multiSteps' }>, node: any, u: Map<string, tf.Tensor>, active: readonly string[], ctx: Context): void {
    const k = c.constantK!;
    const miniStep = (node.mini_step as DeviceValue).variable, gradientStep = (node.gradient_step as DeviceValue).variable;
    let skip: tf.Tensor | undefined;
    const rule = (c.shouldSkip as Partial<SkipFunction<unknown>> | undefined)?.skipRule;
    if (rule) {
      const state = node.skip_state as Record<string, DeviceValue>;
      if (rule.kind === 'not_finite') {
        let count: tf.Tensor = tf.scalar(0, 'int32');
        for (const n of active) count = tf.add(count, tf.sum(tf.cast(tf.logicalNot(tf.isFinite(u.get(n)!)), 'int32')));
        skip = tf.greater(count, tf.scalar(0, 'int32'));
        write(state.num_not_finite.variable, count, ctx.commit);
      } else {
        // Each leaf's sum of squares, stacked and summed by one more reduction (skip-updates.ts).
        const total = active.length === 0 ? tf.scalar(0, 'float32') : reduceSum(tf.stack(active.map((n) => sumOfSquares(u.get(n)!))));
        skip = tf.logicalNot(tf.less(total, tf.scalar(roundTo('float32', rule.maxSquaredNorm), 'float32')));
        write(state.norm_squared.variable, total, ctx.commit);
      }
      write(state.should_skip.variable, skip, ctx.commit);
    }
    const factors = this.runningMeanFactors(k);
    const r = { r: tf.reshape(tf.gather(factors, tf.reshape(miniStep, [1])), []) };
    const kernel = accumulateKernel(c.useGradMean);
    const acc = new Map(active.map((name) => [name, lowerKernel(kernel, { updates: u.get(name)!, state: { acc: node.acc_grads[name] }, scalars: r }).updates]));
    let emit = tf.equal(miniStep, tf.scalar(k - 1, 'int32'));
    if (skip) emit = tf.logicalAnd(emit, tf.logicalNot(skip));
    const inner = new Map(acc);
    const innerCommit = ctx.commit === false ? false : ctx.commit === true ? emit : tf.logicalAnd(ctx.commit, emit);
    const preScale = this.runTraced(c.inner, node.inner_opt_state, inner, active, { commit: innerCommit, deviceCounts: true }, { computedUpdates: true });
    const zero = tf.scalar(0, 'float32');
    for (const name of active) {
      const out = inner.get(name)!, before = u.get(name)!;
      const silent = out.rank === 0 ? tf.zerosLike(out) : tf.mul(zero, preScale && out.size > 1 ? preScale.get(name)! : out);
      const updates = tf.where(emit, out, silent);
      u.set(name, skip ? tf.where(skip, tf.zerosLike(before), updates) : updates);
      const next = tf.where(emit, tf.mul(zero, acc.get(name)!), acc.get(name)!);
      write(node.acc_grads[name], skip ? tf.where(skip, node.acc_grads[name], next) : next, ctx.commit);
    }
    // mini_step = safe_increment(mini_step) % k (mini_step < k), gradient_step += emit.
    const incremented = increment(miniStep);
    const wrapped = tf.where(tf.greaterEqual(incremented, tf.scalar(k, 'int32')), tf.sub(incremented, tf.scalar(k, 'int32')), incremented);
    write(miniStep, skip ? tf.where(skip, miniStep, wrapped) : wrapped, ctx.commit);
    write(gradientStep, tf.where(emit, increment(gradientStep), gradientStep), ctx.commit);
  }

  /** `runningMeanFactor(n)` for n = 0 .. k-1, on the device (kept until dispose). */
  private runningMeanFactors(k: number): tf.Tensor {
    const key = `mean/${k}`;
    let t = this.tables.get(key);
    if (!t) {
      const column = Float32Array.from({ length: k }, (_, n) => runningMeanFactor(n, 'float32'));
      t = { constants: {}, columns: { r: tf.keep(tf.tensor1d(column, 'float32')) }, settle: tf.keep(tf.scalar(k - 1, 'int32')) };
      this.tables.set(key, t);
    }
    return t.columns.r;
  }

  /**
   * `tx.update` with optax's traced numerics (transforms/traced.ts `tracedUpdate`): the stages'
   * kernels composed and rewritten per leaf (fused multiply-adds included), or, when `tx` is not
   * made of elementwise kernels, its plain lowering. Returns the pre-scale values (MultiSteps' folded
   * zeros) when every leaf's computation has one.
   */
  private runTraced(tx: GradientTransformation<any>, node: any, u: Map<string, tf.Tensor>, active: readonly string[], ctx: Context, options: TracedOptions): Map<string, tf.Tensor> | undefined {
    const c = tx.combinator;
    if (c?.kind === 'injectHyperparams' && canTrace(tx, node.count instanceof DeviceValue ? { ...node, count: 0 } : node)) {
      const inner = this.injectStep(c, node, ctx, true);
      return this.runTraced(inner, node.inner_state, u, active, ctx, { ...options, noConstants: true });
    }
    const stages = stagesOf(tx);
    if (!stages) {
      this.run(tx, node, u, active, ctx);
      return undefined;
    }
    // The variables each masked stage runs on (a stage's mask is a tree of booleans: stagesOf).
    const inside = stages.map((st) => (st.mask === undefined ? undefined : new Set(this.select(st.mask as object, 'stage', active, () => st.mask))));
    const runsOn = (i: number, n: string): boolean => inside[i] === undefined || inside[i]!.has(n);
    const stateRoots = tracedStateRoots(stages);
    // One computation per combination of masks a variable sees (as tracedUpdate composes them).
    const bySignature = new Map<string, ReturnType<typeof composeTraced>>();
    const computations = active.map((n) => {
      const sig = stages.map((_, i) => (runsOn(i, n) ? '1' : '0')).join('');
      let c = bySignature.get(sig);
      if (!c) bySignature.set(sig, (c = composeTraced(stages, (i) => sig[i] === '1', (i) => active.filter((m) => runsOn(i, m)).map((m) => this.variables.get(m)!.size), options)));
      return c;
    });
    // The pre-scale (MultiSteps' folded zeros), leaf by leaf as XLA folds it (tracedUpdate): a
    // variable whose computation has none gets its update.
    const scaled = [...bySignature.values()].some((c) => c.preScale !== undefined);
    const stageNodes = stages.map((st) => stateAt(node, st.path, tx) as any);
    const scalars: Record<string, tf.Tensor> = {};
    stages.forEach((st, i) => {
      for (const [k, v] of Object.entries(this.scalars(st.def, txAt(tx, st.path), stageNodes[i], ctx, true))) scalars[`${i}/${k}`] = v;
    });
    const preScale = new Map<string, tf.Tensor>();
    active.forEach((n, li) => {
      const c = computations[li];
      const kernel = { updates: c.updates, state: Object.fromEntries([...c.states.map((e, k) => [`state${k}`, e] as const), ...(c.preScale ? [['preScale', c.preScale] as const] : [])]) };
      const state = Object.fromEntries(stateRoots.map((r) => [r.name, stageNodes[r.stage][r.leaf][n] as tf.Variable]));
      const out = lowerKernel(kernel, { updates: u.get(n)!, params: this.variables.get(n)!, state, scalars });
      stateRoots.forEach((r, k) => write(state[r.name], out.state[`state${k}`], ctx.commit));
      if (scaled) preScale.set(n, out.state.preScale ?? out.updates);
      u.set(n, out.updates);
    });
    stages.forEach((st, i) => this.advance(st.def, stageNodes[i], ctx));
    return scaled ? preScale : undefined;
  }
}

/** The transformation at `path` in a chain (a masked stage's inner transformation, as `stagesOf` sees it). */
function txAt(tx: GradientTransformation<any>, path: readonly number[]): GradientTransformation<any> {
  let t = tx;
  for (const i of path) t = t.parts![i];
  return t.combinator?.kind === 'masked' ? t.combinator.inner : t;
}

/** Writes `value` into `target` as `commit` says. */
function write(target: tf.Variable, value: tf.Tensor, commit: Commit): void {
  if (commit === false) return;
  target.assign(commit === true ? value : tf.where(commit, value, target));
}

/** int32 `x + 1`, saturating at 2^31-1 (optax's safe_increment). */
function increment(x: tf.Tensor): tf.Tensor {
  return tf.where(tf.less(x, tf.scalar(INT32_MAX, 'int32')), tf.add(x, tf.scalar(1, 'int32')), x);
}

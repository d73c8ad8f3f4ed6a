import * as tf from '@tensorflow/tfjs-core';
import { OptaxError } from '../core/errors.js';
import type { Schedule } from '../core/schedule.js';
import type { GradientTransformation } from '../core/transformation.js';
import { type CompileOptions, compile } from '../engine/compile.js';
import type { Stepper } from '../engine/stepper.js';
import { findInjectedState, findLearningRate, replaceInSpec } from '../spec/learning-rate.js';
import { type InjectHyperparamsState, setHyperparams, toSnakeCase } from '../transforms/inject-hyperparams.js';
import { type Spec, fromSpec, toSpec } from '../spec/spec.js';
import { ShapedArray } from '../tree/leaf.js';
import { describe, isDictNode } from '../tree/structure.js';
import { isInt32 } from '../core/numerics.js';
import { isStepCounterKey } from '../engine/opaque-state.js';
import { type StateStore, type StoredLeaf, adoptRenamedVariables, assembleState, forgetState, pathKey, storeState } from './state-store.js';
import { directMemory } from './memory.js';
import { OpsStep, opsSupported } from './ops-step.js';
import { opsUnsupported } from './ops-support.js';
import { type NamedTensor, leafTensor, tensorLeaf } from './weights.js';

/**
 * Options of {@link toTfjs}: `threads` and `backend`, how the fused engine runs the steps (see
 * `compile`); `path`, what runs them:
 * - `auto` (default): the fused engine on tfjs's cpu and wasm backends (their tensors live in this
 *   thread's memory; measured faster there, see `npm run bench`), and tfjs ops on others (webgl,
 *   webgpu) whenever the ops path can run the transformation (see {@link toTfjs}), so that a step
 *   reads nothing back;
 * - `engine`: always the fused engine (other backends read gradients back and upload parameters);
 * - `ops`: always tfjs ops (on the cpu backend, bit-identical to the pure path too); a
 *   transformation the ops path cannot run is refused with an OptaxError naming the part.
 */
export interface ToTfjsOptions extends Pick<CompileOptions, 'threads' | 'backend'> {
  readonly path?: 'auto' | 'engine' | 'ops';
}

/** The state of the variables of a step, laid out as `tx.init` lays it out. */
interface Runner {
  readonly state: unknown;
  setState(state: unknown): void;
  dispose(): void;
}

/** The parameters being optimized now, and the compiled step over them. */
interface Current {
  /** The variable names, sorted, joined: which set of variables the runner was made for. */
  readonly key: string;
  readonly names: readonly string[];
  readonly variables: readonly tf.Variable[];
  /** What holds the state and runs the steps: the fused engine, or the step as tfjs ops. */
  readonly runner: Runner;
  readonly engine?: Stepper<Record<string, ShapedArray<Float32Array>>, unknown>;
  readonly ops?: OpsStep;
  /** The data each variable held after our last write: when it still does, the engine's copy is current. */
  readonly written: unknown[];
}

/** Bounds what `fromConfig` decodes (a spec is a few kilobytes; arrays in it rarely more). */
const MAX_CONFIG_CHARS = 64 << 20;

/**
 * A TensorFlow.js optimizer that runs an optax-ts transformation: made by {@link toTfjs}, usable
 * wherever tfjs takes a `tf.Optimizer`. See {@link toTfjs} for how steps run and what is saved.
 * Registered with `tf.serialization.registerClass` as `OptaxTs`: a saved model's optimizer is
 * rebuilt from its config alone.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { adamaxw, chain, clipByGlobalNorm } from 'optax-ts';
 * import { OptaxTfjsOptimizer, toTfjs } from 'optax-ts/tfjs';
 * const optimizer = toTfjs(chain(clipByGlobalNorm(1), adamaxw(0.01)));
 * const rebuilt = OptaxTfjsOptimizer.fromConfig(OptaxTfjsOptimizer, optimizer.getConfig()) as OptaxTfjsOptimizer;
 * console.log(rebuilt instanceof tf.Optimizer, rebuilt.getClassName(), rebuilt.tx.name, rebuilt.learningRate); // true OptaxTs chain 0.01
 * ```
 */
export class OptaxTfjsOptimizer extends tf.Optimizer {
  /** The name tfjs's serialization registry knows this class by (in saved models' `optimizer_config`). */
  static get className(): string {
    return 'OptaxTs';
  }

  private txNow: GradientTransformation<any>;
  private specCache: Spec | undefined;
  private readonly engineOptions: Pick<CompileOptions, 'threads' | 'backend'>;
  private readonly path: 'auto' | 'engine' | 'ops';
  /** The state of every variable seen, by path, when no runner holds it (see state-store.ts). */
  private store: StateStore = new Map();
  private current: Current | undefined;
  /** What the last getWeights() returned, disposed at the next call (tfjs-layers never disposes them). */
  private lent: tf.Tensor[] = [];

  constructor(tx: GradientTransformation<any>, options: ToTfjsOptions = {}) {
    super();
    if (!tx || typeof tx.init !== 'function' || typeof tx.update !== 'function') throw new OptaxError(`toTfjs: expected a gradient transformation, got ${describe(tx)}`);
    this.txNow = tx;
    const { path = 'auto', ...engineOptions } = options ?? {};
    if (path !== 'auto' && path !== 'engine' && path !== 'ops') throw new OptaxError(`toTfjs: path must be 'auto', 'engine' or 'ops', got ${describe(path)}`);
    const why = path === 'ops' ? opsUnsupported(tx) : undefined;
    if (why) throw new OptaxError(`toTfjs: path "ops" cannot run ${why}`);
    this.path = path;
    this.engineOptions = engineOptions;
    this.iterations_ = 0;
  }

  /** The transformation the steps run. */
  get tx(): GradientTransformation<any> {
    return this.txNow;
  }

  /**
   * One step: `variable <- variable + tx.update(gradient, state, variable)` for every variable with a
   * gradient (by name, as tfjs names variables; a null gradient leaves its variable and state alone).
   */
  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const pairs: [string, tf.Tensor][] = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g?.name, g?.tensor])
      : isDictNode(variableGradients) ? Object.entries(variableGradients) : [];
    if (!Array.isArray(variableGradients) && !isDictNode(variableGradients)) throw new OptaxError(`applyGradients: expected {name: gradient} or [{name, tensor}], got ${describe(variableGradients)}`);
    const grads = new Map<string, tf.Tensor>();
    for (const [name, g] of pairs) {
      if (g == null) continue;
      if (typeof name !== 'string') throw new OptaxError(`applyGradients: a gradient without a variable name`);
      if (grads.has(name)) throw new OptaxError(`applyGradients: two gradients for variable '${name}'`);
      grads.set(name, g);
    }
    if (grads.size === 0) return;
    const names = [...grads.keys()].sort();
    const registered = tf.engine().registeredVariables;
    const variables = names.map((name) => {
      const v = Object.hasOwn(registered, name) ? registered[name] : undefined;
      const g = grads.get(name)!;
      if (!v) throw new OptaxError(`applyGradients: no variable is named '${name}'`);
      if (v.dtype !== 'float32') throw new OptaxError(`applyGradients: variable '${name}' is ${v.dtype}; optax-ts optimizes float32 variables`);
      // Checked here, not left to dataSync() mid-step (a raw "Tensor is disposed." after other gradients were copied in).
      if (g instanceof tf.Tensor && g.isDisposed) throw new OptaxError(`applyGradients: the gradient of '${name}' is disposed`);
      if (!(g instanceof tf.Tensor) || g.dtype !== 'float32' || g.shape.length !== v.shape.length || g.shape.some((d, i) => d !== v.shape[i])) {
        throw new OptaxError(`applyGradients: the gradient of '${name}' must be a float32 tensor of shape [${v.shape.join(', ')}], got ${g instanceof tf.Tensor ? `${g.dtype} [${g.shape.join(', ')}]` : describe(g)}`);
      }
      return v;
    });
    const key = names.join('\u0000');
    if (this.current?.key !== key || this.current.variables.some((v, i) => v !== variables[i])) this.rebuild(names, variables);
    const c = this.current!;
    if (c.ops) c.ops.step(grads, c.variables);
    else this.engineStep(c, c.engine!, grads);
    this.incrementIterations();
  }

  /** The step through the fused engine: gradients in, parameters out, through the backend's memory where it can. */
  private engineStep(c: Current, engine: NonNullable<Current['engine']>, grads: ReadonlyMap<string, tf.Tensor>): void {
    const names = c.names;
    const memory = directMemory();
    names.forEach((name, i) => {
      const g = grads.get(name)!;
      engine.grads[name].data.set(memory?.view(g) ?? (g.dataSync() as Float32Array));
      // A variable written by someone else since our last step (setWeights, a loaded checkpoint) is read again.
      const v = c.variables[i];
      if (v.dataId !== c.written[i]) engine.params[name].data.set(memory?.view(v) ?? (v.dataSync() as Float32Array));
    });
    engine.step();
    tf.tidy(() => {
      names.forEach((name, i) => {
        const v = c.variables[i];
        const values = engine.params[name].data;
        // In place where that is safe (cpu, the variable's memory its own); otherwise a new tensor, of a
        // copy where the backend would keep the engine's view (which the next step overwrites).
        const target = memory?.writable(v);
        if (target) target.set(values);
        else v.assign(tf.tensor(memory?.tensorsCopyValues ? values : values.slice(), v.shape, 'float32'));
        c.written[i] = v.dataId;
      });
    });
  }

  /** Compiles a step for this set of variables, with the state of each taken from the store. */
  private rebuild(names: readonly string[], variables: readonly tf.Variable[]): void {
    this.release();
    const useOps = this.path === 'ops' || (this.path === 'auto' && directMemory() === undefined && opsSupported(this.txNow));
    const why = this.path === 'ops' ? opsUnsupported(this.txNow) : undefined;
    if (why) throw new OptaxError(`toTfjs: path "ops" cannot run ${why} (the learning rate set made it so)`);
    const ops = useOps ? new OpsStep(this.txNow, names, variables) : undefined;
    // Mask and labels functions are read when the step is compiled for these variables (as jax.jit
    // reads them when it traces, and as the ops path selects variables): not at every step.
    const engine = ops ? undefined : (compile(this.txNow, engineParams(names, variables), { ...this.engineOptions, masks: 'once' }) as Current['engine'] & {});
    const runner: Runner = ops ?? engine!;
    try {
      if (this.store.size > 0) {
        adoptRenamedVariables(runner.state, this.store, names);
        runner.setState(assembleState(runner.state, this.store));
        // The runner holds these now; the store keeps the state of variables not in this step.
        forgetState(runner.state, this.store);
      }
    } catch (e) {
      runner.dispose();
      throw e;
    }
    this.current = { key: names.join('\u0000'), names, variables, runner, engine, ops, written: variables.map((v) => v.dataId) };
  }

  /** Moves the state out of the runner into the store, and drops the runner. */
  private release(): void {
    if (!this.current) return;
    storeState(this.current.runner.state, this.store);
    this.current.runner.dispose();
    this.current = undefined;
  }

  /** The state laid out as `tx.init` lays it out for the variables of the last step (for none before the first). */
  private stateNow(): unknown {
    if (this.current) return this.current.runner.state;
    try {
      return assembleState(this.txNow.init({}), this.store);
    } catch {
      return undefined; // e.g. labels that need the parameters: the count is then taken as 0
    }
  }

  /**
   * The learning rate the next step uses: an injected `learning_rate` hyperparameter, or the first
   * `learningRate` argument of `adamax`, `adamaxw` or `scaleByLearningRate` in the chain (a
   * schedule is evaluated at the step count in the state). Undefined when there is none.
   */
  get learningRate(): number | undefined {
    return findLearningRate(this.spec(), this.stateNow())?.value;
  }

  /**
   * Sets the learning rate from the next step on: an injected hyperparameter is set in the state
   * (as `setHyperparams` does); an argument is replaced by the new number or schedule and the
   * transformation rebuilt from its spec, the state kept (a schedule's count restarts at 0 when
   * it replaces a number). Throws when the transformation has no learning rate.
   */
  set learningRate(value: number | Schedule) {
    if (typeof value !== 'number' && typeof value !== 'function') throw new OptaxError(`learningRate: expected a number or a schedule, got ${describe(value)}`);
    const site = findLearningRate(this.spec(), this.stateNow());
    if (!site) throw new OptaxError('learningRate: this transformation has no learning rate to set (no adamax, adamaxw, scaleByLearningRate or injected learning_rate outside a partition)');
    if (site.kind === 'injected') {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new OptaxError(`learningRate: an injected learning rate takes a finite number, got ${describe(value)}`);
      this.release();
      this.store.set(pathKey([...site.statePath, 'hyperparams', 'learning_rate']), value);
      return;
    }
    const spec = replaceInSpec(this.spec(), site.specPath, typeof value === 'number' ? value : { schedule: toSpec(value) });
    const tx = fromSpec(spec);
    this.release();
    this.txNow = tx;
    this.specCache = spec;
  }

  /**
   * The injected hyperparameters (of the first `injectHyperparams` in the transformation), by optax's
   * name, as its state holds them: a fixed one is the value the next step uses, a scheduled one the
   * value of the last step. `{}` when nothing is injected.
   */
  get hyperparams(): Record<string, unknown> {
    const site = findInjectedState(this.spec(), this.stateNow());
    return site ? { ...site.state.hyperparams } : {};
  }

  /**
   * Sets injected hyperparameters from the next step on (by optax's name or ours: `learning_rate` or
   * `learningRate`), as optax-ts's `setHyperparams` does on the state: an unknown or scheduled name,
   * or a value that is not a number or an array, throws an OptaxError and changes nothing.
   */
  setHyperparams(values: Readonly<Record<string, unknown>>): void {
    const site = findInjectedState(this.spec(), this.stateNow());
    if (!site) throw new OptaxError('setHyperparams: this transformation injects no hyperparameters (build it with injectHyperparams)');
    const next = setHyperparams(site.state as InjectHyperparamsState, values).hyperparams;
    this.release();
    for (const key of Object.keys(values)) {
      const name = toSnakeCase(key);
      this.store.set(pathKey([...site.statePath, 'hyperparams', name]), next[name] as StoredLeaf);
    }
  }

  private spec(): Spec {
    return (this.specCache ??= toSpec(this.txNow));
  }

  /**
   * The iteration count, then every leaf of the state as `{name: '<path>#<kind>', tensor}` (tfjs's
   * Optimizer contract). The tensors belong to the optimizer: they stay valid until the next
   * `getWeights`, `setWeights` or `dispose`, which dispose them (so saving repeatedly leaks nothing).
   */
  override async getWeights(): Promise<NamedTensor[]> {
    // The state as of this call; the ops path's is read asynchronously (see OpsStep.readState).
    const iterations = this.iterations;
    const all = new Map(this.store);
    if (this.current?.ops) storeState(await this.current.ops.readState(), all);
    else if (this.current) storeState(this.current.runner.state, all);
    this.disposeLent();
    const weights: NamedTensor[] = [{ name: 'iter', tensor: tf.scalar(iterations, 'int32') }];
    for (const [key, leaf] of all) weights.push(leafTensor(key, leaf));
    this.lent = weights.map((w) => w.tensor);
    return weights;
  }

  /**
   * Loads what {@link OptaxTfjsOptimizer.getWeights} returned (e.g. by `tf.loadLayersModel`): the
   * iteration count, then the state by path. Checked before anything changes; leaves that do not fit
   * the variables being optimized raise an OptaxError naming the path.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (!Array.isArray(weightValues) || weightValues.length === 0) throw new OptaxError(`setWeights: expected [iterations, ...state], got ${describe(weightValues)}`);
    const iter = weightValues[0]?.tensor;
    if (!(iter instanceof tf.Tensor) || iter.size !== 1) throw new OptaxError('setWeights: the first weight must be the iteration count (a scalar)');
    if (iter.isDisposed) throw new OptaxError('setWeights: the iteration count is disposed');
    const iterations = iter.dataSync()[0];
    if (!Number.isSafeInteger(iterations) || iterations < 0) throw new OptaxError(`setWeights: bad iteration count ${iterations}`);
    const store: StateStore = new Map();
    for (const w of weightValues.slice(1)) {
      const [key, leaf] = tensorLeaf(w);
      if (store.has(key)) throw new OptaxError(`setWeights: two weights for ${key}`);
      // Step counters by name as well: before the first step there is no runner to load the state into.
      if (isStepCounterKey((JSON.parse(key) as unknown[]).at(-1)) && !(typeof leaf === 'number' && isInt32(leaf) && leaf >= 0)) {
        throw new OptaxError(`setWeights: '${w.name}': count must be a non-negative int32 step count, got ${describe(leaf)}`);
      }
      store.set(key, leaf);
    }
    // Check against the variables of the last step now, rather than fail at the next step.
    // Loading it into the runner validates the values too (step counts, flags), all or nothing: a
    // state that would make every later step throw is refused while the old one is still here.
    if (this.current) {
      adoptRenamedVariables(this.current.runner.state, store, this.current.names);
      this.current.runner.setState(assembleState(this.current.runner.state, store));
    }
    this.disposeLent();
    if (this.current) { this.current.runner.dispose(); this.current = undefined; }
    this.store = store;
    this.iterations_ = iterations;
  }

  /** `{spec}`: the transformation as data ({@link toSpec}), base64 JSON (tfjs-layers rewrites snake_case strings in configs). */
  override getConfig(): tf.serialization.ConfigDict {
    return { spec: encodeSpec(this.spec()) };
  }

  /** Rebuilds the optimizer from {@link OptaxTfjsOptimizer.getConfig} (what `tf.loadLayersModel` calls). */
  static override fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const spec = config?.spec;
    if (typeof spec !== 'string' || spec.length > MAX_CONFIG_CHARS) throw new OptaxError('OptaxTs.fromConfig: config.spec must be the base64 string getConfig() wrote');
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(spec), (c) => c.charCodeAt(0))));
    } catch {
      throw new OptaxError('OptaxTs.fromConfig: config.spec is not base64 JSON');
    }
    return new (cls as unknown as typeof OptaxTfjsOptimizer)(fromSpec(parsed as Spec)) as unknown as T;
  }

  private disposeLent(): void {
    tf.dispose(this.lent);
    this.lent = [];
  }

  /** Frees the engine's memory, its threads and the tensors lent by getWeights. */
  override dispose(): void {
    this.current?.runner.dispose();
    this.current = undefined;
    this.store.clear();
    this.disposeLent();
  }
}

/** The params tree the engine is compiled for: each variable's values, by name. */
function engineParams(names: readonly string[], variables: readonly tf.Variable[]): Record<string, ShapedArray<Float32Array>> {
  const params: Record<string, ShapedArray<Float32Array>> = {};
  names.forEach((name, i) => { params[name] = new ShapedArray(Float32Array.from(variables[i].dataSync() as Float32Array), variables[i].shape); });
  return params;
}

function encodeSpec(spec: Spec): string {
  const bytes = new TextEncoder().encode(JSON.stringify(spec));
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

tf.serialization.registerClass(OptaxTfjsOptimizer);

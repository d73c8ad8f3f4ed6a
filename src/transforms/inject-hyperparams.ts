import { type Dtype, roundInPlace, roundTo } from '../core/dtype.js';
import { ScheduleEvaluator } from '../schedules/program.js';
import { OptaxError } from '../core/errors.js';
import { safeIncrement } from '../core/numerics.js';
import type { ExtraArgs, GradientTransformation } from '../core/transformation.js';
import { type ArrayLeaf, type ShapedArray, leafData, leafDtype } from '../tree/leaf.js';
import type { Schedule } from '../core/schedule.js';
import { treeLeaves } from '../tree/map.js';
import { describe, isDictNode } from '../tree/structure.js';
import type { Params, Updates } from '../tree/tree.js';
import { type InjectableSignature, injectableSignature, isNumericHyperparam } from './injectable.js';
import { hasExactKeys, hasOwn } from '../tree/validate.js';
import { showKeys } from '../tree/node.js';
import { isStepCount } from '../core/numerics.js';
import { callSchedule } from '../core/schedule.js';
import { tracedSchedule } from '../schedules/typed.js';
import { readOptions } from '../core/options.js';
import { recordCall } from '../spec/record.js';

/** The state of a scheduled hyperparameter (optax's `WrappedScheduleState`). */
export interface WrappedScheduleState {
  /** The step its schedule is evaluated at next (int32, saturating). */
  count: number;
}

/** The state of {@link injectHyperparams} (optax's `InjectStatefulHyperparamsState`). */
export interface InjectHyperparamsState<S = unknown> {
  /** Steps taken (int32, saturating). */
  count: number;
  /**
   * The hyperparameters by optax's (snake_case) names, e.g. `{ learning_rate, b1, b2, eps }`: numbers
   * rounded to the hyperparameter dtype (float32 values unless the params are float64), or arrays.
   * Scheduled ones hold the value used by the last step. Replace them with {@link setHyperparams}.
   */
  hyperparams: Record<string, number | ArrayLeaf>;
  /** One `{count}` per scheduled hyperparameter. */
  hyperparams_states: Record<string, WrappedScheduleState>;
  /** The inner transformation's state. */
  inner_state: S;
}

/** The fields of {@link InjectHyperparamsState} but its inner state. @internal */
export type InjectionControl = Omit<InjectHyperparamsState, 'inner_state'>;

/** The state type of a transformation type. */
export type StateOf<T> = T extends GradientTransformation<infer S> ? S : unknown;

/**
 * An argument of an injected factory: a number may also be a schedule (and so may a number-valued
 * hyperparameter inside an options object); other arguments keep their types.
 */
export type Injected<A> = A extends number ? number | Schedule
  : A extends ArrayBufferView | ShapedArray | ((...args: never[]) => unknown) | readonly unknown[] | string | boolean | null | undefined ? A
  : A extends object ? { [K in keyof A]: Injected<A[K]> }
  : A;

/** The positional arguments of an injected factory, each {@link Injected}. */
export type InjectedArgs<P extends readonly unknown[]> = { [I in keyof P]: Injected<P[I]> };

/** Options of {@link injectHyperparams}. */
export interface InjectHyperparamsOptions {
  /**
   * Arguments that are never hyperparameters, by either name (optax's `static_args`): one name, or a
   * list of names, as optax accepts `static_args='mask'` and `static_args=['mask']`.
   */
  staticArgs?: string | readonly string[];
  /**
   * The dtype the hyperparameters are rounded to (optax's `hyperparam_dtype`). Default: the highest
   * dtype of the params (of the updates when `update` gets no params; float32 for an empty tree).
   */
  hyperparamDtype?: Dtype;
}

/** optax's snake_case name of a camelCase one: `learningRate` → `learning_rate`. */
export const toSnakeCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The highest dtype of a tree's leaves, or undefined for a tree without leaves. */
function highestDtype(tree: unknown): Dtype | undefined {
  if (tree === undefined || tree === null) return undefined;
  const { leaves } = treeLeaves<ArrayLeaf>(tree);
  if (leaves.length === 0) return undefined;
  return leaves.some((l) => leafDtype(l) === 'float64') ? 'float64' : 'float32';
}

/** optax's `_convert_floats`: numbers are rounded to the dtype; arrays (strongly typed) are kept. */
const convert = (v: number | ArrayLeaf, dtype: Dtype): number | ArrayLeaf => (typeof v === 'number' ? roundTo(dtype, v) : v);

/** optax's `{static_args} if isinstance(static_args, str) else set(static_args)`, checked. */
function staticArgNames(name: string, staticArgs: unknown): readonly string[] {
  if (staticArgs === undefined) return [];
  if (typeof staticArgs === 'string') return [staticArgs];
  const list = Array.isArray(staticArgs) ? staticArgs : undefined;
  if (!list || list.some((s) => typeof s !== 'string')) {
    throw new OptaxError(`inject_hyperparams(${name}): staticArgs must be a name or a list of names, got ${describe(staticArgs)}`);
  }
  return list;
}

/** Binds call arguments to the signature: positional ones, then an options object. */
function bind(sig: InjectableSignature, args: unknown[]): Record<string, unknown> {
  const byName = new Map<string, string>();
  for (const p of sig.params) { byName.set(p.name, p.option); byName.set(p.option, p.option); }
  const bound: Record<string, unknown> = {};
  const named = (obj: Record<string, unknown>): void => {
    for (const [k, v] of Object.entries(obj)) {
      const option = byName.get(k);
      if (!option) throw new OptaxError(`inject_hyperparams(${sig.name}): unknown argument '${k}'; it takes ${sig.params.map((p) => p.option).join(', ')}`);
      if (v !== undefined) bound[option] = v;
    }
  };
  const positional = sig.params.filter((p) => p.positional);
  // One plain object holding every argument by name is accepted too: `inject(adamax)({ learningRate: 0.01 })`.
  if (args.length === 1 && isDictNode(args[0]) && positional.length > 0) named(args[0]);
  else {
    let i = 0;
    for (; i < positional.length && i < args.length && !isDictNode(args[i]); i++) bound[positional[i].option] = args[i];
    if (i < args.length) {
      if (!isDictNode(args[i]) || i + 1 < args.length) throw new OptaxError(`inject_hyperparams(${sig.name}): expected ${positional.map((p) => p.option).join(', ')} then an options object`);
      named(args[i] as Record<string, unknown>);
    }
  }
  for (const p of sig.params) {
    if (!(p.option in bound)) {
      if (!Object.hasOwn(p, 'default')) throw new OptaxError(`inject_hyperparams(${sig.name}): missing required argument ${p.option}`);
      bound[p.option] = p.default;
    }
  }
  return bound;
}

/**
 * Wraps a factory so that its numeric arguments become hyperparameters kept in the state (optax's
 * `inject_hyperparams`), where they can be read and changed between steps, and so that any of them
 * may be a schedule of the step count:
 *
 * ```ts
 * const tx = injectHyperparams(adamax)(0.01, { b1: 0.9 });   // same arguments as adamax
 * const tx2 = injectHyperparams(adamax)({ learningRate: 0.01 });   // or all by name
 * ```
 *
 * - The state is `{ count, hyperparams, hyperparams_states, inner_state }` with optax's snake_case
 *   keys (as flax checkpoints have them): `hyperparams` holds every numeric argument, defaults
 *   included (`learning_rate, b1, b2, eps` for adamax), rounded to the hyperparameter dtype; scheduled
 *   ones come after the fixed ones, as in optax.
 * - Each `update` rounds the values in `state.hyperparams` (so a value set by {@link setHyperparams}
 *   takes effect at the next step), evaluates each schedule at its own `{count}` in
 *   `hyperparams_states` (0 at the first step, like `scaleBySchedule`), then rebuilds the inner
 *   transformation with those values and applies it.
 * - Booleans, masks and dtypes (and `staticArgs`) are passed through unchanged.
 *
 * The factory must be registered ({@link registerInjectable}): optax-ts's own factories are.
 *
 * @param innerFactory - e.g. `adamax`, `adamaxw`, `scaleByAdamax`, `scale`, `clip`, `ema`.
 * @param options - `staticArgs` (none; one name or a list), `hyperparamDtype` (the params' highest dtype).
 *
 * @example
 * ```ts
 * import { injectHyperparams, adamax, setHyperparams } from 'optax-ts';
 * const tx = injectHyperparams(adamax)({ learningRate: 0.1 });
 * let state = tx.init({ w: new Float32Array(1) });
 * console.log(Object.keys(state.hyperparams), state.hyperparams.b1); // [ 'learning_rate', 'b1', 'b2', 'eps' ] 0.8999999761581421
 * state = setHyperparams(state, { learningRate: 0.5 });
 * const [u] = tx.update({ w: new Float32Array([2]) }, state, { w: new Float32Array(1) });
 * console.log(u.w); // Float32Array(1) [ -0.5 ]
 * ```
 *
 * `staticArgs` names arguments that stay out of the state, one name or a list, as in optax:
 * ```ts
 * import { injectHyperparams, scale } from 'optax-ts';
 * const tx = injectHyperparams(scale, { staticArgs: 'step_size' })(0.5);
 * console.log(tx.init({ w: new Float32Array(1) }).hyperparams); // {}
 * ```
 */
export function injectHyperparams<F extends (...args: any[]) => GradientTransformation<any>>(
  innerFactory: F,
  options?: InjectHyperparamsOptions,
): (...args: InjectedArgs<Parameters<F>> | [named: Readonly<Record<string, unknown>>]) => GradientTransformation<InjectHyperparamsState<StateOf<ReturnType<F>>>>;
export function injectHyperparams<S = unknown>(innerFactory: InjectableSignature, options?: InjectHyperparamsOptions): (...args: unknown[]) => GradientTransformation<InjectHyperparamsState<S>>;
export function injectHyperparams(
  innerFactory: ((...args: never[]) => GradientTransformation<unknown>) | InjectableSignature,
  options: InjectHyperparamsOptions = {},
): (...args: any[]) => GradientTransformation<InjectHyperparamsState<unknown>> {
  if (typeof innerFactory !== 'function' && !isDictNode(innerFactory)) throw new OptaxError(`inject_hyperparams: innerFactory must be a transformation factory (e.g. adamax), got ${describe(innerFactory)}`);
  options = readOptions('inject_hyperparams', options, { staticArgs: true, hyperparamDtype: true });
  if (options.hyperparamDtype !== undefined && options.hyperparamDtype !== 'float32' && options.hyperparamDtype !== 'float64') {
    throw new OptaxError(`inject_hyperparams: hyperparamDtype must be 'float32' or 'float64', got ${typeof options.hyperparamDtype === 'string' ? JSON.stringify(options.hyperparamDtype) : describe(options.hyperparamDtype)}`);
  }
  const sig = typeof innerFactory === 'function' ? injectableSignature(innerFactory) : innerFactory;
  if (!sig) throw new OptaxError(`inject_hyperparams: ${(innerFactory as { name?: string }).name || 'this factory'} is not registered; describe its arguments with registerInjectable`);
  const staticArgs = new Set(staticArgNames(sig.name, options.staticArgs).map(toSnakeCase));
  for (const s of staticArgs) {
    if (!sig.params.some((p) => p.name === s)) throw new OptaxError(`inject_hyperparams(${sig.name}): staticArgs must name arguments of ${sig.name} (${sig.params.map((p) => p.name).join(', ')}), got ${s}`);
  }
  return (...args: unknown[]) => {
    const bound = bind(sig, args);
    const other: Record<string, unknown> = {};
    const numeric: Record<string, number | ArrayLeaf> = {};
    const scheduled: Record<string, (count: number) => number> = {};
    for (const p of sig.params) {
      const v = bound[p.option];
      if (p.static || staticArgs.has(p.name) || typeof v === 'boolean') other[p.option] = v;
      else if (typeof v === 'function') scheduled[p.name] = v as (count: number) => number;
      else if (isNumericHyperparam(v)) numeric[p.name] = v as number | ArrayLeaf;
      else other[p.option] = v;
    }
    const optionOf = new Map(sig.params.map((p) => [p.name, p.option]));
    // `traced`: inside apply_if_finite's or MultiSteps' lax.cond, where optax evaluates the schedule in
    // the traced computation (schedules/arith.ts).
    const evaluate = (name: string, count: number, dtype: Dtype, traced = false): number => {
      const schedule = traced ? tracedSchedule(scheduled[name]) : scheduled[name];
      return roundTo(dtype, callSchedule(`inject_hyperparams(${sig.name}): ${name}`, schedule, count));
    };
    let cached: { values: Record<string, number | ArrayLeaf>; tx: GradientTransformation<any> } | undefined;
    const innerWith = (values: Record<string, number | ArrayLeaf>): GradientTransformation<any> => {
      const keys = Object.keys(values);
      if (cached && keys.every((k) => Object.is(cached!.values[k], values[k]))) return cached.tx;
      const call: Record<string, unknown> = { ...other };
      for (const k of keys) call[optionOf.get(k)!] = values[k];
      // A copy: the fused engine updates the record a step returns in place (its scheduled values,
      // steps later), which must not change what this cache says the transformation was built with.
      cached = { values: { ...values }, tx: sig.build(call) };
      return cached.tx;
    };
    const dtypeFor = (primary: unknown, fallback: unknown): Dtype => options.hyperparamDtype ?? highestDtype(primary) ?? highestDtype(fallback) ?? 'float32';

    // One step of the injection: the hyperparameters this step uses (the state's values rounded, each
    // schedule evaluated at its count), the new counts, and the inner transformation built with them.
    // `update` and the fused engine both run it; `traced` as for `evaluate`.
    const step = (state: InjectionControl, dtype: Dtype, traced = false): { control: InjectionControl; inner: GradientTransformation<any> } => {
      const hyperparams: Record<string, number | ArrayLeaf> = {};
      for (const [k, v] of Object.entries(state.hyperparams)) hyperparams[k] = convert(v, dtype);
      const hyperparams_states: Record<string, WrappedScheduleState> = {};
      for (const k of Object.keys(scheduled)) {
        const c = state.hyperparams_states[k].count;
        hyperparams[k] = evaluate(k, c, dtype, traced);
        hyperparams_states[k] = { count: safeIncrement(c) };
      }
      return { control: { count: safeIncrement(state.count), hyperparams, hyperparams_states }, inner: innerWith(hyperparams) };
    };
    const check = (state: unknown): void => checkState(state, Object.keys(numeric), Object.keys(scheduled));
    const scheduledNames = Object.keys(scheduled);
    const evaluators = scheduledNames.map((k) => new ScheduleEvaluator(`inject_hyperparams(${sig.name}): ${k}`, scheduled[k]));
    // `step`'s scheduled values, as the fused engine evaluates them at every step (the same programs as scaleBySchedule's).
    const writeScheduled = (values: Float64Array, control: InjectionControl, dtype: Dtype, traced: boolean): void => {
      for (let j = 0; j < evaluators.length; j++) {
        evaluators[j].writeInto(values, j, control.hyperparams_states[scheduledNames[j]].count, traced);
        roundInPlace(dtype, values, j);
      }
    };
    // The hyperparameters `init` holds for the dtype: the numbers rounded, each schedule at 0.
    const initial = (dtype: Dtype): Omit<InjectionControl, 'count'> => {
      const hyperparams: Record<string, number | ArrayLeaf> = {};
      for (const [k, v] of Object.entries(numeric)) hyperparams[k] = convert(v, dtype);
      const hyperparams_states: Record<string, WrappedScheduleState> = {};
      for (const k of Object.keys(scheduled)) { hyperparams_states[k] = { count: 0 }; hyperparams[k] = evaluate(k, 0, dtype); }
      return { hyperparams, hyperparams_states };
    };

    return recordCall({
      name: 'inject_hyperparams',
      combinator: { kind: 'injectHyperparams', step, check, innerFor: innerWith, dtypeFor, initial, scheduledNames, writeScheduled },
      init(params: Params): InjectHyperparamsState<unknown> {
        const { hyperparams, hyperparams_states } = initial(dtypeFor(params, null));
        return { count: 0, hyperparams, hyperparams_states, inner_state: innerWith(hyperparams).init(params) };
      },
      update<U extends Updates>(updates: U, state: InjectHyperparamsState<unknown>, params?: Params | null, extraArgs?: ExtraArgs): [U, InjectHyperparamsState<unknown>] {
        check(state);
        const { control, inner } = step(state, dtypeFor(params, updates));
        const [newUpdates, inner_state] = inner.update(updates, state.inner_state, params, extraArgs);
        return [newUpdates, { ...control, inner_state }];
      },
    }, 'inject_hyperparams', [sig, options, bound]);
  };
}

function checkState(state: unknown, numeric: readonly string[], scheduled: readonly string[]): asserts state is InjectHyperparamsState {
  const fail = (why: string): never => { throw new OptaxError(`inject_hyperparams: this state does not belong to this transformation: ${why}`); };
  if (!isDictNode(state) || !hasExactKeys(state, ['count', 'hyperparams', 'hyperparams_states', 'inner_state']) || !isDictNode(state.hyperparams) || !isDictNode(state.hyperparams_states)) {
    fail(`expected {count, hyperparams, hyperparams_states, inner_state}, got ${describe(state)}`);
  }
  const s = state as unknown as InjectHyperparamsState;
  if (!isStepCount(s.count)) fail(`count must be a non-negative int32 step count, got ${describe(s.count)}`);
  if (!hasExactKeys(s.hyperparams, [...numeric, ...scheduled])) fail(`expected hyperparams {${showKeys([...numeric, ...scheduled])}}, got {${showKeys(Object.keys(s.hyperparams))}}`);
  if (!hasExactKeys(s.hyperparams_states, scheduled)) fail(`expected hyperparams_states {${showKeys(scheduled)}}, got {${showKeys(Object.keys(s.hyperparams_states))}}`);
  for (const [k, v] of Object.entries(s.hyperparams)) if (!isNumericHyperparam(v)) fail(`hyperparams.${k} must be a number or an array, got ${describe(v)}`);
  for (const k of scheduled) {
    const hs = s.hyperparams_states[k];
    if (!isDictNode(hs) || !hasExactKeys(hs, ['count']) || !isStepCount(hs.count)) fail(`hyperparams_states.${k} must be {count} with a non-negative int32 count, got ${describe(hs)}`);
  }
}

/**
 * Throws an OptaxError naming the hyperparameter when `value` (or an element of it) is NaN. A setter's
 * own check: no optax-ts factory accepts a NaN hyperparameter (each rejects it when the next update
 * rebuilds the inner transformation; optax would silently make every update NaN), so a NaN set between
 * steps is a mistake caught where it is made. Infinities and negative values are left to the
 * factory's own range rules (`clip(Infinity)` and a negative `scale` are valid), checked at the next
 * update as for a value given to the factory. @internal
 */
export function checkNotNaN(owner: string, name: string, value: number | ArrayLeaf): void {
  const nan = typeof value === 'number' ? Number.isNaN(value) : Array.prototype.some.call(leafData(value), Number.isNaN);
  if (nan) throw new OptaxError(`${owner}: hyperparameter '${name}' is NaN${typeof value === 'number' ? '' : ' (in an element)'}; a NaN hyperparameter would make every update NaN, so it is refused where it is set`);
}

/**
 * Returns a new {@link InjectHyperparamsState} with some hyperparameters replaced, by optax's
 * snake_case name or the camelCase one (`learning_rate` or `learningRate`). The value takes effect at
 * the next `update`, which rounds it to the hyperparameter dtype. The state is not mutated.
 *
 * Setting a scheduled hyperparameter throws (in optax it silently has no effect), as do an unknown name
 * and a NaN value (an OptaxError naming the hyperparameter, here rather than at the next update;
 * infinities and negative values are checked by the factory's rules at the next update).
 *
 * @example
 * ```ts
 * import { injectHyperparams, scale, setHyperparams } from 'optax-ts';
 * const tx = injectHyperparams(scale)(2);
 * const state = setHyperparams(tx.init({ w: new Float64Array(1) }), { stepSize: 3 });
 * console.log(state.hyperparams); // { step_size: 3 }
 * ```
 */
export function setHyperparams<S extends InjectHyperparamsState<any>>(state: S, values: Readonly<Record<string, unknown>>): S {
  if (!isDictNode(state) || !isDictNode(state.hyperparams) || !isDictNode(state.hyperparams_states)) {
    throw new OptaxError(`setHyperparams: expected an inject_hyperparams state {count, hyperparams, hyperparams_states, inner_state}, got ${describe(state)}`);
  }
  const hyperparams = { ...state.hyperparams };
  for (const [key, value] of Object.entries(values)) {
    const name = toSnakeCase(key);
    if (!hasOwn(hyperparams, name)) throw new OptaxError(`setHyperparams: unknown hyperparameter '${key}'; the state has ${Object.keys(hyperparams).join(', ')}`);
    if (hasOwn(state.hyperparams_states, name)) throw new OptaxError(`setHyperparams: '${name}' follows a schedule; setting it would have no effect`);
    if (!isNumericHyperparam(value)) throw new OptaxError(`setHyperparams: ${name} must be a number or an array, got ${describe(value)}`);
    checkNotNaN('setHyperparams', name, value as number | ArrayLeaf);
    hyperparams[name] = value as number | ArrayLeaf;
  }
  return { ...state, hyperparams };
}

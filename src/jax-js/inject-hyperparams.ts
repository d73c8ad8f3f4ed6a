import { defaultDevice, numpy as np } from '@jax-js/jax';
import { deviceHasFloat64 } from './kernel.js';
import type { Dtype } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import { float64Array } from './constants.js';
import type { GradientTransformation } from '../core/transformation.js';
import { adamax } from '../alias/adamax.js';
import { adamaxw } from '../alias/adamaxw.js';
import { recordedCall } from '../spec/record.js';
import { addDecayedWeights } from '../transforms/add-decayed-weights.js';
import { clip } from '../transforms/clip.js';
import type { InjectHyperparamsOptions } from '../transforms/inject-hyperparams.js';
import { type InjectableSignature, injectableSignature } from '../transforms/injectable.js';
import { scale } from '../transforms/scale.js';
import { scaleByAdamax } from '../transforms/scale-by-adamax.js';
import { scaleByLearningRate } from '../transforms/scale-by-learning-rate.js';
import type { CompiledElementwise } from '../kernel/elementwise.js';
import { describe, isDictNode } from '../tree/structure.js';
import { showKeys } from '../tree/node.js';
import { expectScalar, safeIncrement } from './apply-if-finite.js';
import { type Injection, injectInto } from './injection.js';
import type { JaxArray, JaxTree } from './leaf.js';
import { type JaxJsSchedule, toJaxJsSchedule } from './schedule.js';
import { type Lowered, gather } from './transformation.js';

/**
 * The factories whose hyperparameters reach their stages unchanged, under the same (optax) names:
 * optax-ts's own. A factory of your own may transform a value before a stage sees it, which the stage
 * could not tell.
 */
const FACTORIES = [adamax, adamaxw, scaleByAdamax, scale, scaleByLearningRate, addDecayedWeights, clip];

/** The elementwise stages of a transformation (through chain, masked, partition), or the name of a part that is not one. */
function stagesOf(tx: GradientTransformation<any>, out: CompiledElementwise<any>[]): string | undefined {
  if (tx.elementwise) { out.push(tx.elementwise as CompiledElementwise<any>); return undefined; }
  if (tx.parts) { for (const p of tx.parts) { const bad = stagesOf(p, out); if (bad) return bad; } return undefined; }
  const c = tx.combinator;
  if (c?.kind === 'masked') return stagesOf(c.inner, out);
  if (c?.kind === 'partition') { for (const t of Object.values(c.transforms)) { const bad = stagesOf(t, out); if (bad) return bad; } return undefined; }
  return tx.name;
}

/**
 * optax's `inject_hyperparams` in the jax-js graph. The state is the pure path's, with jax-js arrays:
 * `count` and each `hyperparams_states[k].count` int32 scalars, each hyperparameter a scalar array of
 * the hyperparameter dtype (`hyperparamDtype`, else the params' highest dtype, as the pure path's;
 * replace it between steps to change it, as in optax: `state.hyperparams.learning_rate =
 * np.array(0.01)`). Hyperparameters of another dtype than a leaf are the pure path's too: a float64
 * one feeding a float32 leaf's scalars is computed on in float64 and rounded once to float32 (`1 - b1`
 * as the pure path's double arithmetic; a bias correction from `float32(b1)`), a float32 one feeding a
 * float64 leaf is widened exactly; float64 hyperparameters need the wasm or cpu device (an OptaxError
 * on WebGPU and WebGL). Each step reads the hyperparameters from those arrays in the graph: the inner
 * transformation is built once, and its stages compute their per-step scalars from the arrays with
 * their `injectable` formula (the values `writeScalars` gives for those hyperparameters); a scheduled
 * hyperparameter is its schedule evaluated in the graph at its own count ({@link toJaxJsSchedule}),
 * held in the state as the value the step used.
 *
 * Lowered: optax-ts's own factories (adamax, adamaxw, scaleByAdamax, scale, scaleByLearningRate,
 * addDecayedWeights, clip), float32 and float64 hyperparameters. An injected decay in a bias correction
 * (adamax's `b1` unless `staticArgs` names it) needs `b1 ** t` with a base that varies in the graph:
 * powf's full path for float32 leaves; for float64 leaves glibc's `pow`, not lowered (the adapter's
 * OptaxError for that power) unless `staticArgs` names it (then read from the stage's table of the
 * pure path's values).
 */
export function lowerInjectHyperparams(tx: GradientTransformation<any>, lowerInner: (inner: GradientTransformation<any>) => Lowered): Lowered {
  const name = 'inject_hyperparams';
  const call = recordedCall(tx);
  const [sig, options, bound] = (call?.args ?? []) as [InjectableSignature, InjectHyperparamsOptions | undefined, Record<string, unknown>];
  const builtIn = FACTORIES.map((f) => injectableSignature(f as any));
  // The record holds a copy of the signature: its `build` is the registered one.
  if (!sig || !builtIn.some((b) => b?.build === sig.build)) throw new OptaxError(`toJaxJs: inject_hyperparams(${sig?.name ?? '?'}): the jax-js adapter lowers injected hyperparameters of optax-ts's own factories (adamax, adamaxw, scale_by_adamax, scale, scale_by_learning_rate, add_decayed_weights, clip) only`);
  // The names, their order and initial values: the pure path's own (float32 hyperparameters, as for
  // float32 params).
  const info = tx.combinator as Extract<NonNullable<GradientTransformation<any>['combinator']>, { kind: 'injectHyperparams' }>;
  const initial = info.initial('float32');
  const scheduled = Object.keys(initial.hyperparams_states);
  const numeric = Object.keys(initial.hyperparams).filter((k) => !scheduled.includes(k));
  const names = [...numeric, ...scheduled];
  for (const k of names) if (typeof initial.hyperparams[k] !== 'number') throw new OptaxError(`toJaxJs: inject_hyperparams(${sig.name}): hyperparameter '${k}' is an array; the jax-js adapter injects number hyperparameters only`);
  // A fresh inner transformation (not the pure path's cached one), its stages reading the injection.
  const args: Record<string, unknown> = {};
  for (const p of sig.params) args[p.option] = names.includes(p.name) ? initial.hyperparams[p.name] : bound[p.option];
  const inner = sig.build(args);
  const stages: CompiledElementwise<any>[] = [];
  const other = stagesOf(inner, stages);
  if (other) throw new OptaxError(`toJaxJs: inject_hyperparams(${sig.name}): its ${other} is not an elementwise transformation; the jax-js adapter injects into elementwise ones only`);
  const injection: Injection = { names: new Set(names), current: null };
  const reached = new Set<string>();
  for (const def of stages) {
    if (!def.injectable) throw new OptaxError(`toJaxJs: inject_hyperparams(${sig.name}): its ${def.name} cannot compute its scalars from injected hyperparameters (an array hyperparameter or a schedule)`);
    for (const [k, v] of Object.entries(def.injectable.hyperparams)) {
      if (!injection.names.has(k)) continue;
      if (!Object.is(Math.fround(v), initial.hyperparams[k] as number)) throw new OptaxError(`internal: inject_hyperparams(${sig.name}): ${def.name}'s ${k} is ${v}, not the injected ${String(initial.hyperparams[k])}`);
      reached.add(k);
    }
    injectInto(def, injection);
  }
  const lost = names.filter((k) => !reached.has(k));
  if (lost.length > 0) throw new OptaxError(`toJaxJs: inject_hyperparams(${sig.name}): hyperparameter(s) ${lost.join(', ')} reach no transformation whose scalars the jax-js adapter computes from them`);
  const optionOf = new Map(sig.params.map((p) => [p.name, p.option]));
  const schedules: JaxJsSchedule[] = [];
  let lowered: Lowered | undefined;
  try {
    for (const k of scheduled) schedules.push(toJaxJsSchedule(bound[optionOf.get(k)!] as (count: number) => number));
    lowered = lowerInner(inner);
  } catch (e) {
    schedules.forEach((s) => s.dispose());
    throw e;
  }
  const node = lowered;
  const KEYS = ['count', 'hyperparams', 'hyperparams_states', 'inner_state'];
  // The hyperparameters' dtype (optax's hyperparam_dtype): the option, else the highest dtype of the
  // params (of the updates without params; float32 for no leaves), as the pure path's dtypeFor.
  const dtypeFor = (primary: JaxTree | null, fallback: JaxTree | null): Dtype => {
    const dtype = ((): Dtype => {
      if (options?.hyperparamDtype) return options.hyperparamDtype;
      for (const tree of [primary, fallback]) {
        if (tree === null) continue;
        const leaves = gather(name, [tree], [tree === primary ? 'params' : 'updates']).positions.map((p) => p[0]);
        if (leaves.length > 0) return leaves.some((l) => l.dtype === 'float64') ? 'float64' : 'float32';
      }
      return 'float32';
    })();
    if (dtype === 'float64' && !deviceHasFloat64()) throw new OptaxError(`toJaxJs: inject_hyperparams(${sig.name}): float64 hyperparameters (${options?.hyperparamDtype ? 'hyperparamDtype' : 'float64 leaves'}) need a jax-js device that computes in float64 ('wasm' or 'cpu'); '${defaultDevice()}' does not`);
    return dtype;
  };
  const fail = (why: string): never => { throw new OptaxError(`${name}: this state does not belong to this transformation: ${why}`); };
  return {
    init(params) {
      const dtype = dtypeFor(params, null);
      const start = info.initial(dtype);
      const hyperparams: Record<string, JaxArray> = {};
      for (const k of names) hyperparams[k] = scalarArray(dtype, start.hyperparams[k] as number);
      const hyperparams_states: Record<string, { count: JaxArray }> = {};
      for (const k of scheduled) hyperparams_states[k] = { count: np.array(0, { dtype: np.int32 }) };
      return { count: np.array(0, { dtype: np.int32 }), hyperparams, hyperparams_states, inner_state: node.init(params) };
    },
    update(updates, state, params) {
      if (!isDictNode(state) || Object.keys(state).length !== KEYS.length || KEYS.some((k) => !Object.hasOwn(state, k))) fail(`expected {${showKeys(KEYS)}}, got ${isDictNode(state) ? `{${showKeys(Object.keys(state))}}` : describe(state)}`);
      const s = state as Record<string, any>;
      expectScalar(name, 'count', s.count, 'int32');
      const hp = s.hyperparams, hs = s.hyperparams_states;
      if (!isDictNode(hp) || Object.keys(hp).length !== names.length || names.some((k) => !Object.hasOwn(hp, k))) fail(`expected hyperparams {${showKeys(names)}}, got ${isDictNode(hp) ? `{${showKeys(Object.keys(hp))}}` : describe(hp)}`);
      if (!isDictNode(hs) || Object.keys(hs).length !== scheduled.length || scheduled.some((k) => !Object.hasOwn(hs, k))) fail(`expected hyperparams_states {${showKeys(scheduled)}}, got ${isDictNode(hs) ? `{${showKeys(Object.keys(hs))}}` : describe(hs)}`);
      // Scalars of the dtype the hyperparameters keep (optax converts numbers only; an array of another
      // dtype would change the arithmetic: refused).
      const dtype = dtypeFor(params, updates);
      for (const k of names) expectFloatScalar(`hyperparams.${k}`, hp[k], dtype);
      for (const k of scheduled) {
        if (!isDictNode(hs[k]) || Object.keys(hs[k]).length !== 1 || !Object.hasOwn(hs[k], 'count')) fail(`hyperparams_states.${k} must be {count}, got ${describe(hs[k])}`);
        expectScalar(name, `hyperparams_states.${k}.count`, hs[k].count, 'int32');
      }
      const values: Record<string, JaxArray> = {};
      for (const k of numeric) values[k] = hp[k];
      scheduled.forEach((k, i) => {
        // The schedule's value (of its own dtype) rounded to the hyperparameters' (the pure path's roundTo).
        const v = schedules[i](hs[k].count.ref);
        values[k] = v.dtype === dtype ? v : v.astype(dtype === 'float64' ? np.float64 : np.float32);
        hp[k].dispose(); // replaced by this step's value
      });
      injection.current = { values, count: s.count };
      let out: [unknown, unknown];
      try {
        out = node.update(updates, s.inner_state, params);
      } finally {
        injection.current = null;
      }
      const hyperparams_states: Record<string, { count: JaxArray }> = {};
      for (const k of scheduled) hyperparams_states[k] = { count: safeIncrement(hs[k].count) };
      return [out[0] as any, { count: safeIncrement(s.count), hyperparams: values, hyperparams_states, inner_state: out[1] }];
    },
    dispose() {
      schedules.forEach((x) => x.dispose());
      node.dispose();
    },
  };
}

function expectFloatScalar(what: string, x: unknown, dtype: Dtype): void {
  const a = x as JaxArray;
  const ok = typeof a === 'object' && a !== null && Array.isArray(a.shape) && a.dtype === dtype && a.shape.length === 0;
  if (!ok) throw new OptaxError(`inject_hyperparams: state.${what} must be a ${dtype} scalar jax-js array, got ${a && Array.isArray(a.shape) ? `${a.dtype}[${a.shape.join(', ')}]` : describe(x)}`);
}

/** The number `v` (a value of `dtype`) as a 0-d array of `dtype` (float64 through float64Array: see there). */
function scalarArray(dtype: Dtype, v: number): JaxArray {
  return dtype === 'float64' ? float64Array([v], []) : np.array(v, { dtype: np.float32 });
}

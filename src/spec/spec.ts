import type { Dtype } from '../core/dtype.js';
import { OptaxError } from '../core/errors.js';
import type { Schedule } from '../core/schedule.js';
import type { GradientTransformation } from '../core/transformation.js';
import { injectHyperparams } from '../transforms/inject-hyperparams.js';
import type { ShouldSkipUpdateFunction } from '../transforms/multi-steps.js';
import { type SkipFunction, skipLargeUpdates, skipNotFinite } from '../transforms/skip-updates.js';
import { type InjectableSignature, injectableSignature } from '../transforms/injectable.js';
import { isArrayLeaf } from '../tree/leaf.js';
import { describe, isDictNode } from '../tree/structure.js';
import { decodeTree, encodeArray, isEncodedArray } from './encoding.js';
import { type RecordedCall, recordedCall } from './record.js';
import { type ArgKind, type SpecEntry, type SpecParam, WARMUP_COSINE_PARAMS, specEntry } from './table.js';

/**
 * A transformation or schedule as data: optax's function name and its keyword arguments
 * (snake_case), the format of the conformance vectors' `optimizer` and `schedule` fields.
 * Nested transformations are specs, schedules are `{schedule: spec}`, arrays are encoded
 * (`{$array, shape, b64}`, bit-exact). It survives `JSON.stringify` / `JSON.parse`.
 */
export interface Spec {
  readonly name: string;
  readonly args?: Readonly<Record<string, unknown>>;
}

/** Options of {@link fromSpec} and {@link scheduleFromSpec}. */
export interface FromSpecOptions {
  /** The dtype mode of schedules whose spec names none (`'float32'`, JAX's default, unless given). */
  readonly dtype?: Dtype;
}

/** Deeper specs are rejected: they can only come from a hostile or broken file. */
const MAX_DEPTH = 64;
/**
 * The most transformations a spec's `chain` may list. Its factory takes them as arguments, and a
 * list spread into a call overflows the stack at some 100,000 entries (a bare RangeError); far
 * fewer already take seconds to build and can only come from a hostile or broken file.
 */
const MAX_SPEC_CHAIN = 10_000;

/**
 * Describes a transformation or schedule built from optax-ts's parts as data, which
 * {@link fromSpec} (or {@link scheduleFromSpec}) builds back into an equivalent one: the same
 * arguments, so the same results bit for bit. Only what was passed is written (defaults stay
 * implicit), with optax's names, so the spec reads like the optax call.
 *
 * Throws an OptaxError for what cannot be data: a user-written transformation or schedule
 * function, a function mask or label, a non-finite or -0 number argument (JSON has none; pass a
 * one-element array for these), or a custom option such as `scaleBySchedule`'s `check`.
 *
 * @example
 * ```ts
 * import { toSpec, fromSpec, chain, clipByGlobalNorm, adamaxw, warmupCosineDecaySchedule } from 'optax-ts';
 * const tx = chain(clipByGlobalNorm(1), adamaxw(warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.01, warmupSteps: 10, decaySteps: 100 }), { weightDecay: 0.01 }));
 * const spec = toSpec(tx);
 * console.log(JSON.stringify(spec));
 * // {"name":"chain","args":{"transforms":[{"name":"clip_by_global_norm","args":{"max_norm":1}},{"name":"adamaxw","args":{"learning_rate":{"schedule":{"name":"warmup_cosine_decay_schedule","args":{"init_value":0,"peak_value":0.01,"warmup_steps":10,"decay_steps":100}}},"weight_decay":0.01}}]}}
 * console.log(JSON.stringify(toSpec(fromSpec(JSON.parse(JSON.stringify(spec))))) === JSON.stringify(spec)); // true
 * ```
 */
export function toSpec(tx: GradientTransformation<any> | Schedule): Spec {
  return describeValue(tx, typeof tx === 'function' ? 'schedule' : 'transform', 0, 'spec');
}

/**
 * Builds the transformation a {@link Spec} describes (the inverse of {@link toSpec}; also reads the
 * conformance vectors' `optimizer` specs). The spec is checked as it is read: unknown names and
 * arguments, a schedule where a transformation belongs, malformed arrays, over-deep nesting and a
 * chain of more than 10,000 transformations raise an OptaxError naming where; the factories then
 * validate the values as they always do, and their errors name the spec too
 * (`fromSpec: spec(adamax): scale_by_learning_rate: learning rate must be ...` for a missing one).
 *
 * @param spec - `{name, args}`, e.g. parsed from JSON.
 * @param options - `dtype`: the mode of schedules whose spec names none (default `'float32'`).
 *
 * @example
 * ```ts
 * import { fromSpec } from 'optax-ts';
 * const tx = fromSpec({ name: 'adamax', args: { learning_rate: 0.1 } });
 * const [u] = tx.update({ w: new Float32Array([5]) }, tx.init({ w: new Float32Array(1) }));
 * console.log(u.w); // Float32Array(1) [ -0.09999998658895493 ]
 * ```
 */
export function fromSpec(spec: Spec, options: FromSpecOptions = {}): GradientTransformation<any> {
  return build(spec, 'transform', options, 0, 'spec') as GradientTransformation<any>;
}

/**
 * Builds the schedule a schedule {@link Spec} describes (the inverse of {@link toSpec} on a schedule).
 *
 * @example
 * ```ts
 * import { scheduleFromSpec } from 'optax-ts';
 * const schedule = scheduleFromSpec({ name: 'linear_schedule', args: { init_value: 1, end_value: 0, transition_steps: 4 } });
 * console.log(schedule(1), schedule(8)); // 0.75 0
 * ```
 */
export function scheduleFromSpec(spec: Spec, options: FromSpecOptions = {}): Schedule {
  return build(spec, 'schedule', options, 0, 'spec') as Schedule;
}

// ---- describing ----

function describeValue(value: unknown, kind: 'transform' | 'schedule', depth: number, at: string): Spec {
  if (depth > MAX_DEPTH) throw new OptaxError(`toSpec: ${at} is nested more than ${MAX_DEPTH} deep`);
  const rec = recordedCall(value);
  const entry = rec && specEntry(rec.name);
  if (!rec || !entry || (rec.name !== 'inject_hyperparams' && entry.kind !== kind)) {
    throw new OptaxError(`toSpec: ${at} is a ${kind} optax-ts did not build (${describe(value)}); only the library's own ${kind}s, composed, can be described as data`);
  }
  if (rec.name === 'inject_hyperparams') return describeInject(rec, depth, at);
  return { name: rec.name, args: describeArgs(entry, rec.args, depth, at) };
}

function describeArgs(entry: SpecEntry, call: readonly unknown[], depth: number, at: string): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  const put = (q: SpecParam, v: unknown): void => {
    if (v !== undefined) args[q.name] = describeArg(v, q.kind ?? 'value', depth, `${at}.${q.name}`);
  };
  let i = 0;
  for (const q of entry.params.filter((q) => q.positional)) {
    if (q.rest) {
      args[q.name] = call.slice(i).map((v, j) => describeArg(v, q.kind ?? 'value', depth, `${at}.${q.name}[${j}]`));
      i = call.length;
    } else put(q, call[i++]);
  }
  const named = entry.params.filter((q) => !q.positional);
  // The options object (factories default it to {}); without named parameters it must be empty.
  if (i < call.length && (named.length > 0 || isDictNode(call[i]))) {
    const options = call[i++];
    if (options !== undefined && options !== null) {
      if (!isDictNode(options)) throw new OptaxError(`toSpec: ${at}: expected an options object, got ${describe(options)}`);
      for (const [k, v] of Object.entries(options)) {
        const q = named.find((q) => q.option === k);
        if (!q) {
          if (v === undefined) continue;
          throw new OptaxError(`toSpec: ${at}: the option '${k}' cannot be described as data`);
        }
        put(q, v);
      }
    }
  }
  if (call.slice(i).some((v) => v !== undefined)) throw new OptaxError(`toSpec: ${at}: more arguments than the factory takes`);
  return args;
}

function describeArg(v: unknown, kind: ArgKind, depth: number, at: string): unknown {
  switch (kind) {
    case 'transform':
      return describeValue(v, 'transform', depth + 1, at);
    case 'transformMap':
      if (!isDictNode(v)) throw new OptaxError(`toSpec: ${at}: expected {label: transformation}, got ${describe(v)}`);
      return Object.fromEntries(Object.entries(v).map(([k, t]) => [k, describeValue(t, 'transform', depth + 1, `${at}.${k}`)]));
    case 'schedules':
      if (!Array.isArray(v)) throw new OptaxError(`toSpec: ${at}: expected a list of schedules, got ${describe(v)}`);
      return v.map((s, j) => describeValue(s, 'schedule', depth + 1, `${at}[${j}]`));
    case 'warmupCosineList':
      if (!Array.isArray(v)) throw new OptaxError(`toSpec: ${at}: expected a list of option sets, got ${describe(v)}`);
      return v.map((o, j) => describeArgs({ kind: 'schedule', factory: () => undefined, params: WARMUP_COSINE_PARAMS }, [o], depth, `${at}[${j}]`));
    case 'tree':
      return describeData(v, at, 0);
    case 'skip': {
      const rule = typeof v === 'function' ? (v as Partial<SkipFunction<unknown>>).skipRule : undefined;
      if (rule?.kind === 'not_finite') return 'skip_not_finite';
      if (rule?.kind === 'large_updates') return { name: 'skip_large_updates', args: { max_squared_norm: describeData(rule.maxSquaredNorm, `${at}.max_squared_norm`, 0) } };
      throw new OptaxError(`toSpec: ${at}: only skipNotFinite and skipLargeUpdates(n) can be described as data, got ${describe(v)}`);
    }
    case 'value':
      if (typeof v === 'function') return { schedule: describeValue(v, 'schedule', depth + 1, at) };
      if (isArrayLeaf(v)) return encodeArray(v);
      if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' || v === null) return describeData(v, at, 0);
      throw new OptaxError(`toSpec: ${at}: cannot describe ${describe(v)} as data`);
  }
}

/** Plain data (masks, labels, boundaries): copied, array leaves encoded, anything else rejected. */
function describeData(v: unknown, at: string, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new OptaxError(`toSpec: ${at} is nested more than ${MAX_DEPTH} deep`);
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || Object.is(v, -0)) throw new OptaxError(`toSpec: ${at} is ${Object.is(v, -0) ? '-0' : v}, which JSON cannot hold; pass it as a one-element Float64Array`);
    return v;
  }
  if (typeof v === 'boolean' || typeof v === 'string' || v === null) return v;
  if (isArrayLeaf(v)) return encodeArray(v);
  if (Array.isArray(v)) return v.map((x, j) => describeData(x, `${at}[${j}]`, depth + 1));
  if (isDictNode(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, describeData(x, `${at}.${k}`, depth + 1)]));
  throw new OptaxError(`toSpec: ${at}: cannot describe ${describe(v)} as data${typeof v === 'function' ? ' (a function: pass a tree instead)' : ''}`);
}

function describeInject(rec: RecordedCall, depth: number, at: string): Spec {
  const [sig, options, bound] = rec.args as [InjectableSignature, { staticArgs?: string | readonly string[]; hyperparamDtype?: Dtype }, Record<string, unknown>];
  const inner = specEntry(sig.name);
  if (!inner || injectableSignature(inner.factory as never)?.params !== sig.params) throw new OptaxError(`toSpec: ${at}: inject_hyperparams of '${sig.name}', a factory optax-ts does not know, cannot be described`);
  const hyperparams: Record<string, unknown> = {};
  for (const q of sig.params) {
    if (bound[q.option] !== undefined) hyperparams[q.name] = describeArg(bound[q.option], q.static ? 'tree' : 'value', depth, `${at}.hyperparams.${q.name}`);
  }
  const args: Record<string, unknown> = { inner: sig.name, hyperparams };
  // One name stays one name (optax accepts `static_args='mask'`); a list is copied.
  if (options.staticArgs !== undefined) args.static_args = describeData(typeof options.staticArgs === 'string' ? options.staticArgs : [...options.staticArgs], `${at}.static_args`, 0);
  if (options.hyperparamDtype !== undefined) args.hyperparam_dtype = options.hyperparamDtype;
  return { name: 'inject_hyperparams', args };
}

// ---- building ----

function build(spec: unknown, kind: 'transform' | 'schedule', options: FromSpecOptions, depth: number, at: string): unknown {
  if (depth > MAX_DEPTH) throw new OptaxError(`fromSpec: ${at} is nested more than ${MAX_DEPTH} deep`);
  if (!isDictNode(spec) || typeof spec.name !== 'string') throw new OptaxError(`fromSpec: ${at} must be {name, args}, got ${describe(spec)}`);
  const args = spec.args === undefined ? {} : spec.args;
  if (!isDictNode(args)) throw new OptaxError(`fromSpec: ${at}.args must be an object, got ${describe(args)}`);
  const entry = specEntry(spec.name);
  if (!entry) throw new OptaxError(`fromSpec: ${at}: ${kind === 'transform' ? 'transformation' : 'schedule'} '${spec.name}' is not available in optax-ts`);
  if (spec.name === 'inject_hyperparams' && kind === 'transform') return buildInject(args, options, depth, `${at}(inject_hyperparams)`);
  if (entry.kind !== kind) throw new OptaxError(`fromSpec: ${at}: '${spec.name}' is a ${entry.kind}, expected a ${kind}`);
  const here = `${at}(${spec.name})`;
  for (const k of Object.keys(args)) {
    if (!entry.params.some((q) => q.name === k)) throw new OptaxError(`fromSpec: ${here}: unknown argument '${k}'; it takes ${entry.params.map((q) => q.name).join(', ') || 'none'}`);
  }
  const call: unknown[] = [];
  for (const q of entry.params.filter((q) => q.positional)) {
    const v = buildArg(args[q.name], q, options, depth, `${here}.${q.name}`);
    if (q.rest) {
      if (!Array.isArray(v)) throw new OptaxError(`fromSpec: ${here}.${q.name} must be a list, got ${describe(args[q.name])}`);
      for (const x of v) call.push(x);
    } else call.push(v);
  }
  const named = entry.params.filter((q) => !q.positional);
  if (named.length > 0) {
    const opts: Record<string, unknown> = {};
    for (const q of named) if (Object.hasOwn(args, q.name)) opts[q.option] = buildArg(args[q.name], q, options, depth, `${here}.${q.name}`);
    if (entry.kind === 'schedule' && !entry.dtypeFromParts && opts.dtype === undefined && options.dtype !== undefined) opts.dtype = options.dtype;
    call.push(opts);
  }
  return namingSpec(here, () => entry.factory(...call));
}

/**
 * Runs a factory built from spec `at`: its own check of an argument (missing, out of range) becomes
 * an OptaxError naming the spec, as the checks above do.
 */
function namingSpec<T>(at: string, factory: () => T): T {
  try {
    return factory();
  } catch (e) {
    if (e instanceof OptaxError && !e.message.startsWith('fromSpec: ')) throw new OptaxError(`fromSpec: ${at}: ${e.message}`);
    throw e;
  }
}

function buildArg(v: unknown, q: SpecParam, options: FromSpecOptions, depth: number, at: string): unknown {
  if (v === undefined) return q.rest ? [] : undefined;
  switch (q.kind ?? 'value') {
    case 'transform':
      if (!q.rest) return build(v, 'transform', options, depth + 1, at);
      if (list(v, at).length > MAX_SPEC_CHAIN) throw new OptaxError(`fromSpec: ${at} lists ${(v as unknown[]).length} transformations; a spec's chain may list at most ${MAX_SPEC_CHAIN}`);
      return (v as unknown[]).map((s, j) => build(s, 'transform', options, depth + 1, `${at}[${j}]`));
    case 'transformMap':
      if (!isDictNode(v)) throw new OptaxError(`fromSpec: ${at} must be {label: spec}, got ${describe(v)}`);
      return Object.fromEntries(Object.entries(v).map(([k, s]) => [k, build(s, 'transform', options, depth + 1, `${at}.${k}`)]));
    case 'schedules':
      return list(v, at).map((s, j) => build(s, 'schedule', options, depth + 1, `${at}[${j}]`));
    case 'warmupCosineList':
      return list(v, at).map((o, j) => {
        if (!isDictNode(o)) throw new OptaxError(`fromSpec: ${at}[${j}] must be an object, got ${describe(o)}`);
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(o)) {
          const p = WARMUP_COSINE_PARAMS.find((p) => p.name === k);
          if (!p) throw new OptaxError(`fromSpec: ${at}[${j}]: unknown argument '${k}'`);
          out[p.option] = buildArg(o[k], p, options, depth, `${at}[${j}].${k}`);
        }
        return out;
      });
    case 'tree':
      return decodeData(v, at, 0);
    case 'skip':
      return buildSkip(v, at);
    case 'value':
      if (isDictNode(v) && !isEncodedArray(v)) {
        if (Object.keys(v).length !== 1 || !Object.hasOwn(v, 'schedule')) throw new OptaxError(`fromSpec: ${at} must be a number, boolean, string, array or {schedule: spec}, got ${describe(v)}`);
        return build(v.schedule, 'schedule', options, depth + 1, `${at}.schedule`);
      }
      return decodeData(v, at, 0);
  }
}

/** MultiSteps' `should_skip_update_fn` from its description (see the `skip` kind in table.ts). */
function buildSkip(v: unknown, at: string): ShouldSkipUpdateFunction {
  if (v === 'skip_not_finite') return skipNotFinite;
  if (isDictNode(v) && v.name === 'skip_large_updates') {
    const args = v.args;
    if (!isDictNode(args) || Object.keys(args).some((k) => k !== 'max_squared_norm') || typeof args.max_squared_norm !== 'number') {
      throw new OptaxError(`fromSpec: ${at}(skip_large_updates).args must be {max_squared_norm: number}, got ${describe(args)}`);
    }
    return skipLargeUpdates(args.max_squared_norm);
  }
  throw new OptaxError(`fromSpec: ${at} must be "skip_not_finite" or {name: "skip_large_updates", args: {max_squared_norm}}, got ${typeof v === 'string' ? JSON.stringify(v) : describe(v)}`);
}

function list(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw new OptaxError(`fromSpec: ${at} must be a list, got ${describe(v)}`);
  return v;
}

function decodeData(v: unknown, at: string, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new OptaxError(`fromSpec: ${at} is nested more than ${MAX_DEPTH} deep`);
  if (isEncodedArray(v)) {
    try {
      return decodeTree(v);
    } catch (e) {
      if (e instanceof OptaxError) throw new OptaxError(`fromSpec: ${at}: ${e.message}`);
      throw e;
    }
  }
  if (Array.isArray(v)) return v.map((x, j) => decodeData(x, `${at}[${j}]`, depth + 1));
  if (isDictNode(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decodeData(x, `${at}.${k}`, depth + 1)]));
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' || v === null) return v;
  throw new OptaxError(`fromSpec: ${at}: unexpected ${describe(v)}`);
}

function buildInject(args: Record<string, unknown>, options: FromSpecOptions, depth: number, at: string): GradientTransformation<any> {
  for (const k of Object.keys(args)) {
    if (!['inner', 'hyperparams', 'static_args', 'hyperparam_dtype'].includes(k)) throw new OptaxError(`fromSpec: ${at}: unknown argument '${k}'; it takes inner, hyperparams, static_args, hyperparam_dtype`);
  }
  const entry = typeof args.inner === 'string' ? specEntry(args.inner) : undefined;
  const sig = entry && injectableSignature(entry.factory as never);
  if (!entry || !sig) throw new OptaxError(`fromSpec: ${at}.inner must name a factory inject_hyperparams takes (adamax, adamaxw, scale_by_adamax, ...), got ${describe(args.inner)}`);
  const given = args.hyperparams ?? {};
  if (!isDictNode(given)) throw new OptaxError(`fromSpec: ${at}.hyperparams must be an object, got ${describe(given)}`);
  const hyperparams: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(given)) {
    const q = sig.params.find((q) => q.name === k);
    if (!q) throw new OptaxError(`fromSpec: ${at}.hyperparams: unknown argument '${k}' of ${sig.name}; it takes ${sig.params.map((q) => q.name).join(', ')}`);
    hyperparams[q.option] = buildArg(v, { name: q.name, option: q.option, kind: q.static ? 'tree' : 'value' }, options, depth, `${at}.hyperparams.${k}`);
  }
  const staticArgs = args.static_args === undefined ? undefined : (decodeData(args.static_args, `${at}.static_args`, 0) as string | string[]);
  const hyperparamDtype = args.hyperparam_dtype as Dtype | undefined;
  return namingSpec(at, () => injectHyperparams(entry.factory as never, { staticArgs, hyperparamDtype })(hyperparams));
}

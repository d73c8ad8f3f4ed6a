/**
 * Everything a view depends on, as one plain object that lives in the URL (so a view can be shared).
 * Reading a URL never trusts it: every known key is checked against its type and range and anything
 * else (unknown keys, `__proto__`, wrong types) falls back to the default.
 */
import { type Field, type FieldValue, SCHEDULES, defaultValues } from './schedules.js';

export const FUNCTION_NAMES = ['bowl', 'rosenbrock', 'beale', 'himmelblau', 'saddle', 'noisy'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];
export const DATASETS = ['circles', 'xor', 'spirals'] as const;
export type DatasetName = (typeof DATASETS)[number];
export const BACKENDS = ['auto', 'wasm', 'js', 'interpreter', 'reference'] as const;
export type BackendChoice = (typeof BACKENDS)[number];
export const CLIPPING = ['none', 'clip', 'clip_by_global_norm'] as const;

export interface RunConfig {
  optimizer: 'adamax' | 'adamaxw';
  /** The learning rate: a key of SCHEDULES and that schedule's field values. */
  lr: { kind: string; values: Record<string, FieldValue> };
  b1: number;
  b2: number;
  eps: number;
  weightDecay: number;
  clipping: (typeof CLIPPING)[number];
  clipValue: number;
  /** MultiSteps' every_k_schedule: 1 means no MultiSteps wrapper. */
  multiSteps: number;
  useGradMean: boolean;
}

export interface Settings {
  view: 'functions' | 'classify';
  fn: FunctionName;
  x0: number;
  y0: number;
  steps: number;
  noise: number;
  seed: number;
  dataset: DatasetName;
  hidden: string;
  extraFeatures: boolean;
  batchSize: number;
  runs: RunConfig[];
  selected: number;
  backend: BackendChoice;
  /** 0: the engine's default; otherwise the thread count to force. */
  threads: number;
}

export const MAX_RUNS = 3;
export const RUN_COLORS = ['#e4572e', '#2e86de', '#17a673'];

export function defaultRun(index = 0): RunConfig {
  const presets: RunConfig[] = [
    { optimizer: 'adamax', lr: { kind: 'number', values: defaultValues('number') }, b1: 0.9, b2: 0.999, eps: 1e-8, weightDecay: 1e-4, clipping: 'none', clipValue: 1, multiSteps: 1, useGradMean: true },
    { optimizer: 'adamax', lr: { kind: 'warmupCosine', values: defaultValues('warmupCosine') }, b1: 0.9, b2: 0.999, eps: 1e-8, weightDecay: 1e-4, clipping: 'clip_by_global_norm', clipValue: 1, multiSteps: 1, useGradMean: true },
    { optimizer: 'adamaxw', lr: { kind: 'exponential', values: defaultValues('exponential') }, b1: 0.8, b2: 0.99, eps: 1e-8, weightDecay: 0.05, clipping: 'none', clipValue: 1, multiSteps: 2, useGradMean: true },
  ];
  return structuredClone(presets[index % presets.length]);
}

export function defaultSettings(): Settings {
  return {
    view: 'functions', fn: 'rosenbrock', x0: -1.5, y0: 2.2, steps: 300, noise: 1, seed: 1,
    dataset: 'spirals', hidden: '8,8', extraFeatures: true, batchSize: 0,
    runs: [defaultRun(0), defaultRun(1)], selected: 0, backend: 'auto', threads: 0,
  };
}

type Plain = Record<string, unknown>;
const isPlain = (x: unknown): x is Plain => typeof x === 'object' && x !== null && !Array.isArray(x);
const own = (o: Plain, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);

function finite(x: unknown, fallback: number, min = -Infinity, max = Infinity): number {
  return typeof x === 'number' && Number.isFinite(x) && x >= min && x <= max ? x : fallback;
}
function integer(x: unknown, fallback: number, min: number, max: number): number {
  return Number.isInteger(x) && (x as number) >= min && (x as number) <= max ? (x as number) : fallback;
}
function oneOf<T extends string>(x: unknown, options: readonly T[], fallback: T): T {
  return typeof x === 'string' && (options as readonly string[]).includes(x) ? (x as T) : fallback;
}

/** A field's value if it has the field's type (numbers may be out of the schedule's range: the schedule says so). */
export function fieldValue(f: Field, x: unknown): FieldValue {
  switch (f.type) {
    case 'number': return finite(x, f.value);
    case 'int': return integer(x, f.value, -(2 ** 31), 2 ** 31 - 1);
    case 'bool': return typeof x === 'boolean' ? x : f.value;
    case 'choice': return oneOf(x, f.options, f.value);
    case 'text': return typeof x === 'string' && x.length <= 200 ? x : f.value;
  }
}

function readRun(x: unknown, index: number): RunConfig {
  const d = defaultRun(index);
  if (!isPlain(x)) return d;
  const lr = isPlain(own(x, 'lr')) ? (own(x, 'lr') as Plain) : {};
  const kind = typeof own(lr, 'kind') === 'string' && Object.hasOwn(SCHEDULES, own(lr, 'kind') as string) ? (own(lr, 'kind') as string) : d.lr.kind;
  const given = isPlain(own(lr, 'values')) ? (own(lr, 'values') as Plain) : {};
  const fallback = kind === d.lr.kind ? d.lr.values : defaultValues(kind);
  const values = Object.fromEntries(SCHEDULES[kind].fields.map((f) => [f.name, Object.hasOwn(given, f.name) ? fieldValue(f, given[f.name]) : fallback[f.name]]));
  return {
    optimizer: oneOf(own(x, 'optimizer'), ['adamax', 'adamaxw'] as const, d.optimizer),
    lr: { kind, values },
    b1: finite(own(x, 'b1'), d.b1),
    b2: finite(own(x, 'b2'), d.b2),
    eps: finite(own(x, 'eps'), d.eps),
    weightDecay: finite(own(x, 'weightDecay'), d.weightDecay),
    clipping: oneOf(own(x, 'clipping'), CLIPPING, d.clipping),
    clipValue: finite(own(x, 'clipValue'), d.clipValue),
    multiSteps: integer(own(x, 'multiSteps'), d.multiSteps, 1, 64),
    useGradMean: typeof own(x, 'useGradMean') === 'boolean' ? (own(x, 'useGradMean') as boolean) : d.useGradMean,
  };
}

/** Settings from any JSON value: each field checked, defaults for the rest. */
export function readSettings(x: unknown): Settings {
  const d = defaultSettings();
  if (!isPlain(x)) return d;
  const runsIn = own(x, 'runs');
  const runs = Array.isArray(runsIn) && runsIn.length >= 1 ? runsIn.slice(0, MAX_RUNS).map(readRun) : d.runs;
  return {
    view: oneOf(own(x, 'view'), ['functions', 'classify'] as const, d.view),
    fn: oneOf(own(x, 'fn'), FUNCTION_NAMES, d.fn),
    x0: finite(own(x, 'x0'), d.x0, -1e3, 1e3),
    y0: finite(own(x, 'y0'), d.y0, -1e3, 1e3),
    steps: integer(own(x, 'steps'), d.steps, 1, 5000),
    noise: finite(own(x, 'noise'), d.noise, 0, 100),
    seed: integer(own(x, 'seed'), d.seed, 0, 2 ** 31 - 1),
    dataset: oneOf(own(x, 'dataset'), DATASETS, d.dataset),
    hidden: typeof own(x, 'hidden') === 'string' && /^\s*\d{1,2}(\s*,\s*\d{1,2}){0,3}\s*$/.test(own(x, 'hidden') as string) ? (own(x, 'hidden') as string) : d.hidden,
    extraFeatures: typeof own(x, 'extraFeatures') === 'boolean' ? (own(x, 'extraFeatures') as boolean) : d.extraFeatures,
    batchSize: integer(own(x, 'batchSize'), d.batchSize, 0, 10000),
    runs,
    selected: integer(own(x, 'selected'), 0, 0, runs.length - 1),
    backend: oneOf(own(x, 'backend'), BACKENDS, d.backend),
    threads: integer(own(x, 'threads'), d.threads, 0, 16),
  };
}

/** The URL fragment that holds the settings. */
export function settingsToHash(s: Settings): string {
  return `#${encodeURIComponent(JSON.stringify(s))}`;
}

/** Settings from a URL fragment (the defaults when it is empty or not ours). */
export function settingsFromHash(hash: string): Settings {
  if (hash.length <= 1) return defaultSettings();
  try {
    return readSettings(JSON.parse(decodeURIComponent(hash.slice(1))));
  } catch {
    return defaultSettings();
  }
}

/** The hidden layer sizes, e.g. "8,8" -> [8, 8] (each 1..32). */
export function hiddenSizes(text: string): number[] {
  return text.split(',').map((s) => Math.min(32, Math.max(1, Number.parseInt(s.trim(), 10) || 1)));
}

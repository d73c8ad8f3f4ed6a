/**
 * Test helpers: run an emitted fused module on inputs laid out in a WebAssembly.Memory, run the
 * reference interpreter on the same inputs, and compare bit for bit.
 */
import type { Dtype, FloatArray } from '../../../src/core/dtype.js';
import type { FusedProgram, KernelFunction } from '../../../src/engine/program.js';
import { type Kernel } from '../../../src/kernel/expr.js';
import { evaluateKernel, planKernel } from '../../../src/kernel/interpret.js';
import { kernelImports } from '../../../src/engine/wasm/instantiate.js';

export type Streams = Record<string, FloatArray>;

const SENTINEL = 0xa5;

export function typedArray(dtype: Dtype, values: ArrayLike<number>): FloatArray {
  return dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
}

/** Places each stream at a 16-aligned offset (after `base` bytes and a 16-byte gap), in program order. */
export function layout(program: FusedProgram, n: number, base = 0): { offsets: number[]; bytes: number } {
  const bpe = program.dtype === 'float32' ? 4 : 8;
  let at = base;
  const offsets = program.streams.map(() => {
    const o = at;
    at += Math.ceil((n * bpe) / 16) * 16 + 16;
    return o;
  });
  return { offsets, bytes: at };
}

/**
 * Instantiates `bytes`, copies `inputs` in, calls `run(n, ...pointers, ...scalars)` and returns every
 * stream afterwards. Also checks that no byte outside the streams changed.
 */
export function runWasm(bytes: Uint8Array<ArrayBuffer>, program: FusedProgram, inputs: Streams, scalars: readonly number[], n: number, opts: { base?: number; shared?: boolean; maximumPages?: number; scalarOffsets?: readonly number[] } = {}): Streams {
  const run = (memory: WebAssembly.Memory): KernelFunction => new WebAssembly.Instance(new WebAssembly.Module(bytes), kernelImports(memory)).exports.run as KernelFunction;
  return runKernel(run, program, inputs, scalars, n, opts);
}

/** Float64 slots for the program's scalars, after its streams (for kernels emitted with `scalarOffsets`). */
export function scalarSlots(program: FusedProgram, n: number, base = 0): number[] {
  const end = Math.ceil(layout(program, n, base).bytes / 8) * 8;
  return program.scalars.map((_, k) => end + 8 * k);
}

/**
 * As {@link runWasm}, for any kernel built on the memory by `make` (e.g. the plain-JS kernel on its
 * buffer). With `scalarOffsets` the scalars are written there as float64 (where the kernel reads them)
 * and `run(n, ...pointers)` is called without them; they must be left unchanged.
 */
export function runKernel(make: (memory: WebAssembly.Memory) => KernelFunction, program: FusedProgram, inputs: Streams, scalars: readonly number[], n: number, opts: { base?: number; shared?: boolean; maximumPages?: number; scalarOffsets?: readonly number[] } = {}): Streams {
  const { offsets, bytes: streamBytes } = layout(program, n, opts.base ?? 0);
  const slots = opts.scalarOffsets ?? [];
  const needed = Math.max(streamBytes, ...slots.map((o) => o + 8));
  const pages = Math.max(1, Math.ceil(needed / 65536));
  const memory = new WebAssembly.Memory({ initial: pages, maximum: opts.maximumPages ?? 64, shared: opts.shared ?? false });
  const all = new Uint8Array(memory.buffer);
  all.fill(SENTINEL);
  const Ctor = program.dtype === 'float32' ? Float32Array : Float64Array;
  program.streams.forEach((s, k) => new Ctor(memory.buffer, offsets[k], n).set(inputs[s]));
  const slotView = new DataView(memory.buffer);
  slots.forEach((o, k) => slotView.setFloat64(o, scalars[k], true));
  if (opts.scalarOffsets) make(memory)(n, ...offsets);
  else make(memory)(n, ...offsets, ...scalars);
  slots.forEach((o, k) => {
    if (!Object.is(slotView.getFloat64(o, true), scalars[k])) throw new Error(`scalar slot ${k} at byte ${o} was overwritten`);
  });
  const bpe = Ctor.BYTES_PER_ELEMENT;
  const inside = (i: number): boolean => offsets.some((o) => i >= o && i < o + n * bpe) || slots.some((o) => i >= o && i < o + 8);
  for (let i = 0; i < all.length; i++) {
    if (!inside(i) && all[i] !== SENTINEL) throw new Error(`byte ${i} outside every stream was overwritten`);
  }
  return Object.fromEntries(program.streams.map((s, k) => [s, new Ctor(memory.buffer, offsets[k], n).slice()]));
}

/** The reference result: every stream after the program, by the interpreter (evaluateKernel). */
export function runReference(program: FusedProgram, inputs: Streams, scalars: readonly number[], n: number): Streams {
  const kernel: Kernel = {
    updates: program.outputs[0].expr,
    state: Object.fromEntries(program.outputs.map((o, i) => [`out${i}`, o.expr])),
  };
  const plan = planKernel(kernel);
  const zeros = typedArray(program.dtype, new Array<number>(n).fill(0));
  const result = evaluateKernel(plan, {
    dtype: program.dtype,
    updates: inputs.updates ?? zeros,
    params: inputs.params ?? null,
    state: inputs,
    scalars: Object.fromEntries(program.scalars.map((s, i) => [s, scalars[i]])),
  }, Object.keys(kernel.state));
  const out: Streams = Object.fromEntries(program.streams.map((s) => [s, inputs[s].slice()]));
  program.outputs.forEach((o, i) => out[o.stream].set(result.state[`out${i}`]));
  return out;
}

/** A number as written in source (`-0` keeps its sign). */
export function show(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

/** Throws unless every element is bit-identical (any NaN equals any NaN). */
export function assertSameBits(actual: Streams, expected: Streams, context: () => string): void {
  for (const s of Object.keys(expected)) {
    const a = actual[s], e = expected[s];
    if (a.length !== e.length) throw new Error(`${s}: length ${a.length} != ${e.length}\n${context()}`);
    for (let i = 0; i < e.length; i++) {
      if (!Object.is(a[i], e[i]) && !(Number.isNaN(a[i]) && Number.isNaN(e[i]))) {
        throw new Error(`${s}[${i}]: wasm ${show(a[i])} != reference ${show(e[i])}\n${context()}`);
      }
    }
  }
}

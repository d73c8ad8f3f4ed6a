import type { Dtype } from '../../core/dtype.js';
import { fma32, fma64 } from '../../core/fused-multiply-add.js';
import { FunctionBuilder, countedLoop } from './function-builder.js';
import { assembleModule } from './module.js';
import { SimdOp, V128_ALIGN_LOG2, ValType } from './opcodes.js';

/**
 * Whether this runtime's `f32x4.relaxed_madd` / `f64x2.relaxed_madd` (WebAssembly relaxed SIMD) is a
 * fused multiply-add, rounded once: the kernels then compute their float32 (float64) vector fmas with
 * that one instruction instead of the exact emulation of wasm/fma.ts (several times dearer), with the
 * same bits (the emulation and core's fma32/fma64 are correctly rounded on every input).
 *
 * The relaxed SIMD proposal lets `relaxed_madd(a, b, c)` be either `fma(a, b, c)` or `a * b + c`
 * rounded twice, at the engine's choice, so the choice is measured, not assumed:
 * 1. the instruction must validate (`WebAssembly.validate`: relaxed SIMD is on by default from V8
 *    11.4 (Chrome 114, Node 22) and in Firefox; Node 20 needs `--experimental-wasm-relaxed-simd`);
 * 2. a module of the kind the kernels are (importing `env.memory`, compiled with `new
 *    WebAssembly.Module`, run on vectors loaded from that memory, so nothing is folded at compile
 *    time) computes operands where the fused result differs from the unfused one, and from the
 *    float64 sum rounded again to float32, in every lane: each lane must equal the exact fma
 *    (core/fused-multiply-add.ts), or the emulation is kept.
 *
 * An engine could still compile the same instruction differently in another tier (V8 runs a
 * function first in its baseline compiler, Liftoff, then in its optimizing one, TurboFan), and a
 * kernel must never mix fused and unfused lanes. In V8 (read in v8/v8: src/wasm/wasm-opcodes.h maps
 * 0xfd105 to `F32x4Qfma`) both tiers emit it through one macro-assembler function: on x64,
 * Liftoff's `emit_f32x4_qfma` (src/wasm/baseline/x64/liftoff-assembler-x64-inl.h) and TurboFan's
 * `kX64F32x4Qfma` (src/compiler/backend/x64/code-generator-x64.cc) both call
 * `SharedMacroAssemblerBase::F32x4Qfma` (src/codegen/shared-ia32-x64/macro-assembler-shared-ia32-x64.cc),
 * whose `QFMA` macro emits `vfmadd213ps`/`vfmadd231ps` when `CpuFeatures::IsSupported(FMA3)` (a
 * property of the process, fixed at start-up) and `mulps` + `addps` otherwise. So on x64 every
 * kernel of the process is fused exactly when the probe is, whichever tier runs it (ARM64's Liftoff
 * emits `fmla`, always fused). The probe also runs many times, each result checked: in Node 20 on
 * x64 that usually gets its function tiered up to TurboFan before it ends (seen with
 * `--print-wasm-code`), but tier-up is asynchronous, so that is evidence, not proof; for other
 * engines the probe is all the evidence there is.
 */

/** The probe's operands, lane by lane: each differs between fused and unfused (and double-rounded). */
const CASES: Readonly<Record<Dtype, readonly (readonly [number, number, number])[]>> = {
  float32: [
    // a * b = 1 - 2^-46: rounded to 1 first, the sum is 0; fused, -2^-46.
    [1 + 2 ** -23, 1 - 2 ** -23, -1],
    // a * b = 1 + 2^-22 + 2^-46: rounded first, 2^-22; fused, 2^-22 + 2^-46.
    [1 + 2 ** -23, 1 + 2 ** -23, -1],
    // c = 1 + 2^-23 (odd), a * b = 2^-24 (1 - 2^-46), just under half its ulp: fused, c; rounded
    // first (or the float64 sum rounded again), a tie broken to the even 1 + 2^-22.
    [2 ** -12 * (1 + 2 ** -23), 2 ** -12 * (1 - 2 ** -23), 1 + 2 ** -23],
    // a * b = 2^-140 (1 - 2^-46), c = -2^-140: fused, -2^-186, which rounds to -0; unfused, +0.
    [2 ** -70 * (1 + 2 ** -23), 2 ** -70 * (1 - 2 ** -23), -(2 ** -140)],
  ].map(([a, b, c]) => [Math.fround(a), Math.fround(b), Math.fround(c)] as const),
  float64: [
    // a * b = 1 - 2^-60: rounded first, the sum is 0; fused, -2^-60.
    [1 + 2 ** -30, 1 - 2 ** -30, -1],
    // c = 1 + 2^-52 (odd), a * b = 2^-53 (1 - 2^-60): fused, c; rounded first, a tie broken to even.
    [2 ** -26 * (1 + 2 ** -30), 2 ** -27 * (1 - 2 ** -30), 1 + 2 ** -52],
    // The same below 2^-960, where Dekker's product error is no double: fused, c; unfused, c + ulp.
    [2 ** -481 * (1 + 2 ** -30), 2 ** -480 * (1 - 2 ** -30), 2 ** -908 * (1 + 2 ** -52)],
    // a * b = 2^-1074 (1 - 2^-60), c = -2^-1074: fused, -2^-1134, which rounds to -0; unfused, +0.
    [2 ** -537 * (1 + 2 ** -30), 2 ** -537 * (1 - 2 ** -30), -(2 ** -1074)],
    // a * b = 2^1024 overflows when rounded first (infinity); fused, 2^1024 - max = 2^971.
    [2 ** 512, 2 ** 512, -Number.MAX_VALUE],
  ],
};

/** Times the probe function is called (its results checked each time), so that V8 may tier it up meanwhile. */
const PROBE_CALLS = 1000;
/** Vectors per call: every case in every lane (rotations), several times over. */
const VECTORS_PER_CALL = 64;

const fused = new Map<Dtype, boolean>();
let forced: boolean | undefined;

/**
 * True when the `relaxed_madd` of `dtype`'s vectors validates and computes a fused multiply-add in
 * this runtime (see above); false otherwise (no relaxed SIMD, an unfused one, no WebAssembly). Cached.
 * @internal
 */
export function relaxedMaddFused(dtype: Dtype = 'float32'): boolean {
  if (forced !== undefined) return forced && probeCached(dtype);
  return probeCached(dtype);
}

function probeCached(dtype: Dtype): boolean {
  let result = fused.get(dtype);
  if (result === undefined) fused.set(dtype, (result = probe(dtype)));
  return result;
}

/**
 * For benchmarks and tests: `false` makes {@link relaxedMaddFused} answer false (the kernels compiled
 * next emulate their fmas), `undefined` restores the probe's answer. (`true` cannot make an unfused
 * instruction pass.)
 * @internal
 */
export function forceRelaxedMadd(value: false | undefined): void {
  forced = value;
}

/** The probe module: `probe(n)` computes `out[i] = relaxed_madd(a[i], b[i], c[i])` for n vectors of `dtype`. */
function probeModule(dtype: Dtype): Uint8Array<ArrayBuffer> {
  const f = new FunctionBuilder('probe', [ValType.i32], []);
  const at = f.local(ValType.i32);
  const bytes = VECTORS_PER_CALL * 16;
  countedLoop(f, 0, () => {
    f.localGet(at);
    for (let k = 0; k < 3; k++) f.localGet(at).simdMemory(SimdOp.v128Load, V128_ALIGN_LOG2, k * bytes);
    f.simd(dtype === 'float32' ? SimdOp.f32x4RelaxedMadd : SimdOp.f64x2RelaxedMadd).simdMemory(SimdOp.v128Store, V128_ALIGN_LOG2, 3 * bytes);
    f.addToLocal(at, 16);
  });
  return assembleModule({ shared: false, initialPages: 1, maximumPages: 1 }, [f]);
}

function probe(dtype: Dtype): boolean {
  try {
    if (typeof WebAssembly !== 'object' || typeof WebAssembly.validate !== 'function') return false;
    const bytes = probeModule(dtype);
    if (!WebAssembly.validate(bytes)) return false;
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    const run = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports.probe as (n: number) => void;
    const f32 = dtype === 'float32', width = f32 ? 4 : 2, cases = CASES[dtype];
    const lanes = VECTORS_PER_CALL * width;
    const Float = f32 ? Float32Array : Float64Array;
    const [a, b, c] = [0, 1, 2].map((k) => new Float(memory.buffer, k * VECTORS_PER_CALL * 16, lanes));
    const expected = new Float(lanes);
    for (let i = 0; i < lanes; i++) {
      // Vector v, lane l: case (l + v) mod cases, so that every case meets every lane.
      const [x, y, z] = cases[((i % width) + Math.floor(i / width)) % cases.length];
      a[i] = x;
      b[i] = y;
      c[i] = z;
      expected[i] = f32 ? fma32(x, y, z) : fma64(x, y, z);
    }
    const words = VECTORS_PER_CALL * 4;
    const want = new Uint32Array(expected.buffer), got = new Uint32Array(memory.buffer, 3 * VECTORS_PER_CALL * 16, words);
    const out = new Float(memory.buffer, 3 * VECTORS_PER_CALL * 16, lanes);
    for (let call = 0; call < PROBE_CALLS; call++) {
      out.fill(NaN);
      run(VECTORS_PER_CALL);
      for (let i = 0; i < words; i++) if (got[i] !== want[i]) return false;
    }
    return true;
  } catch {
    return false;
  }
}

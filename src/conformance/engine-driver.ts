import { compile } from '../engine/compile.js';
import type { KernelBackend } from '../engine/executor.js';
import type { Stepper, StepperBackend } from '../engine/stepper.js';
import { threadPlatform } from '../engine/thread-platform.js';
import { sharedMemorySupported, wasmSimdSupported } from '../engine/wasm/support.js';
import type { DriverFactory } from './run-trajectory.js';
import { type ArrayLeaf, leafData } from '../tree/leaf.js';
import { treeLeaves } from '../tree/map.js';

/**
 * The conformance runner's engine mode (`--engine`): a trajectory case run through `compile()` on a
 * given backend and thread count, by the same loop and pass rule as the pure path
 * (run-trajectory.ts). The engine adds the updates to the params in place, so params and state are
 * compared at every step (the updates themselves never exist outside its registers).
 */

/** One backend configuration the engine mode runs every trajectory case on. */
export interface EngineConfig {
  /** Shown in the output, e.g. `wasm, 2 threads`. */
  readonly label: string;
  readonly backend: KernelBackend;
  readonly threads: number;
}

/** What actually ran a case (the engine falls back to the reference path for what it cannot fuse). */
export interface EngineRun {
  /** The configuration asked for. */
  readonly asked: EngineConfig;
  /** The backend that ran the steps (`reference` when the transformation was not fused). */
  readonly backend: StepperBackend;
  /** Threads that ran each step. */
  readonly threads: number;
  /** Why it ran on the reference path. */
  readonly referenceReason?: string;
}

/** wasm at 1 and 2 threads, js, interpreter: each engine configuration, in the order they are run. */
export const ENGINE_CONFIGS: readonly EngineConfig[] = [
  { label: 'wasm, 1 thread', backend: 'wasm', threads: 1 },
  { label: 'wasm, 2 threads', backend: 'wasm', threads: 2 },
  { label: 'js', backend: 'js', threads: 1 },
  { label: 'interpreter', backend: 'interpreter', threads: 1 },
];

function codeGenerationAllowed(): boolean {
  try {
    return new Function('return 1')() === 1;
  } catch {
    return false;
  }
}

/** Why a configuration cannot run here, or undefined when it can. */
export function engineConfigUnavailable(config: EngineConfig): string | undefined {
  if (config.backend === 'wasm' && !wasmSimdSupported()) return 'WebAssembly SIMD is not available';
  if (config.backend === 'js' && !codeGenerationAllowed()) return 'code generation (new Function) is not allowed';
  if (config.threads > 1 && (!sharedMemorySupported() || !threadPlatform())) return 'threads are not available (no shared memory or no worker platform)';
  return undefined;
}

/**
 * A driver that compiles the case's transformation for `config` (`minElementsPerThread: 1`, so that
 * even the vectors' small trees are split across the threads asked for) and reports what ran.
 */
export function engineDriver(config: EngineConfig, report: (run: EngineRun) => void): DriverFactory {
  return (tx, params) => {
    // The vectors come from XLA on CPU, which flushes subnormals: the engine computes in that mode.
    const stepper: Stepper<any, any> = compile(tx, params, { backend: config.backend, threads: config.threads, minElementsPerThread: 1, subnormals: 'flush' });
    report({ asked: config, backend: stepper.backend, threads: stepper.threads, referenceReason: stepper.referenceReason });
    return {
      driver: {
        get state() { return stepper.state; },
        set state(s) { stepper.state = s; },
        get params() { return stepper.params; },
        step(grads, extraArgs) {
          stepper.step(grads, extraArgs);
          return undefined;
        },
        restore(params, state) {
          // Into the engine's own memory: the params leaf by leaf, then the state (validated first).
          const target = treeLeaves<ArrayLeaf>(stepper.params).leaves;
          const source = treeLeaves<ArrayLeaf>(params).leaves;
          if (source.length !== target.length) throw new Error(`the restored params have ${source.length} leaves, the stepper ${target.length}`);
          stepper.state = state;
          target.forEach((leaf, i) => leafData(leaf).set(leafData(source[i])));
        },
      },
      done: () => stepper.dispose(),
    };
  };
}

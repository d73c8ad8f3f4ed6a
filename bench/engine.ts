import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { GradientTransformation } from '../src/core/transformation.js';
import type { Params, Tree } from '../src/tree/tree.js';

/** The fused engine's options, as the bench uses them. */
export interface EngineOptions {
  backend: 'auto' | 'wasm' | 'js' | 'interpreter';
  threads?: number;
  /** When mask functions are called (compile's `masks`; default: at every step). */
  masks?: 'every-step' | 'once';
}

/** A compiled stepper: fill `grads`, call `step()`, read `params`. */
export interface FusedStepper {
  readonly grads: Tree;
  readonly params: Tree;
  /** The optimizer state, laid out as `tx.init` / `tx.update` lay it out (live views). */
  readonly state: unknown;
  step(): unknown;
  dispose(): void;
  /** Reported by the engine when it tells which path / how many threads really run (optional). */
  readonly backend?: string;
  readonly threads?: number;
}

export type EngineCompile = (tx: GradientTransformation<unknown>, params: Params, options: EngineOptions) => FusedStepper | Promise<FusedStepper>;

const engineDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/engine');

/**
 * Finds the engine's `compile` (src/engine/index.ts, else src/engine/compile.ts). The import is dynamic
 * so that the bench runs, and type-checks, while the engine is absent or changing: the columns then
 * say why they are empty.
 */
export async function loadEngine(): Promise<EngineCompile | string> {
  const candidates = ['index.ts', 'compile.ts'].filter((f) => existsSync(path.join(engineDir, f)));
  if (candidates.length === 0) return 'engine not built';
  const errors: string[] = [];
  for (const file of candidates) {
    try {
      const mod = (await import(pathToFileURL(path.join(engineDir, file)).href)) as { compile?: unknown };
      if (typeof mod.compile === 'function') return mod.compile as EngineCompile;
      errors.push(`src/engine/${file} exports no compile`);
    } catch (e) {
      errors.push(`src/engine/${file}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return errors.join('; ');
}

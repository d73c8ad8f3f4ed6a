import { OptaxError } from './errors.js';
/**
 * One channel for the warnings optax-ts gives where optax logs and carries on (e.g. a schedule with
 * `transition_steps <= 0`, which optax turns into a constant schedule with `logging.info`). The core
 * runs in browsers too, so the default handler uses `console.warn` only if a console exists.
 */

/** A warning: where it comes from (optax's function name) and what happened. */
export interface OptaxWarning {
  /** optax's name of the function that warned, e.g. `'polynomial_schedule'`. */
  readonly source: string;
  /** What was accepted and what it means, as one sentence. */
  readonly message: string;
}

/** Receives every warning; see {@link setWarningHandler}. */
export type WarningHandler = (warning: OptaxWarning) => void;

const consoleHandler: WarningHandler = (w) => {
  // `console` exists in Node, browsers and workers; a sandbox without one gets silence, not a crash.
  const c = (globalThis as { console?: { warn?: (...a: unknown[]) => void } }).console;
  c?.warn?.(`optax-ts: ${w.source}: ${w.message}`);
};

let handler: WarningHandler = consoleHandler;

/**
 * Replaces the handler that receives optax-ts's warnings and returns the previous one (so it can be
 * restored). `null` restores the default, which prints `optax-ts: <source>: <message>` with
 * `console.warn`. A handler may throw to turn warnings into errors: the throw propagates out of the
 * call that warned, before that call has returned anything.
 *
 * Warnings are given, at the call that builds the object, where optax logs and carries on:
 * `polynomialSchedule`/`linearSchedule`/`warmupConstantSchedule` with `transitionSteps <= 0` or a
 * negative `transitionBegin`, `exponentialDecay`/`warmupExponentialDecaySchedule` with
 * `transitionSteps <= 0`, `decayRate === 0` or a negative `transitionBegin`.
 *
 * @param next - The new handler, or `null` for the default.
 * @returns The handler that was installed before.
 *
 * @example
 * ```ts
 * import { setWarningHandler, polynomialSchedule } from 'optax-ts';
 * const seen: string[] = [];
 * const previous = setWarningHandler((w) => seen.push(`${w.source}: ${w.message}`));
 * const schedule = polynomialSchedule({ initValue: 10, endValue: 20, power: 1, transitionSteps: 0 });
 * setWarningHandler(previous);
 * console.log(schedule(5), seen.length); // 10 1
 * console.log(seen[0]); // polynomial_schedule: transitionSteps is 0 (<= 0): the schedule is the constant initValue (10)
 * ```
 */
export function setWarningHandler(next: WarningHandler | null): WarningHandler {
  if (next !== null && typeof next !== 'function') throw new OptaxError(`setWarningHandler: expected a function or null, got ${typeof next}`);
  const previous = handler;
  handler = next ?? consoleHandler;
  return previous;
}

let silencedDepth = 0;

/** Gives a warning to the installed handler. @internal */
export function warn(source: string, message: string): void {
  if (silencedDepth === 0) handler({ source, message });
}

/**
 * Runs `fn` without warnings: for a part that a composite builds from an argument the user gave
 * legitimately (`warmupSteps: 0` means "no warmup" to the warmup schedules, though optax's inner
 * `linear_schedule` logs about it). @internal
 */
export function withoutWarnings<T>(fn: () => T): T {
  silencedDepth++;
  try {
    return fn();
  } finally {
    silencedDepth--;
  }
}

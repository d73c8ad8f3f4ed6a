/**
 * Getting a kernel into the engine's optimizing tier at compile time rather than during the first
 * steps.
 *
 * V8 (Chrome, Edge, Node, Deno) first runs a WebAssembly function as baseline code (Liftoff) and
 * compiles it with its optimizing compiler (TurboFan) in the background once the function has used up
 * a "tiering budget" (`--wasm-tiering-budget`, a rough count of bytes of baseline code executed,
 * charged at loop back edges and at returns: 1.8 million up to V8 11.x (Node 20), 13 million from
 * V8 12.x (Node 22 and 24, current Chrome)); calls that start after the optimized code is installed run it, a call already
 * running keeps the baseline code to its end (there is no on-stack replacement for WebAssembly). The
 * baseline code of a fused kernel is 5x (adamax) to 10x (emulated fmas) slower. Left to itself, the
 * tier-up is only asked for during the first steps, and on a busy machine the background compile
 * then takes tens to hundreds of milliseconds to be scheduled: the first steps of a stepper ran at
 * baseline speed, and a short benchmark could time a stepper entirely on its baseline code (seen as
 * steppers measuring 3-15x slow at random under load, none with `--no-wasm-dynamic-tiering`).
 *
 * So compile() spends the budget on calls over zero elements, which touch no memory: each charges the
 * function's baseline code size at its return, so a few thousand calls (well under a millisecond)
 * ask for the tier-up while compile() is still running, and the background compile overlaps the rest
 * of compile() and the caller's setup. Other engines tier up on their own schedules (SpiderMonkey
 * compiles a whole module's optimized code in the background at once, JavaScriptCore counts loop
 * iterations too); the calls cost them as little. Worker threads share the compiled module, hence its
 * optimized code.
 */

/**
 * V8's default tiering budget (`--wasm-tiering-budget`), in bytes of baseline code: the larger of its
 * defaults, 13 million from V8 12.x (v8/v8 src/flags/flag-definitions.h; it was 1.8 million before,
 * as in Node 20's V8 11.3). The engine cannot ask the runtime which it has (a page has no V8 version),
 * and calls enough for the larger budget also use up the smaller one: on Node 20 they are about 7
 * times more than needed, a millisecond or two per kernel at compile time.
 */
export const V8_TIERING_BUDGET = 13_000_000;

/**
 * Calls over zero elements that use up the tiering budget of a function in a module of
 * `moduleBytes` bytes: the baseline code charged per call is several times the function's bytecode,
 * so budget / module size calls are at least twice what is needed (measured on adamax's 896-byte
 * module: Node 24 and Node 22 tier up after between 5000 and 10 000 calls, Node 20 after fewer
 * than 1000); at most 150 000 (a module of a fused kernel is larger than 90 bytes) and at least 16.
 */
export function tierUpCalls(moduleBytes: number): number {
  return Math.min(150_000, Math.max(16, Math.ceil(V8_TIERING_BUDGET / Math.max(1, moduleBytes))));
}

/**
 * Calls `run(...args)` {@link tierUpCalls}(moduleBytes) times. `args` must make `run` do no work and
 * touch no memory (a fused kernel over 0 elements).
 */
export function requestTierUp(run: (...args: number[]) => unknown, args: readonly number[], moduleBytes: number): void {
  const calls = tierUpCalls(moduleBytes);
  for (let i = 0; i < calls; i++) run(...args);
}

import { defaultDevice, numpy as np } from '@jax-js/jax';
import { deviceHasFloat64 } from './kernel.js';
import { OptaxError } from '../core/errors.js';
import type { Schedule } from '../core/schedule.js';
import { scheduleFormula, scheduleInfo } from '../schedules/typed.js';
import type { JaxArray } from './leaf.js';
import { isJaxLeaf } from './leaf.js';
import { ArithAnchors, JaxScheduleArith } from './schedule-arith.js';

/** A schedule evaluated as jax-js operations on an int32 count array, made by {@link toJaxJsSchedule}. */
export interface JaxJsSchedule {
  /**
   * The schedule's values at `count` (an int32 array of any shape, consumed as jax-js functions consume
   * their arguments: pass `count.ref` to keep it), as an array of that shape and of the schedule's
   * dtype (float32, or float64 for an x64 schedule), owned by the caller.
   */
  (count: JaxArray): JaxArray;
  /** Frees the small constant buffers the evaluation reads; the schedule is unusable afterwards. */
  dispose(): void;
}

/**
 * An optax-ts schedule as jax-js operations on the step count, usable inside `jax.jit`: the same
 * formula the schedule evaluates in JavaScript (written once, schedules/arith.ts), interpreted by
 * jax-js. This is how {@link toJaxJs} computes learning rates and weight decays in the graph.
 *
 * On jax-js's wasm device the values are bit-identical to the schedule's own (float32 schedules: every
 * count 0..100,000 and large ones checked for each schedule family by test/jax-js/schedule.test.ts and
 * `bench/jaxjs-schedules.ts`): `+ - *` are IEEE operations, division is done in float64 and rounded
 * once, and `cos`/`pow` are glibc's `cosf`/`powf` rebuilt from float64 operations. On WebGPU and WebGL,
 * which have no float64, this does not hold (see the README).
 *
 * Refused with an OptaxError: a function optax-ts did not build, and a float64 (x64) schedule with a
 * cosine or a power. `x ** y` whose base changes with the count (a non-integer `polynomialSchedule`
 * power, a cosine `exponent` other than 1) is powf's full path (log2 and exp2) in the graph.
 *
 * @param schedule - one of optax-ts's schedules (or a join of them).
 *
 * @example
 * ```ts
 * import * as jax from '@jax-js/jax';
 * import { warmupCosineDecaySchedule } from 'optax-ts';
 * import { toJaxJsSchedule } from 'optax-ts/jax-js';
 * await jax.init('wasm');
 * jax.defaultDevice('wasm');
 * const schedule = warmupCosineDecaySchedule({ initValue: 0, peakValue: 0.1, warmupSteps: 10, decaySteps: 100 });
 * const lr = toJaxJsSchedule(schedule);
 * const counts = jax.numpy.array(new Int32Array([0, 5, 50, 1000]));
 * const values = await jax.jit(lr)(counts).data();
 * console.log(Array.from(values).map((v, i) => v === Math.fround(schedule([0, 5, 50, 1000][i])))); // [ true, true, true, true ]
 * lr.dispose();
 * ```
 */
export function toJaxJsSchedule(schedule: Schedule): JaxJsSchedule {
  if (!deviceHasFloat64()) throw new OptaxError(`toJaxJsSchedule: needs float64 operations, which the jax-js device '${defaultDevice()}' does not have (use 'wasm' or 'cpu')`);
  const formula = typeof schedule === 'function' ? scheduleFormula(schedule) : undefined;
  if (!formula) throw new OptaxError('toJaxJsSchedule: expected one of optax-ts\'s schedules (a function optax-ts did not build cannot be evaluated in the graph)');
  const info = scheduleInfo(schedule)!;
  const dtype = info.kind === 'float64' || (info.kind !== 'float32' && info.mode === 'float64') ? 'float64' : 'float32';
  const anchors = new ArithAnchors();
  // Evaluated once on a count now, so that what cannot be lowered fails here, not inside a step.
  evaluate(np.array(new Int32Array([0, 1]))).dispose();
  function evaluate(count: JaxArray): JaxArray {
    if (!isJaxLeaf(count) || count.dtype !== 'int32') throw new OptaxError(`toJaxJsSchedule: the count must be an int32 jax-js array, got ${isJaxLeaf(count) ? count.dtype : typeof count}`);
    const arith = new JaxScheduleArith('toJaxJsSchedule', anchors);
    const value = formula!(arith.input(count), arith);
    count.dispose();
    // A value the formula returns as a number (a constant schedule) still has the count's shape.
    const out = arith.finish(typeof value === 'number' ? arith.broadcast(dtype, value) : value, dtype);
    return out;
  }
  const fn = ((count: JaxArray) => evaluate(count)) as JaxJsSchedule;
  fn.dispose = () => anchors.dispose();
  return fn;
}

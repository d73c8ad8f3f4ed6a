import { OptaxError } from '../core/errors.js';
import { isStepCount, safeIncrement } from '../core/numerics.js';
import { describe } from '../tree/node.js';

/** The control state of transformations that count steps: an int32, saturating at 2^31-1. */
export interface CountState extends Record<string, unknown> {
  count: number;
}

/** Checks that `control.count` is an int32 step count. */
export function checkCount(owner: string) {
  return (control: Record<string, unknown>): void => {
    const c = control.count;
    if (!isStepCount(c)) throw new OptaxError(`${owner}: state.count must be a non-negative int32 step count, got ${describe(c)}`);
  };
}

/** A control state with no fields, for stateless transformations. */
export const noControl = {
  initControl: (): Record<string, never> => ({}),
  checkControl: (): void => {},
  advance: (c: Record<string, never>): Record<string, never> => c,
};

/**
 * The `advance` of a definition whose control is `{count}`: the count incremented (int32,
 * saturating), in place, so that a fused step allocates nothing.
 */
export function advanceCount<C extends CountState>(control: C): C {
  control.count = safeIncrement(control.count);
  return control;
}

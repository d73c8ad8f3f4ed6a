import { OptaxError } from '../core/errors.js';
import { isStepCount } from '../core/numerics.js';
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

/**
 * The boundary dict of the one-cycle schedules.
 *
 * @internal
 */

/**
 * Builds optax's `{int(pct * transition_steps): scale, ...}` dict. In Python a later entry with the same
 * key silently replaces an earlier one (e.g. `pct_start = 1` merges the warmup boundary into the end and
 * loses the warmup); that is rejected here, naming the colliding options.
 */
export function onecycleBoundaries(fn: string, entries: readonly [name: string, step: number, scale: number][]): Map<number, number> {
  const map = new Map<number, number>();
  const owner = new Map<number, string>();
  for (const [name, step, scale] of entries) {
    const other = owner.get(step);
    if (other !== undefined) {
      throw new RangeError(`${fn}: ${other} and ${name} both fall on step ${step}; optax would silently drop a phase (spread them apart or use more transitionSteps)`);
    }
    owner.set(step, name);
    map.set(step, scale);
  }
  return map;
}

import { type TreePath, checkPathArgument } from '../tree/path.js';

/**
 * The tensor name of a tree path: its entries joined with `.` (`state.0.mu.w`), each entry escaped as
 * in JSON Pointer (`~` as `~0`, `.` as `~1`), so that distinct paths always get distinct names and a
 * name reads as the path it comes from.
 *
 * @example
 * ```ts
 * import { tensorName } from 'optax-ts';
 * console.log(tensorName(['state', 0, 'mu', 'w']), tensorName(['params', 'a.b', '~x'])); // state.0.mu.w params.a~1b.~0x
 * ```
 */
export function tensorName(path: TreePath): string {
  return checkPathArgument(path, 'tensorName').map((p) => {
    const s = String(p);
    return s.includes('~') || s.includes('.') ? s.replace(/~/g, '~0').replace(/\./g, '~1') : s;
  }).join('.');
}

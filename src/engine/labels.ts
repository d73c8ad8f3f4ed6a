import type { MaskTree } from '../transforms/masked.js';

/**
 * The mask of one partition label: `true` where the label tree says `label` (a prefix label covers
 * its whole subtree), the mask `partition` gives to that label's `masked` transformation.
 */
export function labelMask(labels: unknown, label: string): MaskTree {
  if (typeof labels === 'string') return labels === label;
  if (labels === null || labels === undefined) return null;
  if (Array.isArray(labels)) return labels.map((l) => labelMask(l, label));
  const dict = labels as Record<string, unknown>;
  return Object.fromEntries(Object.keys(dict).map((k) => [k, labelMask(dict[k], label)]));
}

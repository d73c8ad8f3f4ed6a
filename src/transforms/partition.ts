import { OptaxError } from '../core/errors.js';
import type { ExtraArgs, GradientTransformation } from '../core/transformation.js';
import { formatPath } from '../tree/path.js';
import { describe, isDictNode } from '../tree/structure.js';
import type { Params, Tree, Updates } from '../tree/tree.js';
import { type MaskTree, type MaskedState, masked } from './masked.js';
import { isLabelLeaf, mapPrefix } from './tree-prefix.js';
import { recordCall } from '../spec/record.js';
import { hasExactKeys } from '../tree/validate.js';
import { setOwn } from '../tree/node.js';

/** The state of {@link partition} (optax's `PartitionState`). */
export interface PartitionState {
  /** One `MaskedState` per label, in the order of the `transforms` record. */
  inner_states: Record<string, MaskedState>;
}

/** A tree of labels (strings) shaped like the params, or like a prefix of them. */
export type LabelTree = string | null | readonly LabelTree[] | { readonly [key: string]: LabelTree };

/** Labels, or a function computing them from a tree (the params at `init`, the updates at `update`). */
export type ParamLabels = LabelTree | ((tree: any) => LabelTree);

/** Checks every label against the known ones; returns the tree of labels. */
function checkLabels(labels: LabelTree, tree: Tree, treeName: string, known: readonly string[], isLeaf?: (x: unknown) => boolean): LabelTree {
  // Walk the labels against the tree (structure check, named paths), then check each label.
  mapPrefix(labels, [tree], isLabelLeaf, (label, _sub, path) => {
    if (!known.includes(label)) {
      throw new OptaxError(`partition: unknown label '${label}' at ${formatPath(path, 'param_labels')}; the transforms have labels ${known.map((k) => `'${k}'`).join(', ')}`);
    }
    return label;
  }, { prefix: 'param_labels', trees: [treeName], leaf: 'a string label' }, isLeaf);
  return labels;
}

/** The mask of one label: true where the label is `group`. */
/**
 * The labels of `tree` (`paramLabels` itself, or its result for `tree`), checked against the tree and
 * the known labels. `isLeaf`: the tree's leaves are another library's arrays (the jax-js adapter's).
 * @internal
 */
export function resolveLabels(paramLabels: ParamLabels, tree: unknown, treeName: string, known: readonly string[], isLeaf?: (x: unknown) => boolean): LabelTree {
  const labels = typeof paramLabels === 'function' ? paramLabels(tree) : paramLabels;
  return checkLabels(labels, tree as Tree, treeName, known, isLeaf);
}

/** The mask of the leaves labelled `group`. @internal */
export function maskOf(labels: LabelTree, group: string): MaskTree {
  if (isLabelLeaf(labels)) return labels === group;
  if (labels === null) return null;
  if (Array.isArray(labels)) return labels.map((l) => maskOf(l, group));
  const dict = labels as { readonly [key: string]: LabelTree };
  return Object.fromEntries(Object.keys(dict).map((k) => [k, maskOf(dict[k], group)]));
}

/**
 * Applies a different transformation to each group of parameters (optax's `partition`, formerly
 * `multi_transform`): each leaf's update goes through the transformation of its label, as
 * `masked(transforms[label], labels == label)`, the groups one after the other in the order of
 * `transforms`.
 *
 * @param transforms - the transformation of each label, e.g. `{ fast: adamax(0.05), frozen: setToZero() }`.
 * @param paramLabels - a tree of labels with the structure of the params (or a prefix of it), or a
 *   function returning one; as in optax, a function receives the params at `init` and the updates at
 *   `update`. Every label must be a key of `transforms` (an unknown one throws an OptaxError naming
 *   its path and the known labels); a transformation with no leaves keeps an empty state.
 *
 * @example
 * ```ts
 * import { partition, scale, setToZero } from 'optax-ts';
 * const tx = partition({ train: scale(-1), frozen: setToZero() }, { w: 'train', b: 'frozen' });
 * const params = { w: new Float32Array([1]), b: new Float32Array([1]) };
 * const [u] = tx.update({ w: new Float32Array([2]), b: new Float32Array([2]) }, tx.init(params), params);
 * console.log(u); // { w: Float32Array(1) [ -2 ], b: Float32Array(1) [ 0 ] }
 * ```
 */
export function partition(transforms: Readonly<Record<string, GradientTransformation<any>>>, paramLabels: ParamLabels): GradientTransformation<PartitionState> {
  if (!isDictNode(transforms)) throw new OptaxError(`partition: transforms must be a record {label: transformation}, got ${describe(transforms)}`);
  const known = Object.keys(transforms);
  for (const k of known) {
    const t = transforms[k];
    if (!t || typeof t.init !== 'function' || typeof t.update !== 'function') {
      throw new OptaxError(`partition: transforms['${k}'] is not a gradient transformation (got ${describe(t)})`);
    }
  }
  if (paramLabels === undefined) throw new OptaxError('partition: param_labels is required (a tree of labels or a function of the params)');
  const labelsFor = (tree: Tree, treeName: string): LabelTree => resolveLabels(paramLabels, tree, treeName, known);
  return recordCall({
    name: 'partition',
    combinator: { kind: 'partition', transforms, labels: paramLabels },
    init(params: Params): PartitionState {
      const labels = labelsFor(params, 'params');
      const inner_states: Record<string, MaskedState> = {};
      for (const group of known) setOwn(inner_states, group, masked(transforms[group], maskOf(labels, group)).init(params));
      return { inner_states };
    },
    update<U extends Updates>(updates: U, state: PartitionState, params?: Params | null, extraArgs?: ExtraArgs): [U, PartitionState] {
      if (!isDictNode(state) || !hasExactKeys(state, ['inner_states']) || !isDictNode(state.inner_states) || !hasExactKeys(state.inner_states, known)) {
        throw new OptaxError(`partition: this state does not belong to this partition: expected {inner_states: {${known.join(', ')}}}, got ${describe(isDictNode(state) ? state.inner_states : state)}`);
      }
      const labels = labelsFor(updates, 'updates');
      const inner_states: Record<string, MaskedState> = {};
      let u: Updates = updates;
      for (const group of known) {
        const [nu, ns] = masked(transforms[group], maskOf(labels, group)).update(u, state.inner_states[group], params, extraArgs);
        u = nu;
        setOwn(inner_states, group, ns);
      }
      return [u as U, { inner_states }];
    },
  }, 'partition', [transforms, paramLabels]);
}

/**
 * optax's former name for {@link partition} (`multi_transform`), the same function.
 *
 * @example
 * ```ts
 * import { multiTransform, partition } from 'optax-ts';
 * console.log(multiTransform === partition); // true
 * ```
 */
export const multiTransform = partition;

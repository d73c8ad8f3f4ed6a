import { isDictNode } from '../tree/node.js';
import type { Tree } from '../tree/tree.js';
import type { MaskTree } from '../transforms/masked.js';
import type { LeafTable } from './leaves.js';

/**
 * The leaves a mask selects, checked at every step (optax calls a mask function at every update):
 * the engine's per-step check that a mask function still selects the compiled leaves. The general
 * path (`maskTree`, then listing the leaves) validates whole trees and costs milliseconds on a tree
 * of thousands of leaves; this one walks the mask beside the compiled index tree, allocating only the
 * answer, and gives up (returns undefined, the caller then takes the general path, which reports any
 * error exactly) on anything but the plain case: booleans, and dicts and lists of the index tree's
 * own shape, with plain data properties.
 */
export class SelectionWalker {
  /** The leaves under each node of the index tree, in flattening order (the tree is fixed). */
  private readonly under = new Map<unknown, readonly number[]>();
  /** The sorted keys of each dict node of the index tree. */
  private readonly keys = new Map<unknown, readonly string[]>();

  constructor(private readonly table: LeafTable) {}

  /** The leaves of `tree` (a node of the index tree) where `mask` is true, or undefined to take the general path. */
  select(mask: MaskTree, tree: Tree): number[] | undefined {
    const out: number[] = [];
    return this.walk(mask, tree, out) ? out : undefined;
  }

  private walk(mask: unknown, tree: unknown, out: number[]): boolean {
    if (typeof mask === 'boolean') {
      if (mask) for (const i of this.leavesUnder(tree)) out.push(i);
      return true;
    }
    if (tree === null || this.table.indexOf.has(tree as never)) return false;
    if (Array.isArray(tree)) {
      if (!Array.isArray(mask) || mask.length !== tree.length) return false;
      for (let i = 0; i < tree.length; i++) {
        if (!Object.prototype.hasOwnProperty.call(mask, i) || !this.walk(plainValue(mask, i), tree[i], out)) return false;
      }
      return true;
    }
    if (!isDictNode(mask) || !isDictNode(tree)) return false;
    const keys = this.sortedKeys(tree);
    if (ownKeyCount(mask) !== keys.length) return false;
    for (const k of keys) {
      if (!Object.prototype.hasOwnProperty.call(mask, k)) return false;
      const v = plainValue(mask, k);
      if (v === GETTER || !this.walk(v, tree[k], out)) return false;
    }
    return true;
  }

  /**
   * Whether `mask` selects, among the leaves of `tree` (a node of the index tree), exactly those
   * flagged 1 in `expected` (one flag per leaf of the table): {@link MATCH}, {@link DIFFERS}, or
   * {@link UNDECIDED} (anything but the plain case: the caller takes the general path). The
   * per-step check of a mask function: it allocates nothing.
   */
  matches(mask: unknown, tree: unknown, expected: Uint8Array): Verdict {
    if (typeof mask === 'boolean') return this.allAre(tree, expected, mask ? 1 : 0);
    return this.matchChildren(mask, tree, expected, undefined);
  }

  /**
   * Whether the label tree `labels` gives each leaf of `tree` the label of index `expected[leaf]` in
   * `known` (a label covers the subtree it stands at, as a prefix): {@link MATCH}, {@link DIFFERS} or
   * {@link UNDECIDED}, as {@link SelectionWalker.matches}. The per-step check of a labels function.
   */
  matchesLabels(labels: unknown, tree: unknown, known: readonly string[], expected: Int32Array): Verdict {
    if (typeof labels === 'string') {
      const label = known.indexOf(labels);
      return label < 0 ? UNDECIDED : this.allAre(tree, expected, label); // an unknown label: the general path reports it
    }
    return this.matchChildren(labels, tree, expected, known);
  }

  /** Whether `expected` is `value` at every leaf of `tree`. */
  private allAre(tree: unknown, expected: Uint8Array | Int32Array, value: number): Verdict {
    // A leaf itself first (measured: the cached leaf lists' Map allocates on lookups, this one not).
    const leaf = this.table.indexOf.get(tree as never);
    if (leaf !== undefined) return expected[leaf] === value ? MATCH : DIFFERS;
    const leaves = this.leavesUnder(tree);
    for (let i = 0; i < leaves.length; i++) if (expected[leaves[i]] !== value) return DIFFERS;
    return MATCH;
  }

  /** The children of a mask (`known` undefined) or label tree beside those of the index tree. */
  private matchChildren(node: unknown, tree: unknown, expected: Uint8Array | Int32Array, known: readonly string[] | undefined): Verdict {
    if (tree === null || this.table.indexOf.has(tree as never)) return UNDECIDED;
    const list = Array.isArray(tree);
    if (list ? !Array.isArray(node) || node.length !== tree.length : !isDictNode(node) || !isDictNode(tree)) return UNDECIDED;
    // A list's children by index, a dict's by its sorted keys (the mask must have no other key).
    const keys = list ? undefined : this.sortedKeys(tree as Record<string, unknown>);
    if (keys && ownKeyCount(node as object) !== keys.length) return UNDECIDED;
    const n = keys ? keys.length : (tree as unknown[]).length;
    let verdict: Verdict = MATCH;
    for (let j = 0; j < n; j++) {
      const k = keys ? keys[j] : j;
      if (!Object.prototype.hasOwnProperty.call(node, k)) return UNDECIDED;
      const v = plainValue(node as object, k);
      if (v === GETTER) return UNDECIDED;
      const child = (tree as Record<string | number, unknown>)[k];
      const verdictOf = known ? this.matchesLabels(v, child, known, expected as Int32Array) : this.matches(v, child, expected as Uint8Array);
      // A difference is kept while the rest is walked: a later part may still need the general path.
      if (verdictOf === UNDECIDED) return UNDECIDED;
      if (verdictOf === DIFFERS) verdict = DIFFERS;
    }
    return verdict;
  }

  private leavesUnder(tree: unknown): readonly number[] {
    let leaves = this.under.get(tree);
    if (leaves) return leaves;
    const out: number[] = [];
    const visit = (t: unknown): void => {
      if (t === null) return;
      const i = this.table.indexOf.get(t as never);
      if (i !== undefined) out.push(i);
      else if (Array.isArray(t)) t.forEach(visit);
      else for (const k of this.sortedKeys(t as Record<string, unknown>)) visit((t as Record<string, unknown>)[k]);
    };
    visit(tree);
    this.under.set(tree, (leaves = out));
    return leaves;
  }

  private sortedKeys(tree: Record<string, unknown>): readonly string[] {
    let keys = this.keys.get(tree);
    if (!keys) this.keys.set(tree, (keys = Object.keys(tree).sort()));
    return keys;
  }
}

const GETTER = Symbol('getter');

/** A verdict of {@link SelectionWalker.matches}: the selection is the expected one, another one, or the general path must decide. */
export type Verdict = 0 | 1 | 2;
export const MATCH: Verdict = 0, DIFFERS: Verdict = 1, UNDECIDED: Verdict = 2;

/** The own enumerable string keys of an object, counted without listing them (Object.keys allocates). */
function ownKeyCount(obj: object): number {
  let n = 0;
  for (const key in obj) if (Object.prototype.hasOwnProperty.call(obj, key)) n++;
  return n;
}

/**
 * Annex B's `__lookupGetter__`: an own property's getter, or undefined for a data property, without
 * the descriptor object `Object.getOwnPropertyDescriptor` allocates (called at every step).
 */
const lookupGetter = (Object.prototype as unknown as { __lookupGetter__(key: PropertyKey): unknown }).__lookupGetter__;
const lookupSetter = (Object.prototype as unknown as { __lookupSetter__(key: PropertyKey): unknown }).__lookupSetter__;

/** An own property's value, or GETTER for an accessor (which the general path reports). */
function plainValue(obj: object, key: string | number): unknown {
  // The property is own (the callers checked): the lookups stop at it.
  if (typeof lookupGetter === 'function' && typeof lookupSetter === 'function') {
    return lookupGetter.call(obj, key) === undefined && lookupSetter.call(obj, key) === undefined ? (obj as Record<string | number, unknown>)[key] : GETTER;
  }
  const d = Object.getOwnPropertyDescriptor(obj, key);
  return d && Object.hasOwn(d, 'value') ? d.value : GETTER;
}

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
    if (Object.keys(mask).length !== keys.length) return false;
    for (const k of keys) {
      if (!Object.prototype.hasOwnProperty.call(mask, k)) return false;
      const v = plainValue(mask, k);
      if (v === GETTER || !this.walk(v, tree[k], out)) return false;
    }
    return true;
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

/** A property's value, or GETTER for an accessor (which the general path reports). */
function plainValue(obj: object, key: string | number): unknown {
  const d = Object.getOwnPropertyDescriptor(obj, key);
  return d && Object.hasOwn(d, 'value') ? d.value : GETTER;
}

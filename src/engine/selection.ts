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
  /** The compiled shape of each tree a check was asked about (the index tree, or masked copies of it). */
  private readonly shapes = new Map<unknown, Shape>();

  constructor(private readonly table: LeafTable) {}

  /** The leaves of `tree` (a node of the index tree) where `mask` is true, or undefined to take the general path. */
  select(mask: MaskTree, tree: Tree): number[] | undefined {
    const out: number[] = [];
    return this.walk(mask, this.shapeOf(tree), out) ? out : undefined;
  }

  private walk(mask: unknown, shape: Shape, out: number[]): boolean {
    if (typeof mask === 'boolean') {
      if (mask) for (const i of shape.leaves) out.push(i);
      return true;
    }
    const children = shape.children;
    if (children === undefined) return false;
    const keys = shape.keys;
    if (keys === undefined) {
      if (!Array.isArray(mask) || mask.length !== children.length) return false;
      for (let i = 0; i < children.length; i++) {
        if (!hasOwnProperty.call(mask, i) || !this.walk(plainValue(mask, i), children[i], out)) return false;
      }
      return true;
    }
    if (!isDictNode(mask) || ownKeyCount(mask) !== keys.length) return false;
    for (let j = 0; j < keys.length; j++) {
      if (!hasOwnProperty.call(mask, keys[j])) return false;
      const v = plainValue(mask, keys[j]);
      if (v === GETTER || !this.walk(v, children[j], out)) return false;
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
    return this.check(mask, this.shapeOf(tree), expected, undefined);
  }

  /**
   * Whether the label tree `labels` gives each leaf of `tree` the label of index `expected[leaf]` in
   * `known` (a label covers the subtree it stands at, as a prefix): {@link MATCH}, {@link DIFFERS} or
   * {@link UNDECIDED}, as {@link SelectionWalker.matches}. The per-step check of a labels function.
   */
  matchesLabels(labels: unknown, tree: unknown, known: readonly string[], expected: Int32Array): Verdict {
    return this.check(labels, this.shapeOf(tree), expected, known);
  }

  /**
   * The value a mask (`known` undefined: booleans) or label tree gives a subtree of the compiled
   * shape, checked against `expected`. At every step, over trees of thousands of leaves: no path
   * strings, no allocation, one lookup of the mask per key (measured: the key walk and the
   * accessor test, not the comparisons, are what this costs).
   */
  private check(node: unknown, shape: Shape, expected: Uint8Array | Int32Array, known: readonly string[] | undefined): Verdict {
    const value = known ? (typeof node === 'string' ? known.indexOf(node) : -2) : typeof node === 'boolean' ? (node ? 1 : 0) : -2;
    if (value === -1) return UNDECIDED; // an unknown label: the general path reports it
    if (value >= 0) {
      if (shape.leaf >= 0) return expected[shape.leaf] === value ? MATCH : DIFFERS;
      const leaves = shape.leaves;
      for (let i = 0; i < leaves.length; i++) if (expected[leaves[i]] !== value) return DIFFERS;
      return MATCH;
    }
    const children = shape.children;
    if (children === undefined) return UNDECIDED;
    // The very node judged last time, deeply frozen then: it cannot have changed (see remember).
    if (node === shape.frozen && expected === shape.frozenExpected && known === shape.frozenKnown) return shape.frozenVerdict;
    let verdict: Verdict = MATCH;
    // Whether every object under this node is remembered as deeply frozen (primitives cannot change).
    let childrenFrozen = true;
    const keys = shape.keys;
    if (keys === undefined) {
      if (!Array.isArray(node) || node.length !== children.length) return UNDECIDED;
      for (let i = 0; i < children.length; i++) {
        if (!hasOwnProperty.call(node, i)) return UNDECIDED;
        const v = plainValue(node, i);
        if (v === GETTER) return UNDECIDED;
        const child = this.check(v, children[i], expected, known);
        // A difference is kept while the rest is walked: a later part may still need the general path.
        if (child === UNDECIDED) return UNDECIDED;
        if (child === DIFFERS) verdict = DIFFERS;
        if (v !== null && typeof v === 'object' && children[i].frozen !== v) childrenFrozen = false;
      }
      return remember(node, shape, expected, known, verdict, childrenFrozen);
    }
    if (!isDictNode(node)) return UNDECIDED;
    // One walk over the mask's own keys (in its order, usually the tree's): each must be a key of the
    // tree, and as many as the tree has (an object's keys are distinct), so the key sets are equal.
    // A dict of more keys than V8 keeps in an object's fast (shape-described) properties is a hash
    // table: for-in then lists its keys at every loop and looks each one up again (to skip those
    // deleted meanwhile), and hasOwnProperty once more; Object.keys lists them once (measured on 2000
    // keys: 210 -> 130 us a walk). A smaller dict is walked by for-in, which then allocates nothing.
    const list = keys.length > FAST_PROPERTIES_MAX ? Object.keys(node) : undefined;
    let seen = 0, next = 0, flags = 0;
    if (list && list.length !== keys.length) return UNDECIDED;
    // Both loops share their body (entry): a closure would be allocated at every call.
    for (const key in list ? EMPTY : node) {
      if (!hasOwnProperty.call(node, key)) continue;
      const r = this.entry(node, key, next, shape, expected, known);
      if (r === UNDECIDED) return UNDECIDED;
      flags |= r; next = r >>> 3; seen++;
    }
    for (let j = 0; list && j < list.length; j++) {
      const r = this.entry(node, list[j], next, shape, expected, known);
      if (r === UNDECIDED) return UNDECIDED;
      flags |= r; next = r >>> 3; seen++;
    }
    if (flags & DIFFERS) verdict = DIFFERS;
    if (flags & UNFROZEN) childrenFrozen = false;
    return seen === keys.length ? remember(node, shape, expected, known, verdict, childrenFrozen) : UNDECIDED;
  }

  /**
   * A dict's entry `key`, expected at or after the `next`-th of the shape's sorted keys (a mask's keys
   * usually come in the tree's order): {@link UNDECIDED}, or its verdict ({@link MATCH} or
   * {@link DIFFERS}), plus {@link UNFROZEN} when its value is an object not remembered as deeply
   * frozen, plus its key's position + 1 times 8.
   */
  private entry(node: object, key: string, next: number, shape: Shape, expected: Uint8Array | Int32Array, known: readonly string[] | undefined): number {
    const keys = shape.keys!;
    const at = next < keys.length && keys[next] === key ? next : shape.position!.get(key);
    if (at === undefined) return UNDECIDED;
    // A getter is never called (the general path reports it); a setter alone reads as undefined,
    // which no check accepts.
    if (hasGetter(node, key)) return UNDECIDED;
    const v = (node as Record<string, unknown>)[key];
    const leaf = shape.childLeaves![at];
    let verdict: number;
    if (leaf >= 0 && typeof v === (known ? 'string' : 'boolean')) {
      // A leaf under a boolean or a label: the common case, inline (no node read).
      const value = known ? known.indexOf(v as string) : v ? 1 : 0;
      verdict = value < 0 ? UNDECIDED : expected[leaf] === value ? MATCH : DIFFERS;
    } else {
      const child = shape.children![at];
      verdict = this.check(v, child, expected, known);
      if (verdict !== UNDECIDED && v !== null && typeof v === 'object' && child.frozen !== v) verdict |= UNFROZEN;
    }
    return verdict === UNDECIDED ? UNDECIDED : verdict | ((at + 1) << 3);
  }

  /** The compiled shape of `tree` (made once per tree: the trees a stepper checks against are fixed). */
  private shapeOf(tree: unknown): Shape {
    let shape = this.shapes.get(tree);
    if (shape === undefined) this.shapes.set(tree, (shape = this.compile(tree)));
    return shape;
  }

  private compile(tree: unknown): Shape {
    const leaf = tree === null ? undefined : this.table.indexOf.get(tree as never);
    if (leaf !== undefined) return { leaf, leaves: [leaf], frozenVerdict: MATCH };
    if (tree === null) return { leaf: -1, leaves: [], frozenVerdict: MATCH };
    const list = Array.isArray(tree);
    const keys = list ? undefined : Object.keys(tree as object).sort();
    const children = list ? (tree as unknown[]).map((t) => this.compile(t)) : keys!.map((k) => this.compile((tree as Record<string, unknown>)[k]));
    return { leaf: -1, leaves: children.flatMap((c) => c.leaves), children, keys, position: keys && new Map(keys.map((k, i) => [k, i])), childLeaves: Int32Array.from(children, (c) => c.leaf), frozenVerdict: MATCH };
  }
}

/**
 * A node of the index tree (or of a masked copy) as the checks walk it: a leaf (`leaf` its index),
 * `null` (no children, no leaves), or a list (`children`) or dict (`children` in sorted `keys` order).
 */
interface Shape {
  /** The leaf's index, or -1 for a container or null. */
  readonly leaf: number;
  /** Every leaf under it, in flattening order. */
  readonly leaves: readonly number[];
  readonly children?: readonly Shape[];
  /** A dict's sorted keys (undefined for a list). */
  readonly keys?: readonly string[];
  /** A dict's key positions in `keys`. */
  readonly position?: ReadonlyMap<string, number>;
  /** Each child's `leaf`, flat (a dict of leaves is checked without reading its children's nodes). */
  readonly childLeaves?: Int32Array;
  /**
   * The last node (mask or label dict or list) judged here that was deeply frozen, and the check
   * that judged it (`expected`, `known`) and its verdict: see {@link remember}.
   */
  frozen?: object;
  frozenExpected?: Uint8Array | Int32Array;
  frozenKnown?: readonly string[];
  frozenVerdict: Verdict;
}

/**
 * V8 keeps at most 1020 properties in an object's shape (its descriptor array); an object of more is
 * always a hash table ("dictionary mode"). (Objects parsed by JSON.parse switch already past 127.)
 */
const FAST_PROPERTIES_MAX = 1020;

/** Flag of {@link SelectionWalker.entry}'s answer: the entry is an object not remembered as deeply frozen. */
const UNFROZEN = 4;

/** No keys (the for-in loop of a dict walked by its Object.keys list). */
const EMPTY = Object.freeze({});

/**
 * A verdict, remembered for the node when the node is frozen and every object under it was
 * remembered as deeply frozen: such a tree cannot change at all (a frozen object's properties can
 * neither be added, removed, redefined nor written, nor its prototype replaced), so the same object
 * judged again by the same check gets the same verdict, without a walk: a mask function that returns
 * one frozen tree costs one comparison per step, and allocates nothing whatever the tree's size
 * (a dict of thousands of keys is a hash table, whose walk lists its keys). Only decided verdicts
 * are remembered: an undecided one sends the step to the general path, which reports the error.
 */
function remember(node: object, shape: Shape, expected: Uint8Array | Int32Array, known: readonly string[] | undefined, verdict: Verdict, childrenFrozen: boolean): Verdict {
  // Object.isFrozen answers at once for an extensible object (the usual one), so this costs the
  // walk of a tree that is not frozen nothing.
  if (childrenFrozen && Object.isFrozen(node)) {
    shape.frozen = node;
    shape.frozenExpected = expected;
    shape.frozenKnown = known;
    shape.frozenVerdict = verdict;
  }
  return verdict;
}

const hasOwnProperty = Object.prototype.hasOwnProperty;

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

/** Whether an own property is an accessor with a getter (never called). */
function hasGetter(obj: object, key: string): boolean {
  if (typeof lookupGetter === 'function') return lookupGetter.call(obj, key) !== undefined;
  const d = Object.getOwnPropertyDescriptor(obj, key);
  return d !== undefined && !Object.hasOwn(d, 'value');
}

/** An own property's value, or GETTER for an accessor (which the general path reports). */
function plainValue(obj: object, key: string | number): unknown {
  // The property is own (the callers checked): the lookups stop at it.
  if (typeof lookupGetter === 'function' && typeof lookupSetter === 'function') {
    return lookupGetter.call(obj, key) === undefined && lookupSetter.call(obj, key) === undefined ? (obj as Record<string | number, unknown>)[key] : GETTER;
  }
  const d = Object.getOwnPropertyDescriptor(obj, key);
  return d && Object.hasOwn(d, 'value') ? d.value : GETTER;
}

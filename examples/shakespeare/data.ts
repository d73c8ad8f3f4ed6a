import { readFileSync } from 'node:fs';

/** The text as character ids, split into a training part and a held-out part (its last tenth). */
export interface CharData {
  /** The characters, by id. */
  readonly vocab: readonly string[];
  readonly train: Int32Array;
  readonly heldOut: Int32Array;
}

/** Reads a text file and encodes it by character (ids in order of first appearance, sorted). */
export function loadText(path: string, heldOutFraction = 0.1): CharData {
  const text = readFileSync(path, 'utf8');
  const vocab = [...new Set(text)].sort();
  const id = new Map(vocab.map((c, i) => [c, i]));
  const ids = Int32Array.from(text, (c) => id.get(c)!);
  // Split at a line break so that no line is in both parts.
  const cut = text.lastIndexOf('\n', Math.floor(text.length * (1 - heldOutFraction))) + 1;
  return { vocab, train: ids.subarray(0, cut), heldOut: ids.subarray(cut) };
}

/** A small seeded generator (mulberry32), so that batches are the same on every run. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` windows of `context` characters from `ids` and the character after each. */
export function windows(ids: Int32Array, context: number, starts: readonly number[]): { x: Int32Array; y: Int32Array } {
  const x = new Int32Array(starts.length * context);
  const y = new Int32Array(starts.length);
  starts.forEach((s, i) => {
    x.set(ids.subarray(s, s + context), i * context);
    y[i] = ids[s + context];
  });
  return { x, y };
}

/** The start of each window of a batch: drawn at random from the whole text, seeded. */
export function batchStarts(ids: Int32Array, context: number, batchSize: number, next: () => number): number[] {
  return Array.from({ length: batchSize }, () => Math.floor(next() * (ids.length - context)));
}

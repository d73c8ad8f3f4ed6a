// The hostile-input suite's framework: what every hostile case asserts, and the generators of hostile
// values. Each part of the suite (trees, states and options here; checkpoints beside it) draws inputs,
// runs a public entry point, and holds it to three rules:
//   1. it either succeeds or throws an OptaxError with a one-line message (never a raw TypeError,
//      RangeError or stack overflow);
//   2. nothing passed in changes (a deep snapshot before and after);
//   3. its work stays within a small multiple of the input's size (counted reads, not timings).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OptaxError, ShapedArray } from '../../src/index.js';

/** fast-check's run parameters for the suite: deterministic unless FC_SEED is set, bounded runs. */
export const runs = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns,
  seed: process.env.FC_SEED === undefined ? 0x0ba5e : Number(process.env.FC_SEED),
});

/**
 * A deep snapshot of any value, as a flat list of tokens (iterative: a 3,000-deep input cannot overflow
 * it): typed arrays by their bytes, objects by their own property descriptors (a getter is recorded,
 * never called), prototypes by identity, shared nodes and cycles by first-visit number.
 */
export function snapshot(x: unknown): unknown[] {
  const out: unknown[] = [];
  const seen = new Map<object, number>();
  const stack: unknown[] = [x];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) {
      out.push(typeof v === 'bigint' ? `${v}n` : typeof v === 'symbol' ? String(v) : v);
      continue;
    }
    const o = v as object;
    if (seen.has(o)) { out.push({ ref: seen.get(o) }); continue; }
    seen.set(o, seen.size);
    const view = ArrayBuffer.isView(o);
    if (view) out.push(Object.prototype.toString.call(o), Array.from(new Uint8Array(o.buffer, o.byteOffset, o.byteLength)).join());
    out.push({ proto: Object.getPrototypeOf(o), frozen: Object.isFrozen(o) });
    for (const k of Reflect.ownKeys(o)) {
      if (view && typeof k === 'string' && /^\d+$/.test(k)) continue;
      const d = Object.getOwnPropertyDescriptor(o, k)!;
      out.push(String(k), d.enumerable, d.writable, d.get, d.set);
      if ('value' in d) stack.push(d.value);
    }
  }
  return out;
}

/**
 * Runs `fn` on `inputs` and asserts the suite's rules: success or an OptaxError (one line, no control
 * characters, at most 2,000 characters whatever the input), and every input unchanged. Returns
 * the error, or undefined on success.
 */
export function holds(inputs: readonly unknown[], fn: () => unknown): OptaxError | undefined {
  const before = inputs.map(snapshot);
  let error: OptaxError | undefined;
  try {
    fn();
  } catch (e) {
    if (!(e instanceof OptaxError)) {
      assert.fail(`expected success or an OptaxError, got ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
    }
    assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(e.message), `message has control characters: ${JSON.stringify(e.message)}`);
    assert.ok(e.message.length <= 2000, `message of ${e.message.length} characters`);
    error = e;
  }
  inputs.forEach((x, i) => assert.deepEqual(snapshot(x), before[i], `input ${i} was changed`));
  return error;
}

/** Asserts that `fn` throws an OptaxError (and changes none of `inputs`). */
export function rejects(inputs: readonly unknown[], fn: () => unknown, why = ''): OptaxError {
  const e = holds(inputs, fn);
  assert.ok(e, `expected an OptaxError${why ? ` (${why})` : ''}, but it succeeded`);
  return e!;
}

// ---- Generators -------------------------------------------------------------------------------

/** Keys that have tripped tree code elsewhere: prototype names, JSON.parse's __proto__, odd strings. */
export const hostileKey = fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'length', '0', '', ' ', '\u001b[2J', 'a.b', 'w');

/** A float leaf: plain or shaped, float32 or float64, values including NaN, infinities and -0. */
export const leaf = fc.tuple(fc.constantFrom('float32', 'float64'), fc.array(fc.double(), { maxLength: 6 }), fc.boolean()).map(([dtype, values, shaped]) => {
  const data = dtype === 'float32' ? new Float32Array(values) : new Float64Array(values);
  return shaped ? new ShapedArray(data, [1, data.length]) : data;
});

/** A valid tree of leaves (dicts with hostile keys, lists, nulls), at most a few levels deep. */
export const tree: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.constant(null),
    fc.array(tie('node'), { maxLength: 3 }),
    fc.uniqueArray(fc.tuple(fc.oneof(hostileKey, fc.string({ maxLength: 4 })), tie('node')), { maxLength: 4, selector: ([k]) => k })
      .map((entries) => Object.fromEntries(entries)),
  ),
})).node;

/** Values that are not trees (or are trees only in appearance). */
export const notATree = fc.oneof(
  fc.constantFrom<unknown>(undefined, 0, NaN, -1, 2 ** 31, 'w', '0.1', true, 10n, Symbol('s'), () => 1, new Date(0), new Map(), new Set(), /x/),
  fc.constantFrom<unknown>(new Int32Array(2), new Uint8Array(3), new BigInt64Array(1), new Float64Array(new SharedArrayBuffer(16)).subarray(1)),
  fc.array(fc.integer(), { minLength: 1, maxLength: 3 }),
);

/** Ways to corrupt a valid tree; each yields a fresh hostile value built from it. */
export const corruption = fc.constantFrom(
  'cycle', 'sparse', 'getter', 'fakeLength', 'forgedShaped', 'deep', 'protoKey', 'inheritedKey', 'notATree', 'classInstance', 'dtype', 'length',
);

/** Applies a {@link corruption} to a copy of `t` (its dict/list structure copied, leaves shared). */
export function corrupt(t: unknown, how: string, junk: unknown): unknown {
  const c = (x: unknown): unknown => (Array.isArray(x) ? x.map(c) : x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype
    ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, c(v)])) : x);
  const copy = c(t);
  const wrap = (inner: unknown): Record<string, unknown> => Object.fromEntries([['w', inner]]);
  switch (how) {
    case 'cycle': { const o: Record<string, unknown> = { t: copy }; o.self = { back: o }; return o; }
    case 'sparse': { const l: unknown[] = [copy]; l.length = 3; return l; }
    case 'getter': return Object.defineProperty({}, 'w', { get: () => copy, enumerable: true });
    case 'fakeLength': { const a = new Float32Array(2); Object.defineProperty(a, 'length', { value: 5 }); return wrap(a); }
    case 'forgedShaped': return wrap(Object.assign(Object.create(ShapedArray.prototype), { data: new Float32Array(2), shape: [2] }));
    case 'deep': { let d: unknown = copy; for (let i = 0; i < 3000; i++) d = [d]; return d; }
    case 'protoKey': return JSON.parse('{"__proto__": null, "w": null}');
    case 'inheritedKey': return Object.create({ w: new Float32Array(1) });
    case 'notATree': return wrap(junk);
    case 'classInstance': return wrap(new (class Params { w = new Float32Array(1); })());
    case 'dtype': return wrap(new Float64Array(1));
    case 'length': return wrap(new Float32Array(7));
    default: throw new Error(how);
  }
}

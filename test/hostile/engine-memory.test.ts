/**
 * compile() when the runtime cannot give the engine its memory (a 32-bit browser tab, an address
 * space already full, a memory limit): WebAssembly.Memory and the ArrayBuffer behind it fail as they
 * do there (a RangeError naming no size). A WebAssembly memory alone failing leaves the JS kernels on
 * a plain buffer; both failing is an OptaxError that says how much was asked for, never the
 * runtime's bare RangeError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptaxError, adamax, applyUpdates, compile } from '../../src/index.js';

/** Runs `fn` with WebAssembly memories (and, with `buffers`, large array buffers) failing to allocate. */
function starved<T>(buffers: boolean, fn: () => T): T {
  const memory = WebAssembly.Memory, array = globalThis.ArrayBuffer, shared = globalThis.SharedArrayBuffer;
  const failing = (Real: ArrayBufferConstructor | SharedArrayBufferConstructor) => new Proxy(Real, {
    construct(target, args, newTarget) {
      if (buffers && typeof args[0] === 'number' && args[0] >= 65536) throw new RangeError('Array buffer allocation failed');
      return Reflect.construct(target, args, newTarget);
    },
  });
  WebAssembly.Memory = new Proxy(memory, { construct: () => { throw new RangeError('WebAssembly.Memory(): could not allocate memory'); } });
  globalThis.ArrayBuffer = failing(array) as ArrayBufferConstructor;
  globalThis.SharedArrayBuffer = failing(shared) as SharedArrayBufferConstructor;
  try {
    return fn();
  } finally {
    WebAssembly.Memory = memory;
    globalThis.ArrayBuffer = array;
    globalThis.SharedArrayBuffer = shared;
  }
}

test('compile: no WebAssembly memory to be had: the JS kernels run on a plain buffer, the same bits', () => {
  const params = { w: new Float32Array([1, -2, 3]) };
  const stepper = starved(false, () => compile(adamax(0.1), params, { threads: 1 }));
  try {
    assert.equal(stepper.backend, 'js');
    stepper.step({ w: new Float32Array([0.5, 1, -1]) });
    const tx = adamax(0.1);
    const [u] = tx.update({ w: new Float32Array([0.5, 1, -1]) }, tx.init(params), params);
    assert.deepEqual([...stepper.params.w], [...(applyUpdates(params, u) as typeof params).w]);
  } finally {
    stepper.dispose();
  }
});

test('compile: no memory at all is an OptaxError saying how much was asked for; the params are untouched', () => {
  const params = { w: new Float32Array([1, -2, 3]) };
  for (const threads of [1, 2]) {
    assert.throws(() => starved(true, () => compile(adamax(0.1), params, { threads, minElementsPerThread: 1 })), (e: unknown) => {
      assert.ok(e instanceof OptaxError, `expected an OptaxError, got ${String(e)}`);
      assert.match(e.message, /^compile: cannot allocate the engine's memory: the parameters, gradients and state need \d+ bytes \(Array buffer allocation failed\)$/);
      return true;
    });
  }
  assert.deepEqual([...params.w], [1, -2, 3]);
});

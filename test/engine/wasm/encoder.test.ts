import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteWriter } from '../../../src/engine/wasm/encoder.js';
import { FunctionBuilder } from '../../../src/engine/wasm/function-builder.js';
import { assembleModule } from '../../../src/engine/wasm/module.js';
import { ValType } from '../../../src/engine/wasm/opcodes.js';
import { sharedMemorySupported, wasmSimdSupported } from '../../../src/engine/wasm/support.js';

const bytes = (f: (w: ByteWriter) => void): number[] => {
  const w = new ByteWriter();
  f(w);
  return Array.from(w.toBytes());
};

function decodeLeb(b: readonly number[], signed: boolean): number {
  let result = 0n, shift = 0n, i = 0, byte: number;
  do {
    byte = b[i++];
    result |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
  } while (byte & 0x80);
  assert.equal(i, b.length, 'trailing bytes');
  if (signed && byte & 0x40) result -= 1n << shift;
  return Number(result);
}

test('unsigned LEB128: spec examples and round trip', () => {
  assert.deepEqual(bytes((w) => w.u32(0)), [0]);
  assert.deepEqual(bytes((w) => w.u32(127)), [0x7f]);
  assert.deepEqual(bytes((w) => w.u32(128)), [0x80, 0x01]);
  assert.deepEqual(bytes((w) => w.u32(624485)), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(bytes((w) => w.u32(0xffffffff)), [0xff, 0xff, 0xff, 0xff, 0x0f]);
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (x) => decodeLeb(bytes((w) => w.u32(x)), false) === x));
  assert.throws(() => new ByteWriter().u32(-1), RangeError);
  assert.throws(() => new ByteWriter().u32(2 ** 32), RangeError);
});

test('signed LEB128: spec examples and round trip', () => {
  assert.deepEqual(bytes((w) => w.s32(-1)), [0x7f]);
  assert.deepEqual(bytes((w) => w.s32(63)), [0x3f]);
  assert.deepEqual(bytes((w) => w.s32(64)), [0xc0, 0x00]);
  assert.deepEqual(bytes((w) => w.s32(-64)), [0x40]);
  assert.deepEqual(bytes((w) => w.s32(-65)), [0xbf, 0x7f]);
  assert.deepEqual(bytes((w) => w.s32(-128)), [0x80, 0x7f]);
  assert.deepEqual(bytes((w) => w.s32(2 ** 31 - 1)), [0xff, 0xff, 0xff, 0xff, 0x07]);
  assert.deepEqual(bytes((w) => w.s32(-(2 ** 31))), [0x80, 0x80, 0x80, 0x80, 0x78]);
  fc.assert(fc.property(fc.integer(), (x) => decodeLeb(bytes((w) => w.s32(x)), true) === x));
});

test('IEEE constants are little-endian; names are length-prefixed UTF-8', () => {
  assert.deepEqual(bytes((w) => w.f32(1.5)), [0x00, 0x00, 0xc0, 0x3f]);
  assert.deepEqual(bytes((w) => w.f64(-2)), [0, 0, 0, 0, 0, 0, 0x00, 0xc0]);
  assert.deepEqual(bytes((w) => w.name('env')), [3, 0x65, 0x6e, 0x76]);
  assert.deepEqual(bytes((w) => w.name('é')), [2, 0xc3, 0xa9]);
  // Growing past the initial capacity keeps every byte.
  const big = bytes((w) => { for (let i = 0; i < 1000; i++) w.byte(i & 0xff); });
  assert.deepEqual(big, Array.from({ length: 1000 }, (_, i) => i & 0xff));
});

test('an assembled module validates, links to a memory and runs', () => {
  const f = new FunctionBuilder('addOne', [ValType.i32], [ValType.i32]);
  const extra = f.local(ValType.i32);
  assert.equal(extra, 1);
  f.localGet(0).i32Const(1).op(0x6a).localTee(extra);
  const wasm = assembleModule({ shared: false, maximumPages: 2 }, [f]);
  assert.ok(WebAssembly.validate(wasm));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
  const { addOne } = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env: { memory } }).exports as { addOne: (x: number) => number };
  assert.equal(addOne(41), 42);
  assert.equal(addOne(-1), 0);
});

test('labels: a branch reaches its block from any depth inside it, and a misplaced one is refused when built', () => {
  // countDown(n): loop { if n == 0 break out of both blocks; n -= 1 } from inside an if: the sum of 1..n.
  const f = new FunctionBuilder('sumTo', [ValType.i32], [ValType.i32]);
  const total = f.local(ValType.i32);
  f.block();
  const done = f.label();
  f.loop();
  const again = f.label();
  f.localGet(0).op(0x45).if(); // i32.eqz
  f.brTo(done);
  f.end();
  f.localGet(total).localGet(0).op(0x6a).localSet(total); // total += n
  f.localGet(0).i32Const(1).op(0x6b).localTee(0); // n -= 1
  f.brIfTo(again);
  f.end();
  f.end();
  f.localGet(total);
  const { sumTo } = new WebAssembly.Instance(new WebAssembly.Module(assembleModule({ shared: false, maximumPages: 1 }, [f])), { env: { memory: new WebAssembly.Memory({ initial: 1, maximum: 1 }) } }).exports as { sumTo: (n: number) => number };
  assert.equal(sumTo(10), 55);
  assert.equal(sumTo(0), 0);
  const g = new FunctionBuilder('bad', [], []);
  g.block();
  const closed = g.label();
  g.end();
  assert.throws(() => g.brTo(closed), /not open/);
  assert.throws(() => g.end(), /no block is open/);
  g.block();
  assert.throws(() => g.encodeBody(), /left open/);
});

test('feature detection: this Node has WebAssembly SIMD and shared memory', () => {
  assert.equal(wasmSimdSupported(), true);
  assert.equal(sharedMemorySupported(), true);
  assert.equal(wasmSimdSupported(), true); // cached
});

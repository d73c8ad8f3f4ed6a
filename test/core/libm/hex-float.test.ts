import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hexFloat } from '../../../src/core/libm/hex-float.js';

test('hexFloat parses C99 hexadecimal literals exactly', () => {
  assert.equal(hexFloat('0x1.921fb54442d18p+0'), Math.PI / 2);
  assert.equal(hexFloat('0x1p-12'), 2 ** -12);
  assert.equal(hexFloat('-0x1.8p1'), -3);
  assert.equal(hexFloat('0x1.fffffffffffffp+1023'), Number.MAX_VALUE);
  assert.ok(Object.is(hexFloat('-0x0p+0'), -0));
});

test('hexFloat rejects malformed literals and ones that do not fit a double', () => {
  for (const bad of ['1.5', '0x1.5', '0x1.gp0', '0x1.00000000000001p0', '0x1p+2000']) assert.throws(() => hexFloat(bad), /hexFloat/);
});

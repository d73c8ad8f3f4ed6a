import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { escapeControl } from '../../src/cli/terminal-text.js';

test('control characters are written as escapes; plain text is unchanged', () => {
  assert.equal(escapeControl('adamax_defaults [b1=0.9] é ∞'), 'adamax_defaults [b1=0.9] é ∞');
  assert.equal(escapeControl('a\nPASS  x\r\x1b[2K\t\x00\x7f\x85'), 'a\\nPASS  x\\r\\x1b[2K\\t\\x00\\x7f\\x85');
  assert.equal(escapeControl('evil\u202egnp.exe\u2028\u2066'), 'evil\\u202egnp.exe\\u2028\\u2066');
  assert.equal(escapeControl('C:\\path\\n'), 'C:\\\\path\\\\n');
});

test('whatever the input, the output is one line without control characters', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => {
    const e = escapeControl(s);
    assert.doesNotMatch(e, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
  }), { numRuns: 2000 });
});

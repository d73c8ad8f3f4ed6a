/** The conformance runner's failure lines on values that print alike: each must show what differs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkVectorsFile, runVectorsFile } from '../../src/conformance/runner.js';

const f32 = (...v: number[]) => ({ $array: 'float32', shape: [v.length], b64: Buffer.from(Float32Array.from(v).buffer).toString('base64') });

test('a -0 against a +0 reads "got -0, expected 0", not "got 0, expected 0"', () => {
  // adamax on a zero gradient updates by -lr * 0 / v = -0; the file claims +0.
  const file = checkVectorsFile({
    format: 'adamax-goldens/1',
    cases: [{
      name: 'signed_zero', kind: 'trajectory', optimizer: { name: 'adamax', args: { learning_rate: 0.1 } }, params: { w: f32(1) },
      steps: [{ grads: { w: f32(0) }, updates: { w: f32(0) }, params: { w: f32(1) } }],
    }],
  }, 'hostile.json');
  const [r] = runVectorsFile(file);
  assert.equal(r.passed, false);
  assert.match(r.reason ?? '', /^step\[0\]\.updates\.w\[0\]: got -0, expected 0 \(0 ulp\)$/);
});

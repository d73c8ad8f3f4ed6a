/**
 * Hostile and careless input at public entry points that earlier hostile suites did not reach: each
 * case here was a raw error or a silently accepted value before it was fixed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OptaxError, adamax, compile, fromSpec, injectHyperparams, toSafetensors, toSpec } from '../../src/index.js';
import { loadCheckpoint, loadCheckpointSync, saveCheckpoint, saveCheckpointSync } from '../../src/node/checkpoint-file.js';

const isOptaxError = (pattern: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof OptaxError, `expected an OptaxError, got ${String(e)}`);
  assert.match(e.message, pattern);
  return true;
};

test('fromSpec: an encoded array whose b64 is not base64 is an OptaxError naming the argument', () => {
  const spec = JSON.parse('{"name":"adamax","args":{"learning_rate":{"$array":"float32","shape":[1],"b64":"%%%%"}}}');
  assert.throws(() => fromSpec(spec), isOptaxError(/^fromSpec: spec\(adamax\)\.learning_rate: .*base64/));
  const mask = { name: 'masked', args: { inner: { name: 'scale', args: { step_size: 1 } }, mask: { w: { $array: 'float32', shape: [1], b64: '!!!!' } } } };
  assert.throws(() => fromSpec(mask), isOptaxError(/^fromSpec: spec\(masked\)\.mask\.w: .*base64/));
});

test('injectHyperparams: a hyperparamDtype other than float32/float64 is refused, not taken for float64', () => {
  assert.throws(() => injectHyperparams(adamax, { hyperparamDtype: 'float16' as never }), isOptaxError(/hyperparamDtype must be 'float32' or 'float64', got "float16"/));
  const spec = { name: 'inject_hyperparams', args: { inner: 'adamax', hyperparams: { learning_rate: 0.1 }, hyperparam_dtype: 'f64' } };
  assert.throws(() => fromSpec(spec), isOptaxError(/hyperparamDtype must be 'float32' or 'float64', got "f64"/));
});

test('toSafetensors: a misspelt option or an unknown floatDtype is refused, not ignored', () => {
  const params = { w: new Float32Array(2) };
  const checkpoint = { params, state: injectHyperparams(adamax)(0.01).init(params) };
  assert.throws(() => toSafetensors(checkpoint, { floatdtype: 'float64' } as never), isOptaxError(/^toSafetensors: unknown option floatdtype/));
  assert.throws(() => toSafetensors(checkpoint, { floatDtype: 'f64' as never }), isOptaxError(/^toSafetensors: floatDtype must be 'float32' or 'float64', got "f64"/));
  assert.throws(() => toSafetensors(checkpoint, null as never), isOptaxError(/^toSafetensors: options must be a plain object/));
});

test('checkpoint files: bad options and file-system failures are OptaxErrors naming the file; nothing is left behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optax-entry-'));
  try {
    const params = { w: new Float32Array(2) };
    const checkpoint = { params, state: adamax(0.01).init(params) };
    const file = join(dir, 'run.safetensors');
    saveCheckpointSync(file, checkpoint);
    assert.throws(() => loadCheckpointSync(file, checkpoint, null as never), isOptaxError(/^loadCheckpoint: options must be a plain object/));
    await assert.rejects(loadCheckpoint(file, checkpoint, { maxbytes: 10 } as never), isOptaxError(/^loadCheckpoint: unknown option maxbytes/));
    const missing = join(dir, 'no', 'such', 'run.safetensors');
    assert.throws(() => saveCheckpointSync(missing, checkpoint), isOptaxError(/^saveCheckpoint: cannot write .*run\.safetensors: .*ENOENT/));
    await assert.rejects(saveCheckpoint(missing, checkpoint), isOptaxError(/^saveCheckpoint: cannot write .*run\.safetensors: .*ENOENT/));
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    assert.throws(() => saveCheckpointSync(sub, checkpoint), isOptaxError(/^saveCheckpoint: cannot write .*sub: .*EISDIR/));
    await assert.rejects(saveCheckpoint(sub, checkpoint), isOptaxError(/^saveCheckpoint: cannot write .*sub: .*EISDIR/));
    assert.throws(() => saveCheckpointSync(join(dir, 'a\0b'), checkpoint), isOptaxError(/^saveCheckpoint: /));
    await assert.rejects(saveCheckpoint(join(dir, 'a\0b'), checkpoint), isOptaxError(/^saveCheckpoint: /));
    assert.deepEqual(readdirSync(dir).sort(), ['run.safetensors', 'sub']);
    assert.deepEqual(readdirSync(sub), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loading a named pipe (FIFO) is refused at once, not a wait for a writer forever', { skip: process.platform === 'win32' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'optax-fifo-'));
  try {
    const fifo = join(dir, 'run.safetensors');
    execFileSync('mkfifo', [fifo]);
    // In a child: a regression blocks, and only a child can be stopped then.
    const script = `import { loadCheckpoint, loadCheckpointSync } from ${JSON.stringify(new URL('../../src/node/checkpoint-file.ts', import.meta.url).href)};
      const t = { params: null, state: null };
      try { loadCheckpointSync(${JSON.stringify(fifo)}, t); } catch (e) { console.log(e.name, e.message); }
      try { await loadCheckpoint(${JSON.stringify(fifo)}, t); } catch (e) { console.log(e.name, e.message); }`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 20_000, encoding: 'utf8' });
    assert.deepEqual(out.trim().split('\n'), [`OptaxError loadCheckpoint: ${fifo} is not a regular file`, `OptaxError loadCheckpoint: ${fifo} is not a regular file`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a leaf whose ArrayBuffer was transferred (detached) is refused by name, at compile, update and step', () => {
  const detached = (n: number): Float32Array => {
    const a = new Float32Array(n);
    structuredClone(a.buffer, { transfer: [a.buffer] });
    return a;
  };
  const tx = adamax(0.1);
  assert.throws(() => compile(tx, { a: detached(3), b: new Float32Array(3) }), isOptaxError(/^params\.a: not a valid leaf: a Float32Array whose ArrayBuffer is detached/));
  const params = { a: new Float32Array([1, 2, 3]) };
  assert.throws(() => tx.update({ a: detached(3) }, tx.init(params), params), isOptaxError(/^grads\.a: not a valid leaf: a Float32Array whose ArrayBuffer is detached/));
  const stepper = compile(tx, params);
  assert.throws(() => stepper.step({ a: detached(3) }), isOptaxError(/^grads\.a: not a valid leaf: a Float32Array whose ArrayBuffer is detached/));
  const state = tx.init(params);
  (state[0].mu as { a: Float32Array }).a = detached(3);
  assert.throws(() => { stepper.state = state; }, isOptaxError(/^state\[0\]\.mu\.a: not a valid leaf: a Float32Array whose ArrayBuffer is detached/));
  assert.deepEqual([...stepper.params.a], [1, 2, 3]);
  // An empty leaf of a live buffer stays valid.
  assert.equal(compile(tx, { e: new Float32Array(0) }).params.e.length, 0);
});

test('partition with a label named __proto__ (as JSON makes it): init, update, compile and toSpec work, results as with any other label', () => {
  const spec = (label: string) => JSON.parse(`{"name":"partition","args":{"transforms":{"${label}":{"name":"adamax","args":{"learning_rate":0.1}},"b":{"name":"scale","args":{"step_size":3}}},"param_labels":{"w":"${label}","v":"b"}}}`);
  const run = (label: string) => {
    const tx = fromSpec(spec(label));
    const params = { w: new Float32Array([1, 2]), v: new Float32Array([3]) };
    const grads = { w: new Float32Array([0.5, -1]), v: new Float32Array([2]) };
    const state = tx.init(params);
    assert.deepEqual(Object.keys(state.inner_states), [label, 'b']);
    const [u, next] = tx.update(grads, state, params);
    const stepper = compile(tx, params);
    stepper.step(grads);
    assert.deepEqual(Object.keys(stepper.state.inner_states), [label, 'b']);
    return JSON.stringify([[...u.w], [...u.v], [...stepper.params.w], [...stepper.params.v], next.inner_states[label].inner_state[0].count, toSpec(tx).args]).replaceAll(label, 'L');
  };
  assert.equal(run('__proto__'), run('QQ'));
});

test('fromSpec: a chain listing 200,000 transformations is an OptaxError at once, not a stack overflow after seconds of building', () => {
  const transforms = Array.from({ length: 200_000 }, () => ({ name: 'scale', args: { step_size: 1 } }));
  const t0 = performance.now();
  assert.throws(() => fromSpec({ name: 'chain', args: { transforms } }), isOptaxError(/^fromSpec: spec\(chain\)\.transforms lists 200000 transformations; a spec's chain may list at most 10000$/));
  assert.ok(performance.now() - t0 < 1000, 'rejected before building the list');
  assert.equal(fromSpec({ name: 'chain', args: { transforms: transforms.slice(0, 3) } }).name, 'chain');
});

test('fromSpec: a factory\'s own error (a missing or invalid argument) names the spec it came from', () => {
  assert.throws(() => fromSpec({ name: 'adamax', args: {} }), isOptaxError(/^fromSpec: spec\(adamax\): scale_by_learning_rate: learning rate must be a number or a schedule, got undefined$/));
  assert.throws(() => fromSpec(JSON.parse('{"name":"adamax","__proto__":{"args":{"learning_rate":0.1}}}')), isOptaxError(/^fromSpec: spec\(adamax\): .*learning rate/));
  const nested = { name: 'chain', args: { transforms: [{ name: 'scale', args: { step_size: 1 } }, { name: 'adamax', args: { learning_rate: 0.1, b1: 'x' } }] } };
  assert.throws(() => fromSpec(nested), isOptaxError(/^fromSpec: spec\(chain\)\.transforms\[1\]\(adamax\): .*b1/));
  assert.throws(() => fromSpec({ name: 'inject_hyperparams', args: { inner: 'adamax', hyperparams: { learning_rate: 0.1 }, hyperparam_dtype: 'f64' } }), isOptaxError(/^fromSpec: spec\(inject_hyperparams\): .*hyperparamDtype must be/));
});

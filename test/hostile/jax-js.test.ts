/** The jax-js adapter against keys as JSON.parse makes them: a partition label named __proto__. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as jax from '@jax-js/jax';
import { fromSpec } from '../../src/index.js';
import { toJaxJs } from '../../src/jax-js/index.js';

const np = jax.numpy;

before(async () => {
  await jax.init('wasm');
  jax.defaultDevice('wasm');
});

test('jax-js partition with a label named __proto__: its state is an own key, the step as with any other label', async () => {
  const run = async (label: string) => {
    const spec = JSON.parse(`{"name":"partition","args":{"transforms":{"${label}":{"name":"adamax","args":{"learning_rate":0.1}},"b":{"name":"scale","args":{"step_size":3}}},"param_labels":{"w":"${label}","v":"b"}}}`);
    const opt = toJaxJs(fromSpec(spec));
    const state = opt.init({ w: np.array([1, 2]), v: np.array([3]) });
    assert.deepEqual(Object.keys(state.inner_states), [label, 'b']);
    const [u, next] = opt.update({ w: np.array([0.5, -1]), v: np.array([2]) }, state, { w: np.array([1, 2]), v: np.array([3]) });
    return JSON.stringify([[...await u.w.data()], [...await u.v.data()], [...await next.inner_states[label].inner_state[0].count.data()]]);
  };
  assert.equal(await run('__proto__'), await run('QQ'));
});

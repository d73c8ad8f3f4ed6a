/**
 * A stepper driven from inside its own callbacks: a schedule, mask function or MultiSteps skip
 * function that steps the same stepper again, or loads a state into it, while its step runs. The outer
 * step has read the state and computed its scalars by then; the inner call used to run anyway, and
 * the two steps interleaved into parameters no sequence of steps gives. Each such call is an
 * OptaxError, and the outer step is then exactly one step (bit-identical to the pure path).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type GradientTransformation, OptaxError, type Stepper, adamax, applyUpdates, chain, compile, masked, multiSteps, scale,
} from '../../src/index.js';

const params = () => ({ w: new Float32Array([1, -2, 3]), b: new Float64Array([0.5]) });
const grads = () => ({ w: new Float32Array([0.25, 1, -0.5]), b: new Float64Array([2]) });

/** A transformation the engine cannot see into: the stepper runs it on the reference path. */
function opaque<S>(tx: GradientTransformation<S>): GradientTransformation<S> {
  return { name: 'opaque', init: (p) => tx.init(p), update: (u, s, p) => tx.update(u, s, p) } as GradientTransformation<S>;
}

/** `steps` pure steps (tx.update + applyUpdates), the leaves as plain number lists. */
function pure(tx: GradientTransformation<unknown>, steps: number): number[][] {
  let p: Record<string, Float32Array | Float64Array> = params();
  let s = tx.init(p);
  for (let k = 0; k < steps; k++) {
    const [u, next] = tx.update(grads(), s, p);
    p = applyUpdates(p, u) as typeof p;
    s = next;
  }
  return [[...p.w], [...p.b]];
}

type Make = (reenter: () => void) => GradientTransformation<unknown>;
const cases: [string, Make][] = [
  ['a schedule', (reenter) => adamax((count: number) => { if (count === 1) reenter(); return 0.1; })],
  ['a mask function', (reenter) => chain(masked(scale(2), (p: unknown) => { reenter(); return { w: true, b: false }; }), adamax(0.1))],
  ['a MultiSteps skip function', (reenter) => multiSteps(adamax(0.1), { everyKSchedule: 1, shouldSkipUpdateFn: (_u: unknown, state: unknown) => { reenter(); return [false, state]; } })],
];

for (const [what, make] of cases) {
  test(`${what} that steps its stepper again, or loads a state into it, gets an OptaxError; the outer step is one step`, () => {
    for (const backend of ['wasm', 'js', 'interpreter', 'reference'] as const) {
      let stepper: Stepper<any, any> | undefined;
      let armed = false;
      const refused: unknown[] = [];
      const reenter = (): void => {
        if (!armed || !stepper) return;
        armed = false;
        for (const call of [() => stepper!.step(grads()), () => stepper!.setState(stepper!.state)]) {
          try {
            call();
            refused.push('it ran');
          } catch (e) {
            refused.push(e);
          }
        }
      };
      const tx = make(reenter);
      stepper = compile(backend === 'reference' ? opaque(tx) : tx, params(), backend === 'reference' ? {} : { backend });
      try {
        assert.equal(stepper.backend, backend);
        stepper.step(grads());
        armed = true;
        stepper.step(grads());
        assert.equal(refused.length, 2, `${backend}: the callback ran`);
        for (const e of refused) {
          assert.ok(e instanceof OptaxError, `${backend}: expected an OptaxError, got ${String(e)}`);
          assert.match(e.message, /^(step|setState): called while a step of this stepper is running/);
        }
        assert.deepEqual([[...stepper.params.w], [...stepper.params.b]], pure(make(() => {}), 2), `${backend}: two steps`);
        stepper.step(grads());
        assert.deepEqual([[...stepper.params.w], [...stepper.params.b]], pure(make(() => {}), 3), `${backend}: the next step`);
      } finally {
        stepper.dispose();
      }
    }
  });
}

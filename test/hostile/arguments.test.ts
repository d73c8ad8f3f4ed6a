// Hostile arguments to every public function of the package (not only trees and options): each call
// either succeeds or throws an OptaxError, and changes none of its arguments.
import { test } from 'node:test';
import fc from 'fast-check';
import * as optax from '../../src/index.js';
import { holds, notATree, runs, tree } from './harness.js';

/**
 * Not held to the rule, and why:
 * - the numeric building blocks run once per element (or per step) on numbers, by contract, and stay
 *   unchecked to stay fast (roundTo, safeIncrement, pow, powf, cosf, powInt, biasCorrection,
 *   reciprocalForTree);
 * - MultiSteps is a class: calling it without `new` is JavaScript's own TypeError.
 */
const EXEMPT = new Set(['roundTo', 'safeIncrement', 'pow', 'powf', 'cosf', 'powInt', 'biasCorrection', 'reciprocalForTree', 'MultiSteps']);

const argument = fc.oneof(notATree, tree, fc.constantFrom<unknown>(null, {}, [], 'float32', JSON.parse('{"__proto__": {"w": 1}}'), [new Float32Array(2)]));

test('hostile arguments: every public function succeeds or throws an OptaxError, and changes nothing', async () => {
  const functions = Object.entries(optax).filter(([name, f]) => typeof f === 'function' && !EXEMPT.has(name) && !/^[A-Z]/.test(name));
  for (const [name, f] of functions) {
    try {
      fc.assert(fc.property(fc.array(argument, { maxLength: 3 }), (args) => {
      holds(args, () => {
        const out = (f as (...a: unknown[]) => unknown)(...args);
        // A stepper or a promise made from junk is cleaned up; its own behaviour is tested elsewhere.
        if (out && typeof (out as { dispose?: unknown }).dispose === 'function') (out as { dispose(): void }).dispose();
        if (out instanceof Promise) out.catch(() => {});
      });
    }), runs(25));
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
  }
  optax.setWarningHandler(null); // it may have been given a function above
});

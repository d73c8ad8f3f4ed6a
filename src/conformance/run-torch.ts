import type { Dtype } from '../core/dtype.js';
import { applyUpdates } from '../transforms/apply-updates.js';
import { type Agreement, compareValue, compareTrees } from './compare.js';
import { type VectorCase, decodeTree } from './format.js';
import { torchAdamaxChain, type TorchAdamaxArgs } from './registry.js';

interface TorchStep {
  grads: unknown;
  params: unknown;
  exp_avg: unknown;
  exp_inf: unknown;
  step: number[];
}

/**
 * torch's Adamax is the same rule with other rounding (`exp_avg.lerp_`, the bias correction folded into
 * the learning rate), so its cases are compared within 1e-6 of each leaf's largest magnitude: params,
 * exp_avg (our mu), exp_inf (our nu) and the step count.
 */
const TORCH_TOLERANCE = { kind: 'leaf-relative', rtol: 1e-6 } as const;

/** Runs a `torch_adamax` case through the optax-ts chain that reproduces `torch.optim.Adamax`. */
export function runTorch(c: VectorCase, _dtype: Dtype, acc: Agreement): void {
  const { tx, adamaxIndex } = torchAdamaxChain(c.torch_args as TorchAdamaxArgs);
  // torch on CPU keeps IEEE subnormals, as optax-ts does by default: no flush mode here.
  {
    let params = decodeTree(c.params);
    let state = tx.init(params);
    (c.steps as TorchStep[]).forEach((step, k) => {
      const [updates, next] = tx.update(decodeTree(step.grads), state, params);
      state = next;
      params = applyUpdates(params, updates);
      const adamaxState = state[adamaxIndex];
      compareTrees(params, decodeTree(step.params), TORCH_TOLERANCE, `step[${k}].params`, acc);
      compareTrees(adamaxState.mu, decodeTree(step.exp_avg), TORCH_TOLERANCE, `step[${k}].exp_avg`, acc);
      compareTrees(adamaxState.nu, decodeTree(step.exp_inf), TORCH_TOLERANCE, `step[${k}].exp_inf`, acc);
      step.step.forEach((s, i) => compareValue(adamaxState.count, s, `step[${k}].step[${i}]`, acc));
    });
  }
}

import type { FunctionBuilder } from './function-builder.js';
import { SimdOp, ValType } from './opcodes.js';

/**
 * The lanes of one vector that leave a loop's common path, gathered as the vector's code goes: each
 * check ORs its lane mask (all ones in a lane that fails) into one v128 local, and a single branch
 * at the end tests them all. One test and one branch per vector instead of one per check (a
 * `movmskps`, a `test` and a `jnz` each, on x64), and no branch between a vector's loads and its
 * stores but that one.
 * @internal
 */
export class LaneFailures {
  private readonly mask: number;
  private started = false;

  constructor(private readonly f: FunctionBuilder) {
    this.mask = f.local(ValType.v128);
  }

  /** ORs the lane mask on the stack into the vector's. */
  add(): void {
    if (this.started) this.f.localGet(this.mask).simd(SimdOp.v128Or);
    this.f.localSet(this.mask);
    this.started = true;
  }

  /** Leaves an i32 on the stack, nonzero where some lane failed, and starts the next vector's. */
  any(): void {
    if (this.started) this.f.localGet(this.mask).simd(SimdOp.i32x4Bitmask);
    else this.f.i32Const(0);
    this.started = false;
  }
}

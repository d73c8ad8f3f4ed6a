/**
 * `jnp.cumprod` of a vector as XLA:CPU computes it, for piecewise_interpolate_schedule's values.
 *
 * JAX lowers `cumprod` to a reduce-window over the whole vector, padded in front
 * (jax/_src/lax/control_flow/loops.py, `cumred_reduce_window_impl`, the only lowering registered), which
 * multiplies in order from the init value 1. XLA:CPU first runs `ReduceWindowRewriter` with
 * `xla_reduce_window_rewrite_base_length` = 16 (xla/service/cpu/cpu_compiler.cc,
 * xla/debug_options_flags.cc): a scan longer than 16 is padded with 1s to a multiple of 16, each block
 * of 16 is scanned in order, the blocks' last elements get an exclusive scan (itself rewritten when
 * longer than 16), and each element is its block's scan times that prefix
 * (xla/hlo/transforms/simplifiers/reduce_window_rewriter.cc, `RewriteScanAsTreeReduction`).
 *
 * @internal
 */

/** The rewriter's base length on XLA:CPU. */
export const SCAN_BASE_LENGTH = 16;

/** The cumulative product of `xs`, each product by `mul` (which rounds as the evaluation does). */
export function cumulativeProduct(xs: readonly number[], mul: (a: number, b: number) => number, base = SCAN_BASE_LENGTH): number[] {
  const inOrder = (v: readonly number[]): number[] => {
    const out: number[] = [];
    let acc = 1;
    for (const x of v) out.push((acc = mul(acc, x)));
    return out;
  };
  if (xs.length <= base) return inOrder(xs);
  const columns = Math.ceil(xs.length / base);
  const blocks: number[][] = [];
  for (let b = 0; b < columns; b++) {
    const block = xs.slice(b * base, (b + 1) * base);
    while (block.length < base) block.push(1); // padded with the init value
    blocks.push(inOrder(block));
  }
  // The exclusive scan of the block totals: 1, T0, T0*T1, ...
  const prefix = [1, ...cumulativeProduct(blocks.slice(0, columns - 1).map((b) => b[base - 1]), mul, base)];
  return xs.map((_, i) => mul(blocks[Math.floor(i / base)][i % base], prefix[Math.floor(i / base)]));
}

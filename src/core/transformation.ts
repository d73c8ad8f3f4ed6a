import type { Params, Updates } from '../tree/tree.js';
import type { ElementwiseDefinition } from '../kernel/elementwise.js';
import type { Dtype } from './dtype.js';
import type { InjectionControl } from '../transforms/inject-hyperparams.js';
import type { ShouldSkipUpdateFunction } from '../transforms/multi-steps.js';

/**
 * Extra keyword arguments passed along by `update` (optax's `GradientTransformationExtraArgs`), e.g. a
 * loss value for a transformation that needs one. Transformations that don't use them ignore them.
 */
export type ExtraArgs = Readonly<Record<string, unknown>>;

/**
 * optax's core abstraction: a pure pair of functions.
 *
 * - `init(params)` returns the initial state (it reads only the structure, dtypes and shapes of params);
 * - `update(updates, state, params?, extraArgs?)` returns `[newUpdates, newState]`.
 *
 * Neither mutates its inputs. `S` is the state's type, e.g. {@link ScaleByAdamaxState}.
 *
 * @example
 * ```ts
 * import { scale, applyUpdates } from 'optax-ts';
 * const tx = scale(-0.5);
 * const params = { w: new Float32Array([1, 2]) };
 * const state = tx.init(params);
 * const [updates] = tx.update({ w: new Float32Array([2, 2]) }, state);
 * console.log(applyUpdates(params, updates)); // { w: Float32Array(2) [ 0, 1 ] }
 * ```
 */
export interface GradientTransformation<S = unknown> {
  init(params: Params): S;
  /** Returns updates of the same structure as `updates` (hence the same type), and the new state. */
  update<U extends Updates>(updates: U, state: S, params?: Params | null, extraArgs?: ExtraArgs): [U, S];
  /** optax's name for it (`scale_by_adamax`, `chain`, ...), used in error messages. */
  readonly name: string;
  /** Present on elementwise transformations: the per-element rule the fused engine compiles. */
  readonly elementwise?: ElementwiseDefinition<any>;
  /** Present on `chain`: the transformations it runs, in order. */
  readonly parts?: readonly GradientTransformation<any>[];
  /**
   * Present on combinators whose structure the fused engine can see through (`masked`, `partition`,
   * ...): what they wrap and how. See each combinator's file for its exact shape.
   */
  readonly combinator?: CombinatorInfo;
}

/** How a combinator applies its inner transformation(s); read by the fused engine. */
export type CombinatorInfo =
  /** `masked(inner, mask)`: inner runs on the leaves where `mask` is true; other updates pass through. */
  | { readonly kind: 'masked'; readonly inner: GradientTransformation<any>; readonly mask: unknown }
  /** `partition(transforms, labels)`: each leaf's update goes through the transformation of its label. */
  | { readonly kind: 'partition'; readonly transforms: Readonly<Record<string, GradientTransformation<any>>>; readonly labels: unknown }
  /** `applyIfFinite(inner, options)`: inner runs (traced, as in optax's `lax.cond`) unless the updates hold a NaN or infinity. */
  | { readonly kind: 'applyIfFinite'; readonly inner: GradientTransformation<any>; readonly maxConsecutiveErrors: number }
  /**
   * `injectHyperparams(factory)(...)`: each step rebuilds the inner transformation with the
   * hyperparameters of its state. `step` is that step, without the inner update (`traced`: inside
   * `lax.cond`, where its schedules are traced); `innerFor` the inner
   * transformation for given values (the same object while they do not change); `check` validates a
   * state's own fields; `dtypeFor` is the hyperparameter dtype for (params, updates); `initial` what
   * `init` holds.
   */
  | {
    readonly kind: 'injectHyperparams';
    step(control: InjectionControl, dtype: Dtype, traced?: boolean): { control: InjectionControl; inner: GradientTransformation<any> };
    innerFor(hyperparams: InjectionControl['hyperparams']): GradientTransformation<any>;
    check(state: unknown): void;
    dtypeFor(params: unknown, updates: unknown): Dtype;
    /** The hyperparameters (and schedule counts) `init` holds for hyperparameters of `dtype`. */
    initial(dtype: Dtype): Omit<InjectionControl, 'count'>;
    /** The scheduled hyperparameters' names, in the order `writeScheduled` writes them. */
    readonly scheduledNames: readonly string[];
    /**
     * The value `step` gives each scheduled hyperparameter (its schedule at its count in `control`,
     * rounded to `dtype`), written to `values[j]` for `scheduledNames[j]`: nothing allocated (the fused
     * engine's per-step form; schedules/program.ts).
     */
    writeScheduled(values: Float64Array, control: InjectionControl, dtype: Dtype, traced: boolean): void;
  }
  /** `multiSteps(inner, options)` (optax's MultiSteps): `shouldSkip` is undefined for none. */
  | {
    readonly kind: 'multiSteps';
    readonly inner: GradientTransformation<any>;
    everyK(gradientStep: number): number;
    /** `everyKSchedule` when it is a number (undefined for a schedule function). */
    readonly constantK: number | undefined;
    readonly useGradMean: boolean;
    readonly shouldSkip: ShouldSkipUpdateFunction | undefined;
    readonly accumulatorDtype: Dtype | null;
  };

/** The state of a transformation that keeps none (optax's `EmptyState`). */
export type EmptyState = Record<string, never>;

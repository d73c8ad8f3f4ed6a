/**
 * The fused engine's public surface: `compile` and what it returns, and the thread platform hook.
 * @packageDocumentation
 */
export { compile, type CompileOptions } from './compile.js';
export type { SubnormalMode } from './subnormals.js';
export type { Stepper, StepperBackend } from './stepper.js';
export type { KernelBackend } from './executor.js';
export { registerThreadPlatform, type ThreadPlatform, type ThreadHandle } from './thread-platform.js';

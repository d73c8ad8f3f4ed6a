/**
 * optax-ts for Node: everything the browser-safe entry exports, with worker threads for the fused
 * engine (`compile`): this entry registers Node's `worker_threads` as the engine's thread platform.
 * @packageDocumentation
 */
import { registerThreadPlatform } from '../engine/thread-platform.js';
import { nodeThreadPlatform } from './thread-platform.js';

registerThreadPlatform(nodeThreadPlatform);

export * from '../index.js';
export * from '../engine/index.js';
export { nodeThreadPlatform } from './thread-platform.js';

/**
 * optax-ts for Node: everything the browser-safe entry exports, with Node's `worker_threads`
 * registered as the fused engine's thread platform. (On Node >= 20.16 the engine finds it by itself;
 * this entry also covers older Node 20 releases.)
 * @packageDocumentation
 */
import * as os from 'node:os';
import * as workerThreads from 'node:worker_threads';
import { registerThreadPlatform } from '../engine/thread-platform.js';
import { createNodeThreadPlatform } from './thread-platform.js';

const modules: Readonly<Record<string, unknown>> = { 'node:os': os, 'node:worker_threads': workerThreads };

/** Node's thread platform for the fused engine (registered by this entry). */
export const nodeThreadPlatform = createNodeThreadPlatform((id) => modules[id]);
registerThreadPlatform(nodeThreadPlatform);

export * from '../index.js';
export * from '../engine/index.js';
export { createNodeThreadPlatform } from './thread-platform.js';
export { saveCheckpoint, loadCheckpoint, saveCheckpointSync, loadCheckpointSync, DEFAULT_MAX_CHECKPOINT_BYTES, type LoadCheckpointOptions } from './checkpoint-file.js';

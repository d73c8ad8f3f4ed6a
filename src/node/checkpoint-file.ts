import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, openSync, promises as fs, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { OptaxError } from '../core/errors.js';
import { readOptions } from '../core/options.js';
import { type Checkpoint, type ToSafetensorsOptions, fromSafetensors, toSafetensors } from '../checkpoint/safetensors.js';

/**
 * Checkpoint files. Saving is atomic: the bytes go to a temporary file in the same directory (same
 * file system, so the rename is atomic), which is flushed to the disk (`fsync`) before it is renamed
 * over the target, and the directory is flushed after, so that the rename itself survives a power
 * loss. A process killed at any moment leaves the old file or the new one, never a torn one (at worst a
 * stray `.*.tmp` file). Loading reads at most `maxBytes`, then validates the whole file before
 * anything is returned.
 */

/** Options of {@link loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /** Refuse files larger than this many bytes (default 2 GiB): reading is bounded before it starts. */
  maxBytes?: number;
}

/**
 * The default read limit of {@link loadCheckpoint}: 2 GiB. A larger file is refused before any of it
 * is read; pass `maxBytes` to allow more (or less).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_CHECKPOINT_BYTES } from 'optax-ts/node';
 * console.log(DEFAULT_MAX_CHECKPOINT_BYTES === 2 ** 31); // true
 * ```
 */
export const DEFAULT_MAX_CHECKPOINT_BYTES = 2 ** 31;

/** A fresh temporary name next to `target` (same directory, so the rename is atomic). */
function tempNameFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Errors of fsync on a directory that mean the platform cannot do it (the rename is atomic anyway). */
const unsupportedDirectorySync = (e: unknown): boolean => ['EISDIR', 'EPERM', 'EINVAL', 'EACCES'].includes((e as NodeJS.ErrnoException).code ?? '');

/**
 * Opening for reading never blocks: a named pipe (FIFO) would otherwise wait for a writer forever
 * (the sync call blocking the thread, the async one a libuv worker) before its size could be checked;
 * with O_NONBLOCK it opens at once and is refused as not a regular file. (No such flag on Windows.)
 */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

function checkPath(path: unknown, what: string): asserts path is string {
  if (typeof path !== 'string' || path === '') throw new OptaxError(`${what}: path must be a file name, got ${JSON.stringify(path)}`);
}

function checkMaxBytes(options: LoadCheckpointOptions): number {
  const maxBytes = readOptions('loadCheckpoint', options, { maxBytes: true }).maxBytes ?? DEFAULT_MAX_CHECKPOINT_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new OptaxError(`loadCheckpoint: maxBytes must be a non-negative integer, got ${String(maxBytes)}`);
  return maxBytes;
}

/**
 * A file-system failure while saving (a missing directory, a full disk, a path that is a directory)
 * as an OptaxError naming the file; the system error stays reachable as `cause` (its `code`).
 */
function writeFailure(path: string, e: unknown): unknown {
  if (e instanceof OptaxError) return e;
  const named = new OptaxError(`saveCheckpoint: cannot write ${path}: ${e instanceof Error ? e.message : String(e)}`);
  Object.defineProperty(named, 'cause', { value: e, configurable: true, writable: true });
  return named;
}

/** Validates the bytes read from `path`; an OptaxError's message starts with the file name. */
function restore<C extends Checkpoint>(path: string, template: C, bytes: Uint8Array): C {
  try {
    return fromSafetensors(template, bytes);
  } catch (e) {
    if (!(e instanceof OptaxError)) throw e;
    const named = new OptaxError(`${path}: ${e.message}`);
    Object.defineProperty(named, 'path', { value: e.path });
    throw named;
  }
}

function checkSize(path: string, isFile: boolean, size: number, maxBytes: number): void {
  if (!isFile) throw new OptaxError(`loadCheckpoint: ${path} is not a regular file`);
  if (size > maxBytes) throw new OptaxError(`loadCheckpoint: ${path} has ${size} bytes, more than maxBytes (${maxBytes})`);
}

async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch (e) {
    // Some platforms (Windows) cannot open or fsync a directory; the rename is still atomic there.
    if (!unsupportedDirectorySync(e)) throw e;
  } finally {
    await handle?.close();
  }
}

/**
 * Saves params and optimizer state to `path` as safetensors ({@link toSafetensors}), atomically:
 * `path` holds either its previous content or the complete new checkpoint, whatever happens to the
 * process. Everything is validated and encoded before the file system is touched.
 *
 * @example
 * ```ts
 * import { adamax } from 'optax-ts';
 * import { saveCheckpoint, loadCheckpoint } from 'optax-ts/node';
 * import { mkdtempSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * const tx = adamax(0.01);
 * const params = { w: new Float32Array([1, 2]) };
 * const [, state] = tx.update({ w: new Float32Array([0.5, -1]) }, tx.init(params), params);
 * const file = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'run.safetensors');
 * await saveCheckpoint(file, { params, state });
 * const back = await loadCheckpoint(file, { params, state: tx.init(params) });
 * console.log(back.state[0].count, back.state[0].mu); // 1 { w: Float32Array(2) [ 0.05000000074505806, -0.10000000149011612 ] }
 * ```
 */
export async function saveCheckpoint(path: string, checkpoint: Checkpoint, options: ToSafetensorsOptions = {}): Promise<void> {
  checkPath(path, 'saveCheckpoint');
  const bytes = toSafetensors(checkpoint, options);
  const target = resolve(path);
  const dir = dirname(target);
  const temp = tempNameFor(target);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  } catch (e) {
    throw writeFailure(path, e);
  }
  let renamed = false;
  try {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, written);
      written += bytesWritten;
    }
    await handle.sync();
    await handle.close();
    await fs.rename(temp, target);
    renamed = true;
    await syncDirectory(dir);
  } catch (e) {
    throw writeFailure(path, e);
  } finally {
    if (!renamed) {
      await handle.close().catch(() => {});
      await fs.unlink(temp).catch(() => {});
    }
  }
}

/**
 * Loads a checkpoint written by {@link saveCheckpoint} (or any safetensors file laid out the same way)
 * into the layout of `template` (e.g. `{ params, state: tx.init(params) }`). The file's size is checked
 * against `maxBytes` before it is read, and the whole file is validated ({@link fromSafetensors})
 * before anything is returned; every rejection is an `OptaxError` naming the file and the path.
 *
 * @example
 * ```ts
 * import { OptaxError, adamax } from 'optax-ts';
 * import { loadCheckpoint } from 'optax-ts/node';
 * import { mkdtempSync, writeFileSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * const file = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'torn.safetensors');
 * writeFileSync(file, new Uint8Array([16, 0, 0, 0, 0, 0, 0, 0, 123]));
 * const params = { w: new Float32Array(2) };
 * try {
 *   await loadCheckpoint(file, { params, state: adamax(0.01).init(params) });
 * } catch (e) {
 *   console.log(e instanceof OptaxError, (e as Error).message.endsWith('safetensors: the header length 16 runs past the end of the file (9 bytes)')); // true true
 * }
 * ```
 */
export async function loadCheckpoint<C extends Checkpoint>(path: string, template: C, options: LoadCheckpointOptions = {}): Promise<C> {
  const maxBytes = checkMaxBytes(options);
  checkPath(path, 'loadCheckpoint');
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, READ_FLAGS);
  } catch (e) {
    throw new OptaxError(`loadCheckpoint: cannot open ${path}: ${(e as Error).message}`);
  }
  let bytes: Uint8Array;
  try {
    const stat = await handle.stat();
    checkSize(path, stat.isFile(), stat.size, maxBytes);
    // Read what the size said, and one byte more to notice a file that grew meanwhile.
    const buffer = new Uint8Array(stat.size + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, got, buffer.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got > stat.size) throw new OptaxError(`loadCheckpoint: ${path} changed while it was read`);
    }
    bytes = buffer.subarray(0, got);
  } finally {
    await handle.close();
  }
  return restore(path, template, bytes);
}

/**
 * {@link saveCheckpoint}, synchronously (the same atomic protocol with blocking calls).
 *
 * @example
 * ```ts
 * import { adamax } from 'optax-ts';
 * import { saveCheckpointSync, loadCheckpointSync } from 'optax-ts/node';
 * import { mkdtempSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * const params = { w: new Float64Array([3]) };
 * const file = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'run.safetensors');
 * saveCheckpointSync(file, { params, state: adamax(0.01).init(params) });
 * console.log(loadCheckpointSync(file, { params, state: adamax(0.01).init(params) }).params.w); // Float64Array(1) [ 3 ]
 * ```
 */
export function saveCheckpointSync(path: string, checkpoint: Checkpoint, options: ToSafetensorsOptions = {}): void {
  checkPath(path, 'saveCheckpointSync');
  const bytes = toSafetensors(checkpoint, options);
  const target = resolve(path);
  const temp = tempNameFor(target);
  let fd: number;
  try {
    fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  } catch (e) {
    throw writeFailure(path, e);
  }
  let closed = false, renamed = false;
  try {
    for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written, bytes.length - written, written);
    fsyncSync(fd);
    closeSync(fd);
    closed = true;
    renameSync(temp, target);
    renamed = true;
    let dirFd: number | undefined;
    try {
      dirFd = openSync(dirname(target), constants.O_RDONLY);
      fsyncSync(dirFd);
    } catch (e) {
      if (!unsupportedDirectorySync(e)) throw e;
    } finally {
      if (dirFd !== undefined) closeSync(dirFd);
    }
  } catch (e) {
    throw writeFailure(path, e);
  } finally {
    if (!closed) try { closeSync(fd); } catch { /* already failing */ }
    if (!renamed) try { unlinkSync(temp); } catch { /* already failing */ }
  }
}

/**
 * {@link loadCheckpoint}, synchronously.
 *
 * @example
 * ```ts
 * import { adamax } from 'optax-ts';
 * import { saveCheckpointSync, loadCheckpointSync } from 'optax-ts/node';
 * import { mkdtempSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * const params = { w: new Float32Array(4) };
 * const file = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'run.safetensors');
 * saveCheckpointSync(file, { params, state: adamax(0.01).init(params) });
 * try {
 *   loadCheckpointSync(file, { params, state: adamax(0.01).init(params) }, { maxBytes: 100 });
 * } catch (e) {
 *   console.log((e as Error).message.endsWith('more than maxBytes (100)')); // true
 * }
 * ```
 */
export function loadCheckpointSync<C extends Checkpoint>(path: string, template: C, options: LoadCheckpointOptions = {}): C {
  const maxBytes = checkMaxBytes(options);
  checkPath(path, 'loadCheckpointSync');
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch (e) {
    throw new OptaxError(`loadCheckpoint: cannot open ${path}: ${(e as Error).message}`);
  }
  let bytes: Uint8Array;
  try {
    const stat = fstatSync(fd);
    checkSize(path, stat.isFile(), stat.size, maxBytes);
    const buffer = new Uint8Array(stat.size + 1);
    let got = 0;
    for (;;) {
      const n = readSync(fd, buffer, got, buffer.length - got, got);
      if (n === 0) break;
      got += n;
      if (got > stat.size) throw new OptaxError(`loadCheckpoint: ${path} changed while it was read`);
    }
    bytes = buffer.subarray(0, got);
  } finally {
    closeSync(fd);
  }
  return restore(path, template, bytes);
}

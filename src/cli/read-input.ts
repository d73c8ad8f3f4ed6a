import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The default cap on one input file: 256 MiB (the shipped vectors are a few MB; `--max-bytes` raises it). */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** A problem with an input (missing, unreadable, too large, not JSON): the CLI exits 2 with its message. */
export class InputError extends Error {
  override name = 'InputError';
}

const CHUNK = 1 << 20;

/** The first byte that is not JSON whitespace (after a UTF-8 byte order mark at the start), or -1 if none. */
function firstSignificantByte(bytes: Uint8Array, atStart: boolean): number {
  let i = atStart && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return i < bytes.length ? bytes[i] : -1;
}

function describeErrno(e: unknown): string {
  const code = (e as { code?: string }).code;
  const known: Record<string, string> = {
    ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory', ENOTDIR: 'a path component is not a directory',
    ELOOP: 'too many symbolic links', ENAMETOOLONG: 'file name too long', EMFILE: 'too many open files',
  };
  return (code && known[code]) ?? (e as Error).message;
}

/**
 * Reads and parses one JSON input file, reading at most `maxBytes` (+1, to know it is over): a regular
 * file larger than that is rejected from its size before anything is read, and a device or pipe
 * (`/dev/zero`, a FIFO) is read in 1 MiB chunks until it ends or passes the cap. Input that does not
 * start with `{` (after whitespace) is rejected at its first chunk. Every failure is an
 * {@link InputError} whose message says what is wrong, without the path (the caller adds it).
 */
export function readJsonFile(path: string, maxBytes: number): unknown {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new InputError(`cannot open: ${describeErrno(e)}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = readCapped(fd, maxBytes);
  } finally {
    closeSync(fd);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new InputError(e instanceof TypeError ? 'not valid UTF-8' : `too large to decode as text (${bytes.length} bytes)`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(e instanceof SyntaxError ? `not valid JSON: ${e.message}` : `cannot parse (${(e as Error).message})`);
  }
}

function readCapped(fd: number, maxBytes: number): Uint8Array {
  let stat;
  try {
    stat = fstatSync(fd);
  } catch (e) {
    throw new InputError(`cannot read: ${describeErrno(e)}`);
  }
  if (stat.isDirectory()) throw new InputError('is a directory');
  const over = (): InputError => new InputError(`larger than the input limit of ${maxBytes} bytes (raise it with --max-bytes)`);
  if (stat.isFile() && stat.size > maxBytes) throw over();
  // A regular file is read into one buffer of its size (+1 to see it grow); anything else (and a file
  // that reports no size, as /proc files do) in chunks.
  const chunks: Uint8Array[] = [];
  let total = 0;
  let checkedStart = false;
  for (;;) {
    const want = stat.isFile() && total === 0 && stat.size > 0 ? stat.size + 1 : Math.min(CHUNK, maxBytes + 1 - total);
    const chunk = new Uint8Array(want);
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (e) {
      throw new InputError(`cannot read: ${describeErrno(e)}`);
    }
    if (n === 0) break;
    chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    total += n;
    if (!checkedStart) {
      const first = firstSignificantByte(chunks[chunks.length - 1], chunks.length === 1);
      if (first !== -1) {
        if (first !== 0x7b) throw new InputError('not a JSON object (it does not start with "{")');
        checkedStart = true;
      }
    }
    if (total > maxBytes) throw over();
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

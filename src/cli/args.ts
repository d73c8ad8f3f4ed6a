import { DEFAULT_MAX_BYTES } from './read-input.js';

/**
 * The `conformance` command's options. Each flag is one row of {@link CONFORMANCE_FLAGS}: adding a
 * mode is adding a row (and reading its field where the run is set up).
 */
export interface ConformanceOptions {
  /** Also run every trajectory case through `compile()` on each available backend. */
  engine: boolean;
  /** Save each trajectory's params and state to a safetensors file midway and load them back. */
  checkpointRoundtrip: boolean;
  /** The largest input file read, in bytes. */
  maxBytes: number;
  /** The vectors files (none: the shipped ones). */
  files: string[];
}

/** A problem with the command line: the CLI prints it on one line and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

interface Flag {
  /** The value's name in the help, for a flag that takes one (`--max-bytes N`). */
  readonly value?: string;
  readonly help: string;
  readonly apply: (options: ConformanceOptions, value: string) => void;
}

const SIZE = /^(\d+)\s*(?:([KMG])i?B?)?$/i;
const UNITS: Readonly<Record<string, number>> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** A byte count: `1000000`, `512MiB`, `1G` (K, M, G are binary units). */
export function parseByteSize(text: string): number {
  const m = SIZE.exec(text.trim());
  const n = m ? Number(m[1]) * (m[2] ? UNITS[m[2].toUpperCase()] : 1) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--max-bytes takes a size in bytes such as 268435456 or 512MiB, got '${text}'`);
  return n;
}

/** The flags of `optax-ts conformance`, in the order the help lists them. */
export const CONFORMANCE_FLAGS: Readonly<Record<string, Flag>> = {
  '--engine': {
    help: 'also run every trajectory case through compile() on each available backend (wasm at 1 and 2 threads, js, interpreter); each line says which backend ran',
    apply: (o) => { o.engine = true; },
  },
  '--checkpoint-roundtrip': {
    help: "save each trajectory's params and state to a safetensors file midway and load them back before the remaining steps (the results must not change)",
    apply: (o) => { o.checkpointRoundtrip = true; },
  },
  '--max-bytes': {
    value: 'N',
    help: `read at most N bytes of each file (default ${DEFAULT_MAX_BYTES / 1024 ** 2}MiB; K, M, G suffixes are binary units)`,
    apply: (o, v) => { o.maxBytes = parseByteSize(v); },
  },
};

/** What the command line asks for. */
export type Command =
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'version' }
  | { readonly kind: 'conformance'; readonly options: ConformanceOptions };

/** `text` broken into lines of at most `width` columns, the lines after the first indented by `indent`. */
function wrap(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width - indent) { lines.push(line); line = word; } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

/** The help text. */
export function usage(): string {
  const flags = Object.entries(CONFORMANCE_FLAGS).map(([name, f]) => `  ${`${name}${f.value ? ` ${f.value}` : ''}`.padEnd(24)} ${wrap(f.help, 100, 27)}`);
  return [
    'usage: optax-ts conformance [OPTIONS] [--] [FILE...]',
    '       optax-ts --help | --version',
    '',
    'Runs conformance vectors (format adamax-goldens/1, see conformance/FORMAT.md) through optax-ts and',
    'prints one line per case (PASS/FAIL, name, fraction of elements bit-identical, worst error in ulps),',
    'then "N passed, M failed". Without FILE, runs the vectors shipped with the package.',
    '',
    'Options:',
    ...flags,
    `  ${'-h, --help'.padEnd(24)} show this help`,
    `  ${'-V, --version'.padEnd(24)} show the version`,
    '',
    'Exit status: 0 every case passed; 1 a case failed; 2 usage or input error (a missing, unreadable,',
    'oversized or malformed file, or a file without cases), reported on one line on stderr; 3 an',
    'internal error of optax-ts. A file that cannot be run is one FAIL line (the other files still run),',
    'so the last line is "N passed, M failed" whenever a command runs.',
  ].join('\n');
}

/** Parses `argv` (without node and the script). Throws {@link UsageError}. */
export function parseArgs(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') return { kind: 'help', text: usage() };
  if (command === '--version' || command === '-V') return { kind: 'version' };
  if (command === undefined) throw new UsageError('no command given (try optax-ts --help)');
  if (command !== 'conformance') throw new UsageError(`unknown command '${command}' (try optax-ts --help)`);
  const options: ConformanceOptions = { engine: false, checkpointRoundtrip: false, maxBytes: DEFAULT_MAX_BYTES, files: [] };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--') { options.files.push(...rest.slice(i + 1)); break; }
    if (arg === '--help' || arg === '-h') return { kind: 'help', text: usage() };
    if (arg === '--version' || arg === '-V') return { kind: 'version' };
    if (!arg.startsWith('-')) { options.files.push(arg); continue; }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const flag = Object.hasOwn(CONFORMANCE_FLAGS, name) ? CONFORMANCE_FLAGS[name] : undefined;
    if (!flag) throw new UsageError(`unknown option '${arg}' (try optax-ts --help; a file whose name starts with '-' goes after --)`);
    if (flag.value === undefined) {
      if (eq > 0) throw new UsageError(`${name} takes no value`);
      flag.apply(options, '');
    } else {
      const v = eq > 0 ? arg.slice(eq + 1) : rest[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value (${name} ${flag.value})`);
      flag.apply(options, v);
    }
  }
  return { kind: 'conformance', options };
}

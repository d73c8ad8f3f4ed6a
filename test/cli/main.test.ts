// The `optax-ts` command as installed (dist/cli/main.js, built by `npm test` / `npm run build`):
// exit codes, one-line errors on stderr, escaped output, input caps, format validation, --engine.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { DEFAULT_MAX_BYTES } from '../../src/cli/read-input.js';
import { MAX_FILE_DEPTH } from '../../src/conformance/validate-file.js';

const root = new URL('../../', import.meta.url).pathname;
const bin = join(root, 'dist/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'optax-ts-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => spawnSync(bin, args, { encoding: 'utf8', cwd: dir, maxBuffer: 1 << 26 });
const shipped = (name: string) => JSON.parse(readFileSync(join(root, 'conformance', name), 'utf8'));
let n = 0;
/** Writes `content` (an object is JSON-encoded) to a fresh file and returns its path. */
function file(content: unknown): string {
  const path = join(dir, `f${n++}.json`);
  writeFileSync(path, typeof content === 'string' || content instanceof Uint8Array ? content : JSON.stringify(content));
  return path;
}
/** A small valid file: the first `k` cases of public_f64. */
function small(k = 3): any {
  const f = shipped('public_f64.json');
  f.cases = f.cases.slice(0, k);
  return f;
}

/** An input or usage error: exit 2, nothing on stdout, exactly one line on stderr matching `pattern`. */
function inputError(run: ReturnType<typeof cli>, pattern: RegExp): void {
  assert.equal(run.status, 2, `${run.stdout}\n${run.stderr}`);
  assert.equal(run.stdout, '');
  const lines = run.stderr.split('\n');
  assert.equal(lines.length, 2, run.stderr);
  assert.equal(lines[1], '');
  assert.match(lines[0], /^optax-ts: /);
  assert.match(lines[0], pattern);
}

/**
 * A file that cannot be run: exit 2, its error on one stderr line matching `pattern`, one FAIL line
 * for it on stdout, the other files run, and the summary (`summary`) still the last line.
 */
function fileError(run: ReturnType<typeof cli>, pattern: RegExp, summary: string): void {
  assert.equal(run.status, 2, `${run.stdout}\n${run.stderr}`);
  const errors = run.stderr.split('\n').filter((l) => l !== '');
  assert.equal(errors.length, 1, run.stderr);
  assert.match(errors[0], /^optax-ts: /);
  assert.match(errors[0], pattern);
  const lines = run.stdout.trim().split('\n');
  assert.equal(lines.at(-1), summary);
  const failed = lines.filter((l) => /^FAIL  .*  \[file\]  /.test(l));
  assert.equal(failed.length, 1, run.stdout);
  assert.match(failed[0], pattern);
}

test('exit 0 when every case passes, 1 when one fails; one line per case and the summary last', () => {
  const good = cli('conformance', file(small()));
  assert.equal(good.status, 0, good.stderr);
  assert.equal(good.stderr, '');
  const lines = good.stdout.trim().split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^PASS  public_f64\/doc_example_quadratic  \[trajectory\]  bit-identical 100\.00% .* worst 0 ulp$/);
  assert.equal(lines.at(-1), '3 passed, 0 failed');
  const f = small();
  const b = Buffer.from(f.cases[1].steps[0].params.b.b64, 'base64');
  b[0] ^= 1;
  f.cases[1].steps[0].params.b.b64 = b.toString('base64');
  const bad = cli('conformance', file(f));
  assert.equal(bad.status, 1);
  assert.equal(bad.stdout.trim().split('\n').at(-1), '2 passed, 1 failed');
});

test('--help and --version', () => {
  const help = cli('--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: optax-ts conformance \[OPTIONS\]/);
  assert.match(help.stdout, /--engine/);
  assert.match(help.stdout, /--max-bytes N/);
  assert.equal(cli('conformance', '--help').stdout, help.stdout);
  const version = cli('--version');
  assert.equal(version.status, 0);
  assert.equal(version.stdout, `optax-ts ${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}\n`);
});

test('usage errors exit 2 with one line: no command, unknown command, unknown flag (never taken for a file)', () => {
  inputError(cli(), /no command given/);
  inputError(cli('conform'), /unknown command 'conform'/);
  inputError(cli('conformance', '--fast', file(small())), /unknown option '--fast'/);
  inputError(cli('conformance', '--max-bytes', 'huge'), /--max-bytes takes a size/);
  // After --, a name starting with '-' is a file.
  writeFileSync(join(dir, '-odd.json'), JSON.stringify(small(1)));
  assert.equal(cli('conformance', '--', '-odd.json').status, 0);
});

test('missing, unreadable and directory inputs: exit 2, one FAIL line each, the other files still run, the summary last', () => {
  const good = file(small(1));
  fileError(cli('conformance', good, join(dir, 'missing.json')), /missing\.json: cannot open: no such file$/, '1 passed, 1 failed');
  fileError(cli('conformance', dir), /: is a directory$/, '0 passed, 1 failed');
  if (process.getuid?.() !== 0) { // root reads anything
    const locked = file(small(1));
    chmodSync(locked, 0o000);
    fileError(cli('conformance', locked), /cannot open: permission denied$/, '0 passed, 1 failed');
  }
});

test('the input cap: /dev/zero and oversized files are rejected without reading them; --max-bytes raises it', () => {
  fileError(cli('conformance', '/dev/zero'), /\/dev\/zero: not a JSON object/, '0 passed, 1 failed');
  const sparse = join(dir, 'sparse.json');
  writeFileSync(sparse, '{');
  truncateSync(sparse, DEFAULT_MAX_BYTES + 1); // a sparse file: nothing to read, all in the size
  fileError(cli('conformance', sparse), new RegExp(`larger than the input limit of ${DEFAULT_MAX_BYTES} bytes \\(raise it with --max-bytes\\)`), '0 passed, 1 failed');
  const ok = file(small(1));
  fileError(cli('conformance', '--max-bytes', '100', ok), /larger than the input limit of 100 bytes/, '0 passed, 1 failed');
  assert.equal(cli('conformance', '--max-bytes=1GiB', ok).status, 0);
  // A stream with no size (a FIFO, /proc) is read in chunks up to the cap.
  const pipe = spawnSync('sh', ['-c', `yes ' ' | head -c 5000 | ${JSON.stringify(bin)} conformance --max-bytes 4096 /dev/stdin`], { encoding: 'utf8' });
  assert.equal(pipe.status, 2, pipe.stderr);
  assert.match(pipe.stderr, /larger than the input limit of 4096 bytes/);
  assert.equal(pipe.stdout.trim().split('\n').at(-1), '0 passed, 1 failed');
});

test('malformed files: exit 2 with the JSON path of the problem, the valid files still run, the summary last', () => {
  const cases: [unknown, RegExp][] = [
    ['{"format": ', /not valid JSON/],
    [new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]), /not valid UTF-8/],
    ['[1, 2]', /not a JSON object/],
    [{ format: 'adamax-goldens/1', cases: [] }, /\$\.cases: the file has no cases$/],
    [{ format: 'adamax-goldens/1' }, /\$\.cases: expected a list, got nothing|\$\.cases: expected a list/],
    [{ format: 'adamax-goldens/9', cases: small(1).cases }, /\$\.format: expected "adamax-goldens\/1"/],
    [{ ...small(1), dtype: 'float16' }, /\$\.dtype: expected "float32" or "float64"/],
  ];
  const mutate = (edit: (f: any) => void) => { const f = small(2); edit(f); return f; };
  cases.push(
    [mutate((f) => { f.cases[1] = 'case'; }), /\$\.cases\[1\]: expected an object, got the string "case"/],
    [mutate((f) => { f.cases[1].name = ''; }), /\$\.cases\[1\]\.name: expected a non-empty name/],
    [mutate((f) => { delete f.cases[0].steps; }), /\$\.cases\[0\]\.steps: missing/],
    [mutate((f) => { f.cases[1].steps[0].grads.b.b64 = 'not base64!'; }), /\$\.cases\[1\]\.steps\[0\]\.grads\.b\.b64: not valid base64/],
    [mutate((f) => { f.cases[1].steps[0].grads.b.shape = [1000]; }), /\$\.cases\[1\]\.steps\[0\]\.grads\.b\.b64: \d+ bytes, but shape \[1000\] float64 needs 8000/],
    [mutate((f) => { f.cases[1].steps[0].grads.b.shape = [-1]; }), /grads\.b\.shape\[0\]: expected a dimension/],
    [mutate((f) => { f.cases[1].steps[0].grads.b.$array = 'bfloat16'; }), /grads\.b\.\$array: expected "float32", "float64" or "int32"/],
    [mutate((f) => { f.cases[1].optimizer = { args: {} }; }), /\$\.cases\[1\]\.optimizer\.name: expected a string, got nothing|optimizer\.name: expected a string/],
    [mutate((f) => { f.cases[1].initial_count = 2 ** 31; }), /\$\.cases\[1\]\.initial_count: expected an int32 integer/],
    [mutate((f) => { let t: any = null; for (let i = 0; i <= MAX_FILE_DEPTH + 5; i++) t = [t]; f.cases[1].params = t; }), /nested deeper than 256 levels/],
    [mutate((f) => { f.cases[1].steps[0]['grads'] = { 'we\u001bird\nkey': 3 }; }), /\$\.cases\[1\]\.steps\[0\]\.grads\["we\\\\u001bird\\\\nkey"\]: expected an array tree/],
  );
  for (const [content, pattern] of cases) fileError(cli('conformance', file(small(1)), file(content)), pattern, '1 passed, 1 failed');
});

test('a vectors file cannot forge PASS lines, a summary or terminal escapes', () => {
  const f = small(2);
  f.set = 'set\r\x1b[2K';
  f.cases[0].name = 'x\nPASS  forged/case  [trajectory]  bit-identical 100.00% (1/1)  worst 0 ulp\n99 passed, 0 failed';
  f.cases[1].name = 'y\u202e\x07';
  f.cases[1].optimizer = { name: 'lion\n0 passed, 0 failed\x1b]0;pwned\x07', args: {} };
  const run = cli('conformance', file(f));
  assert.equal(run.status, 1);
  const lines = run.stdout.split('\n');
  assert.equal(lines.length, 4); // two cases, the summary, and the final newline
  assert.doesNotMatch(run.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
  assert.ok(lines[0].startsWith('PASS  set\\r\\x1b[2K/x\\nPASS  forged/case'), lines[0]);
  assert.ok(lines[1].startsWith('FAIL  set\\r\\x1b[2K/y\\u202e\\x07  [trajectory]'), lines[1]);
  assert.match(lines[1], /transformation 'lion\\n0 passed, 0 failed\\x1b\]0;pwned\\x07' is not available/);
  assert.equal(lines[2], '1 passed, 1 failed');
});

test('--engine: every trajectory case also runs through compile() on each backend, each line saying which ran', () => {
  const f = shipped('public_f32.json');
  const pick = ['doc_example_quadratic', 'adamax_defaults_tree', 'multisteps_every_3_adamax', 'adamax_lr_schedule_warmup_cosine'];
  f.cases = f.cases.filter((c: any) => pick.includes(c.name) || c.kind === 'schedule').slice(0, 6);
  const trajectories = f.cases.filter((c: any) => c.kind === 'trajectory').length;
  assert.ok(trajectories >= 3);
  const run = cli('conformance', '--engine', file(f));
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const lines = run.stdout.trim().split('\n');
  const engineLines = lines.filter((l) => /\]  engine /.test(l));
  assert.equal(engineLines.length, trajectories * 4); // wasm 1 and 2 threads, js, interpreter
  assert.equal(lines.at(-1), `${lines.length - 1} passed, 0 failed`);
  for (const l of engineLines) assert.match(l, /^PASS  public_f32\/\S+  \[trajectory\]  engine (wasm, [12] threads?|js, 1 thread|interpreter|reference \(asked [^:]+: .+\))  bit-identical 100\.00%/);
  const quadratic = engineLines.filter((l) => l.includes('/doc_example_quadratic '));
  assert.deepEqual(quadratic.map((l) => /engine ([^ ]+(?: \d threads?)?)/.exec(l)![1]), ['wasm, 1 thread', 'wasm, 2 threads', 'js, 1 thread', 'interpreter']);
  // The engine is held to the vectors too: a corrupted param fails on every backend.
  const one = { ...f, cases: [structuredClone(f.cases.find((c: any) => c.name === 'doc_example_quadratic'))] };
  const leaf = one.cases[0].steps[2].params;
  const key = Object.keys(leaf)[0];
  const target = leaf.$array ? leaf : leaf[key];
  const bytes = Buffer.from(target.b64, 'base64');
  bytes[0] ^= 1;
  target.b64 = bytes.toString('base64');
  const bad = cli('conformance', '--engine', file(one));
  assert.equal(bad.status, 1);
  assert.equal(bad.stdout.trim().split('\n').at(-1), '0 passed, 5 failed');
});

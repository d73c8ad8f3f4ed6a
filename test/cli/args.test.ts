import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFORMANCE_FLAGS, UsageError, parseArgs, parseByteSize, usage } from '../../src/cli/args.js';
import { DEFAULT_MAX_BYTES } from '../../src/cli/read-input.js';

const usageError = (argv: string[], pattern: RegExp) => assert.throws(() => parseArgs(argv), (e: unknown) => e instanceof UsageError && pattern.test(e.message));

test('conformance: files, flags anywhere, -- ends the options', () => {
  assert.deepEqual(parseArgs(['conformance']), { kind: 'conformance', options: { engine: false, checkpointRoundtrip: false, maxBytes: DEFAULT_MAX_BYTES, files: [] } });
  assert.deepEqual(parseArgs(['conformance', 'a.json', '--engine', 'b.json']), { kind: 'conformance', options: { engine: true, checkpointRoundtrip: false, maxBytes: DEFAULT_MAX_BYTES, files: ['a.json', 'b.json'] } });
  assert.deepEqual(parseArgs(['conformance', '--max-bytes', '1MiB', '--', '--engine', '-x.json']), { kind: 'conformance', options: { engine: false, checkpointRoundtrip: false, maxBytes: 1 << 20, files: ['--engine', '-x.json'] } });
  assert.equal((parseArgs(['conformance', '--max-bytes=2048']) as any).options.maxBytes, 2048);
  assert.equal((parseArgs(['conformance', '--checkpoint-roundtrip', '--engine']) as any).options.checkpointRoundtrip, true);
});

test('help and version, at the top or after the command', () => {
  for (const argv of [['--help'], ['-h'], ['help'], ['conformance', '--help'], ['conformance', 'x.json', '-h']]) assert.equal(parseArgs(argv).kind, 'help');
  for (const argv of [['--version'], ['-V'], ['conformance', '--version']]) assert.equal(parseArgs(argv).kind, 'version');
  const text = usage();
  for (const name of Object.keys(CONFORMANCE_FLAGS)) assert.ok(text.includes(name), name);
  assert.match(text, /Exit status: 0 every case passed; 1 a case failed; 2 usage or input error/);
});

test('usage errors: no command, unknown command, unknown option, missing or bad values', () => {
  usageError([], /no command given/);
  usageError(['conformence'], /unknown command 'conformence'/);
  usageError(['conformance', '--bogus'], /unknown option '--bogus'/);
  usageError(['conformance', '-'], /unknown option '-'/);
  usageError(['conformance', '--engine=yes'], /--engine takes no value/);
  usageError(['conformance', '--max-bytes'], /--max-bytes needs a value/);
  usageError(['conformance', '--max-bytes', 'lots'], /--max-bytes takes a size in bytes/);
  usageError(['conformance', '--constructor'], /unknown option/);
  usageError(['conformance', '--__proto__'], /unknown option/);
});

test('byte sizes', () => {
  assert.equal(parseByteSize('1000'), 1000);
  assert.equal(parseByteSize('512MiB'), 512 * 2 ** 20);
  assert.equal(parseByteSize('1g'), 2 ** 30);
  assert.equal(parseByteSize('4KB'), 4096);
  for (const bad of ['0', '-1', '1.5M', '1T', '', '99999999999999999999']) assert.throws(() => parseByteSize(bad), UsageError, bad);
});

// `npm run docs`: the API reference from the TSDoc comments, with TypeDoc, warnings treated as errors
// (typedoc.json). TypeDoc and the TypeScript 5 it needs live in this folder's own lockfile, installed
// here on first use, so the project's compiler stays TypeScript 7.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
if (!existsSync(join(here, 'node_modules', 'typedoc'))) {
  execFileSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: here, stdio: 'inherit' });
}
execFileSync(process.execPath, [join(here, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--options', join(root, 'typedoc.json'), ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });

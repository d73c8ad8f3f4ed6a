/**
 * Type-checks example blocks as a user of the package would compile them: strict TypeScript, ESM,
 * `'optax-ts'` resolved to the sources (`paths`), one module per block, in one `tsc` run.
 *
 * Running an example (tsx strips types without checking them) does not tell whether it compiles: an
 * example that runs but fails `tsc --strict` is still a broken example for whoever pastes it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A type error in a block. */
export interface TypeProblem {
  /** 1-based line of the block. */
  readonly line: number;
  readonly column: number;
  /** `TS2345: Argument of type ...` (first line of the message). */
  readonly message: string;
}

/** Type errors by block id; `failure` is set when tsc itself could not run or gave unreadable output. */
export interface TypecheckResult {
  readonly problems: ReadonlyMap<number, readonly TypeProblem[]>;
  readonly failure?: string;
}

/**
 * Type-checks `blocks` (id, original code) against the sources at `root`; `'optax-ts'` resolves to
 * `entry` (default `src/index.ts`).
 */
export async function typecheckBlocks(root: string, blocks: readonly { id: number; code: string }[], entry = join(root, 'src/index.ts')): Promise<TypecheckResult> {
  const dir = mkdtempSync(join(tmpdir(), 'optax-ts-doctest-tsc-'));
  try {
    const files = blocks.map((b) => {
      const file = join(dir, `block-${b.id}.mts`);
      // `export {}` keeps a block without imports a module (no clashes between blocks' names).
      writeFileSync(file, `${b.code}\nexport {};\n`);
      return file;
    });
    // The optional peers' packages that examples of adapter subpaths import resolve from the repository's node_modules.
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022', 'DOM'],
        strict: true,
        noEmit: true,
        allowImportingTsExtensions: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
        // A subpath is a module (src/<sub>.ts) or a folder with an index (src/<sub>/index.ts), as the runner resolves it.
        paths: { 'optax-ts': [entry], 'optax-ts/*': [join(root, 'src/*'), join(root, 'src/*/index.ts')] },
      },
      files,
    }));
    // typescript's package "exports" hide bin/tsc from require.resolve; its package.json is exported.
    const tsc = join(dirname(createRequire(join(root, 'package.json')).resolve('typescript/package.json')), 'bin/tsc');
    const { code, output } = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], root);
    const problems = new Map<number, TypeProblem[]>();
    // block-12.mts(3,5): error TS2345: Argument of type ...
    const pattern = /block-(\d+)\.mts\((\d+),(\d+)\): error (TS\d+: .*)/g;
    let found = 0;
    for (const m of output.matchAll(pattern)) {
      found++;
      const id = Number(m[1]);
      problems.set(id, [...(problems.get(id) ?? []), { line: Number(m[2]), column: Number(m[3]), message: m[4] }]);
    }
    // Errors in the sources themselves (work in progress elsewhere) are not the examples' problem; tsc
    // failing without any readable error is.
    const failure = code !== 0 && found === 0 && !/\): error TS\d+/.test(output) ? `tsc exited with ${code}:\n${output.slice(0, 2000)}` : undefined;
    return { problems, failure };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(command: string, args: readonly string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { output += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { output += c; });
    child.on('error', (error) => resolve({ code: -1, output: String(error) }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

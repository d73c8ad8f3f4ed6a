/**
 * The optional peer dependencies' packages, which examples of the adapter subpaths import
 * (`optax-ts/tfjs` needs TensorFlow.js): every package of a peer's npm scope (`@tensorflow/tfjs`,
 * `@tensorflow/tfjs-layers`, ... for the peer `@tensorflow/tfjs-core`), or an unscoped peer itself.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The scopes (`@tensorflow/`) and unscoped names of package.json's peerDependencies. */
export function peerPackages(root: string): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { peerDependencies?: Record<string, string> };
  return [...new Set(Object.keys(pkg.peerDependencies ?? {}).map((name) => (name.startsWith('@') ? `${name.split('/')[0]}/` : name)))];
}

/** True when `specifier` names a package (or a file of one) of `peers`. */
export function isPeerSpecifier(specifier: string, peers: readonly string[]): boolean {
  return peers.some((p) => (p.endsWith('/') ? specifier.startsWith(p) : specifier === p || specifier.startsWith(`${p}/`)));
}

/**
 * Lists the public surface of the package — every name exported by `src/index.ts`, following
 * `export * from`, `export { a as b } from`, and local `import`/`export { }` re-exports — and finds the
 * declaration and TSDoc comment of each, so the doc tests can check that each is documented.
 *
 * Reading the statements with a lexer rather than the TypeScript API keeps this independent of the
 * compiler's (unstable, in TypeScript 7) programmatic interface; the export forms it understands are the
 * ones this code base uses.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { docComments, sourceFiles, type DocComment } from './extract.js';
import { lineIndex, scanSpans } from './scan.js';

/** What a public name is declared as. */
export type DeclarationKind = 'function' | 'class' | 'const' | 'let' | 'var' | 'enum' | 'namespace' | 'interface' | 'type';

/** One public name and where it is documented. */
export interface PublicExport {
  /** The name users import. */
  readonly name: string;
  /** The name it is declared with (differs for `export { a as b }`). */
  readonly declaredName: string;
  /** 'type' for interfaces, type aliases and names exported with `export type`; otherwise 'value'. */
  readonly kind: 'value' | 'type';
  /** Undefined when the declaration could not be found (reported as a problem by the doc test). */
  readonly declaration?: {
    readonly kind: DeclarationKind;
    /** Repository-relative path. */
    readonly file: string;
    readonly line: number;
    /** The TSDoc comment right above the declaration, if any. */
    readonly doc?: DocComment;
  };
}

const DECLARATION = /\bexport\s+(?:declare\s+)?(?:default\s+)?(?:abstract\s+)?(?:async\s+)?(?:const\s+(?=enum\b))?(function\s*\*?|class|const|let|var|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)/g;
const NAMED_EXPORT = /\bexport\s+(type\s+)?\{([^}]*)\}(?:\s*from\s*(['"])([^'"]+)\3)?/g;
const STAR_EXPORT = /\bexport\s*\*\s*(?:as\s+([A-Za-z_$][\w$]*)\s*)?from\s*(['"])([^'"]+)\2/g;
const NAMED_IMPORT = /\bimport\s+(?:type\s+)?(?:[A-Za-z_$][\w$]*\s*,\s*)?\{([^}]*)\}\s*from\s*(['"])([^'"]+)\2/g;

interface ParsedModule {
  readonly path: string;
  readonly src: string;
  /** The source with comments, templates and regexes blanked out (strings kept: they are specifiers). */
  readonly code: string;
  readonly docs: readonly DocComment[];
  readonly line: (offset: number) => number;
}

interface Target { readonly kind: DeclarationKind; readonly module: ParsedModule; readonly offset: number; readonly name: string }

/** Every public export of the module `entry` (a path relative to `root`, e.g. `src/index.ts`), sorted by name. */
export function publicExports(root: string, entry: string): PublicExport[] {
  const cache = new Map<string, ParsedModule>();
  const load = (path: string): ParsedModule => {
    let m = cache.get(path);
    if (!m) {
      const src = readFileSync(path, 'utf8');
      let code = src;
      for (const s of scanSpans(src)) {
        if (s.kind !== 'string') code = code.slice(0, s.start) + code.slice(s.start, s.end).replace(/[^\n]/g, ' ') + code.slice(s.end);
      }
      m = { path, src, code, docs: docComments(src), line: lineIndex(src) };
      cache.set(path, m);
    }
    return m;
  };

  const result = new Map<string, PublicExport>();
  const entryModule = load(join(root, entry));
  for (const [name, typeOnly] of exportedNames(entryModule, load, new Set())) {
    const target = resolveExport(entryModule, name, load, new Set());
    const kind = typeOnly || !target || target.kind === 'interface' || target.kind === 'type' ? 'type' : 'value';
    result.set(name, {
      name,
      declaredName: target?.name ?? name,
      kind: target ? kind : typeOnly ? 'type' : 'value',
      declaration: target && {
        kind: target.kind,
        file: relative(root, target.module.path).split('\\').join('/'),
        line: target.module.line(target.offset),
        doc: docAbove(target.module, target.offset),
      },
    });
  }
  return [...result.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// Names exported by a module, with whether each is exported as a type only.
function exportedNames(m: ParsedModule, load: (p: string) => ParsedModule, seen: Set<string>): Map<string, boolean> {
  const names = new Map<string, boolean>();
  if (seen.has(m.path)) return names;
  seen.add(m.path);
  for (const d of m.code.matchAll(DECLARATION)) names.set(d[2], false);
  for (const e of m.code.matchAll(NAMED_EXPORT)) {
    for (const spec of specifiers(e[2])) names.set(spec.exported, Boolean(e[1]) || spec.typeOnly);
  }
  for (const s of m.code.matchAll(STAR_EXPORT)) {
    if (s[1]) { names.set(s[1], false); continue; }
    const target = resolveModule(m.path, s[3]);
    if (!target) continue;
    for (const [name, typeOnly] of exportedNames(load(target), load, seen)) if (name !== 'default' && !names.has(name)) names.set(name, typeOnly);
  }
  return names;
}

// Where the export `name` of module m is declared.
function resolveExport(m: ParsedModule, name: string, load: (p: string) => ParsedModule, seen: Set<string>): Target | undefined {
  const key = `${m.path}#${name}`;
  if (seen.has(key)) return undefined;
  seen.add(key);
  for (const d of m.code.matchAll(DECLARATION)) {
    if (d[2] === name) return { kind: declarationKind(d[1]), module: m, offset: d.index!, name };
  }
  for (const e of m.code.matchAll(NAMED_EXPORT)) {
    const spec = specifiers(e[2]).find((s) => s.exported === name);
    if (!spec) continue;
    if (e[4]) {
      const target = resolveModule(m.path, e[4]);
      return target ? resolveExport(load(target), spec.local, load, seen) : undefined;
    }
    return resolveLocal(m, spec.local, load, seen);
  }
  for (const s of m.code.matchAll(STAR_EXPORT)) {
    if (s[1] === name) return { kind: 'namespace', module: m, offset: s.index!, name };
    const target = s[1] ? undefined : resolveModule(m.path, s[3]);
    const found = target && resolveExport(load(target), name, load, seen);
    if (found) return found;
  }
  return undefined;
}

// A name that is declared or imported in m, then exported with `export { name }`.
function resolveLocal(m: ParsedModule, local: string, load: (p: string) => ParsedModule, seen: Set<string>): Target | undefined {
  const decl = new RegExp(`(?:^|[\\n;])[ \\t]*(?:declare\\s+)?(?:abstract\\s+)?(?:async\\s+)?(function\\s*\\*?|class|const|let|var|interface|type|enum|namespace)\\s+${local.replace(/\$/g, '\\$')}\\b`);
  const d = decl.exec(m.code);
  if (d) return { kind: declarationKind(d[1]), module: m, offset: d.index + d[0].search(/\S/), name: local };
  for (const i of m.code.matchAll(NAMED_IMPORT)) {
    const spec = specifiers(i[1]).find((s) => s.exported === local);
    const target = spec && resolveModule(m.path, i[3]);
    if (spec && target) return resolveExport(load(target), spec.local, load, seen);
  }
  return undefined;
}

// `a, type B, c as d` -> [{local: a, exported: a}, {local: B, exported: B, typeOnly}, {local: c, exported: d}]
function specifiers(list: string): { local: string; exported: string; typeOnly: boolean }[] {
  return list.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const typeOnly = /^type\s+/.test(s);
    const [local, exported] = s.replace(/^type\s+/, '').split(/\s+as\s+/).map((x) => x.trim());
    return { local, exported: exported ?? local, typeOnly };
  });
}

function declarationKind(keyword: string): DeclarationKind {
  return (keyword.startsWith('function') ? 'function' : keyword) as DeclarationKind;
}

// './x.js' from src/a/b.ts -> src/a/x.ts (or x/index.ts); undefined for packages and missing files.
function resolveModule(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = join(dirname(from), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`, join(base, 'index.ts'), base];
  return candidates.find((c) => existsSync(c) && c.endsWith('ts'));
}

// The doc comment ending right before `offset` (only whitespace in between).
function docAbove(m: ParsedModule, offset: number): DocComment | undefined {
  const doc = m.docs.filter((d) => d.end <= offset).at(-1);
  return doc && /^\s*$/.test(m.src.slice(doc.end, offset)) ? doc : undefined;
}

/**
 * Where each name exported by a declaration (`export function f`, `export class C`, ...) anywhere under
 * `src/` is declared, as `file:line`: lets a failing example say that the name it imports exists but is
 * not exported from src/index.ts yet.
 */
export function declarationSites(root: string): Map<string, string[]> {
  const sites = new Map<string, string[]>();
  for (const file of sourceFiles(root, 'src')) {
    const src = readFileSync(join(root, file), 'utf8');
    let code = src;
    for (const s of scanSpans(src)) code = code.slice(0, s.start) + code.slice(s.start, s.end).replace(/[^\n]/g, ' ') + code.slice(s.end);
    const line = lineIndex(src);
    for (const d of code.matchAll(DECLARATION)) sites.set(d[2], [...(sites.get(d[2]) ?? []), `${file}:${line(d.index!)}`]);
  }
  return sites;
}

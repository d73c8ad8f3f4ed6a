import { ByteWriter } from './encoder.js';
import type { FunctionBuilder } from './function-builder.js';
import { ExternalKind, FUNC_TYPE, Section, type ValType } from './opcodes.js';

/**
 * Assembles a WebAssembly module that imports one memory (`env.memory`), possibly some functions, and
 * exports functions. This is all the module structure the kernels need: no tables, globals, data or
 * start function.
 */

/** The largest memory of a 32-bit WebAssembly module: 65536 pages of 64 KiB (4 GiB). */
export const MAX_PAGES = 65536;

/** The most parameters a WebAssembly function may have in the JS API (V8, SpiderMonkey and JSC agree). */
export const MAX_FUNCTION_PARAMS = 1000;

/**
 * How the module imports `env.memory`. The `WebAssembly.Memory` given at instantiation must match:
 * shared exactly when `shared`, at least `initialPages` pages now, and a declared maximum of at most
 * `maximumPages` (a memory created without `maximum` cannot be imported).
 */
export interface MemoryImportOptions {
  /** Import a shared memory (`new WebAssembly.Memory({ shared: true, ... })`), for worker threads. */
  readonly shared: boolean;
  /** Minimum size in 64 KiB pages the module requires. Default 0 (any current size). */
  readonly initialPages?: number;
  /** Declared maximum size in pages (1..65536); the memory's own maximum must not exceed it. */
  readonly maximumPages: number;
}

/** Checks memory options and fills the default; throws a RangeError on impossible limits. */
export function resolveMemoryOptions(options: MemoryImportOptions): Required<MemoryImportOptions> {
  const initialPages = options.initialPages ?? 0;
  const { maximumPages, shared } = options;
  if (!Number.isInteger(maximumPages) || maximumPages < 1 || maximumPages > MAX_PAGES) {
    throw new RangeError(`maximumPages must be an integer in [1, ${MAX_PAGES}], got ${maximumPages}`);
  }
  if (!Number.isInteger(initialPages) || initialPages < 0 || initialPages > maximumPages) {
    throw new RangeError(`initialPages must be an integer in [0, maximumPages=${maximumPages}], got ${initialPages}`);
  }
  return { shared, initialPages, maximumPages };
}

/** A function the module imports (called with `call`, whose index is its position in the list). */
export interface FunctionImport {
  readonly module: string;
  readonly name: string;
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

function section(out: ByteWriter, id: number, content: ByteWriter): void {
  out.byte(id).sized(content);
}

/**
 * The binary module: `env.memory` imported, then the `functionImports` (function indices `0 ..
 * functionImports.length - 1`), each of `functions` (the following indices) exported under its name.
 */
export function assembleModule(memoryOptions: MemoryImportOptions, functions: readonly FunctionBuilder[], functionImports: readonly FunctionImport[] = []): Uint8Array<ArrayBuffer> {
  const memory = resolveMemoryOptions(memoryOptions);
  const out = new ByteWriter();
  out.bytes([0x00, 0x61, 0x73, 0x6d]); // "\0asm"
  out.bytes([0x01, 0x00, 0x00, 0x00]); // version 1

  // One type per function, imported ones first (the kernels have few functions; no deduplication needed).
  const signatures = [...functionImports, ...functions];
  const types = new ByteWriter().u32(signatures.length);
  for (const f of signatures) {
    types.byte(FUNC_TYPE).u32(f.params.length).bytes(f.params).u32(f.results.length).bytes(f.results);
  }
  section(out, Section.type, types);

  // Limits flags: 0x01 = min and max, 0x03 = min, max and shared.
  const imports = new ByteWriter().u32(1 + functionImports.length).name('env').name('memory').byte(ExternalKind.memory);
  imports.byte(memory.shared ? 0x03 : 0x01).u32(memory.initialPages).u32(memory.maximumPages);
  functionImports.forEach((g, i) => imports.name(g.module).name(g.name).byte(ExternalKind.function).u32(i));
  section(out, Section.import, imports);

  const first = functionImports.length;
  const declarations = new ByteWriter().u32(functions.length);
  functions.forEach((_, i) => declarations.u32(first + i));
  section(out, Section.function, declarations);

  const exports = new ByteWriter().u32(functions.length);
  functions.forEach((f, i) => exports.name(f.name).byte(ExternalKind.function).u32(first + i));
  section(out, Section.export, exports);

  const code = new ByteWriter().u32(functions.length);
  for (const f of functions) code.sized(f.encodeBody());
  section(out, Section.code, code);
  return out.toBytes();
}

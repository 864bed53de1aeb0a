/**
 * Validation and load-time rewriting of a wasm@1.0 module (runs on the compiler thread,
 * because the probe instantiation after it runs the module's start function). The rewrite
 * (1) exports every mutable global under a reserved name, so the host can snapshot and
 * restore state the module keeps in non-exported globals (AssemblyScript's heap pointer),
 * and (2) caps the memory maximum at the configured limit, so `memory.grow` past it returns
 * -1 inside the module, with WebAssembly's own semantics. It edits the binary at the level of
 * sections (module-binary.ts) and never decodes code or names, so any module WebAssembly
 * accepts is either prepared or refused for a reason of the ABI.
 */
import { createHash } from "node:crypto";
import {
  EXTERNAL,
  SECTION,
  UnsupportedEncoding,
  VALUE_TYPE_CODE,
  editSections,
  encodeName,
  leb128,
  readOutline,
  type FunctionType,
  type ModuleOutline,
} from "./module-binary.js";
import type { ModuleLayout } from "./protocol.js";

/** A module that is not acceptable: becomes INVALID_ARGUMENT at Spawn. */
export class InvalidModuleError extends Error {
  override name = "InvalidModuleError";
}

/** Export names starting with this are the host's; a module may not use them. */
export const RESERVED_PREFIX = "__pw_";

/** The only import offered. */
export const ABORT_IMPORT = { module: "env", name: "abort" } as const;

/** Checks `bytes` against the ABI and returns the rewritten, compiled module. Throws
 * InvalidModuleError with a message a module author can act on. */
export function prepareModule(
  bytes: Uint8Array,
  maxPages: number,
): { module: WebAssembly.Module; layout: ModuleLayout } {
  let original: WebAssembly.Module;
  try {
    original = new WebAssembly.Module(bytes);
  } catch (err) {
    throw new InvalidModuleError(`not a valid WebAssembly module: ${(err as Error).message}`);
  }
  checkImportsAndExports(original);
  let outline: ModuleOutline;
  try {
    outline = readOutline(bytes);
  } catch (err) {
    if (!(err instanceof UnsupportedEncoding)) throw err;
    throw new InvalidModuleError(`it uses a WebAssembly feature the device does not support: ${err.message}`);
  }
  const { rewritten, layout } = rewrite(bytes, outline, maxPages);
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(rewritten);
  } catch (err) {
    throw new Error(`the rewritten module does not compile: ${(err as Error).message}`);
  }
  return { module, layout };
}

function checkImportsAndExports(module: WebAssembly.Module): void {
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module !== ABORT_IMPORT.module || imp.name !== ABORT_IMPORT.name || imp.kind !== "function") {
      throw new InvalidModuleError(
        `module imports ${imp.module}.${imp.name} (${imp.kind}); the only import offered is env.abort(i32, i32, i32, i32)`,
      );
    }
  }
  const exports = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  for (const name of exports.keys()) {
    if (name.startsWith(RESERVED_PREFIX)) {
      throw new InvalidModuleError(`export ${name}: names starting with ${RESERVED_PREFIX} are reserved`);
    }
  }
  if (exports.get("memory") !== "memory") {
    throw new InvalidModuleError('module does not export its memory as "memory"');
  }
  for (const name of ["pw_alloc", "pw_handle"]) {
    if (!exports.has(name)) throw new InvalidModuleError(`module does not export ${name}`);
  }
  for (const name of ["pw_alloc", "pw_handle", "pw_init"]) {
    const kind = exports.get(name);
    if (kind !== undefined && kind !== "function") {
      throw new InvalidModuleError(`export ${name} is a ${kind}, not a function`);
    }
  }
}

const SIGNATURES: Record<string, FunctionType> = {
  pw_alloc: { params: ["i32"], results: ["i32"] },
  pw_handle: { params: ["i32", "i32"], results: ["i64"] },
  pw_init: { params: ["i32", "i32"], results: ["i64"] },
};
const ABORT_SIGNATURE: FunctionType = { params: ["i32", "i32", "i32", "i32"], results: [] };

const show = (t: FunctionType): string => `(${t.params.join(", ")}) -> (${t.results.join(", ")})`;

/**
 * The rewrite: every mutable global exported under a reserved name (f32/f64 through
 * accessor functions appended to the module, moving raw bits), the memory's maximum set to
 * min(declared, limit), custom sections dropped. Nothing else of the module changes: new
 * types and functions go after the existing ones, so no index in the code moves.
 */
function rewrite(
  bytes: Uint8Array,
  outline: ModuleOutline,
  maxPages: number,
): { rewritten: Uint8Array; layout: ModuleLayout } {
  const typeOf = (fn: number): FunctionType => {
    const imported = outline.importedFunctions[fn];
    const index = imported ? imported.type : outline.functions[fn - outline.importedFunctions.length];
    const type = index === undefined ? undefined : outline.types[index];
    if (type === undefined) throw new InvalidModuleError(`function ${fn} has no type`);
    return type;
  };
  for (const imported of outline.importedFunctions) {
    const got = outline.types[imported.type];
    if (got === undefined || show(got) !== show(ABORT_SIGNATURE)) {
      const shown = got ? show(got) : "unknown";
      throw new InvalidModuleError(`import env.abort has type ${shown}; want ${show(ABORT_SIGNATURE)}`);
    }
  }
  let hasInit = false;
  for (const entry of outline.exports) {
    const want = SIGNATURES[entry.name];
    if (want && entry.kind === EXTERNAL.function) {
      const got = typeOf(entry.index);
      if (show(got) !== show(want)) {
        throw new InvalidModuleError(`export ${entry.name} has type ${show(got)}; want ${show(want)}`);
      }
      if (entry.name === "pw_init") hasInit = true;
    }
  }

  if (outline.importedMemories > 0 || outline.memories.length !== 1) {
    throw new InvalidModuleError("a module has exactly one memory, its own (multiple memories are not supported)");
  }
  const memory = outline.memories[0]!;
  if (memory.shared) throw new InvalidModuleError("shared memories are not supported");
  if (memory.is64) throw new InvalidModuleError("64-bit memories are not supported");
  if (memory.initial > maxPages) {
    throw new InvalidModuleError(
      `module needs ${memory.initial} memory pages at start; the limit (wasm_max_memory_mib) allows ${maxPages}`,
    );
  }
  const cap = Math.min(memory.maximum ?? maxPages, maxPages);

  const globals: ModuleLayout["globals"] = [];
  const newTypes: number[] = [];
  const newFunctions: number[] = [];
  const newBodies: number[] = [];
  const newExports: number[] = [];
  let typeCount = 0;
  let functionCount = 0;
  let exportCount = 0;
  const firstNewType = outline.types.length;
  const firstNewFunction = outline.importedFunctions.length + outline.functions.length;
  /** Appends a function of type (params) -> (results) with `code` (without its `end`), exported as `name`. */
  const addFunction = (name: string, params: number[], results: number[], code: number[]): void => {
    newTypes.push(0x60, ...leb128(params.length), ...params, ...leb128(results.length), ...results);
    newFunctions.push(...leb128(firstNewType + typeCount++));
    const body = [0x00, ...code, 0x0b]; // no locals
    newBodies.push(...leb128(body.length), ...body);
    newExports.push(...encodeName(name), EXTERNAL.function, ...leb128(firstNewFunction + functionCount++));
    exportCount++;
  };
  outline.globals.forEach((global, i) => {
    if (!global.mutable) return;
    const type = global.type;
    if (type !== "i32" && type !== "i64" && type !== "f32" && type !== "f64") {
      throw new InvalidModuleError(`mutable global ${i} has type ${type}, which cannot be snapshotted`);
    }
    const index = leb128(outline.importedGlobals + i);
    const name = `${RESERVED_PREFIX}g${globals.length}`;
    if (type === "i32" || type === "i64") {
      newExports.push(...encodeName(name), EXTERNAL.global, ...index);
      exportCount++;
    } else {
      // Floats cross into JavaScript as numbers, which may not keep NaN bits: move their bits.
      const bits = type === "f32" ? VALUE_TYPE_CODE.i32 : VALUE_TYPE_CODE.i64;
      const toBits = type === "f32" ? 0xbc : 0xbd; // i32.reinterpret_f32 / i64.reinterpret_f64
      const fromBits = type === "f32" ? 0xbe : 0xbf; // f32.reinterpret_i32 / f64.reinterpret_i64
      addFunction(`${name}_get`, [], [bits], [0x23, ...index, toBits]);
      addFunction(`${name}_set`, [bits], [], [0x20, 0x00, fromBits, 0x24, ...index]);
    }
    globals.push({ type, export: name });
  });

  const present = new Set(outline.sections.map((s) => s.id));
  for (const id of [SECTION.type, SECTION.function, SECTION.memory, SECTION.export, SECTION.code]) {
    if (!present.has(id)) throw new InvalidModuleError(`module has no section ${id}`);
  }
  const rewritten = editSections(bytes, outline, {
    replace: new Map([[SECTION.memory, [1, 0x01, ...leb128(memory.initial), ...leb128(cap)]]]),
    append: new Map([
      [SECTION.type, { count: typeCount, bytes: newTypes }],
      [SECTION.function, { count: functionCount, bytes: newFunctions }],
      [SECTION.code, { count: functionCount, bytes: newBodies }],
      [SECTION.export, { count: exportCount, bytes: newExports }],
    ]),
  });
  return {
    rewritten,
    layout: {
      moduleHash: new Uint8Array(createHash("sha256").update(bytes).digest()),
      globals,
      hasInit,
      initialPages: memory.initial,
      maxPages: cap,
    },
  };
}

/** The memory limit in pages for `maxMemoryMib` (at least one page, at most 4 GiB). */
export function maxPagesFor(maxMemoryMib: number): number {
  return Math.max(1, Math.min(65536, Math.floor(maxMemoryMib * 16)));
}

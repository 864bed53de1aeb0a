/**
 * Validation and load-time rewriting of a wasm@1.0 module (runs in a worker thread: loading
 * binaryen takes about a second of CPU, and instantiation runs the module's start function).
 * The rewrite (1) exports every mutable global under a reserved name, so the host can
 * snapshot and restore state the module keeps in non-exported globals (AssemblyScript's heap
 * pointer), and (2) caps the memory maximum at the configured limit, so `memory.grow` past it
 * returns -1 inside the module, with WebAssembly's own semantics.
 */
import { createHash } from "node:crypto";
import type { ModuleLayout } from "./protocol.js";

/** A module that is not acceptable: becomes INVALID_ARGUMENT at Spawn. */
export class InvalidModuleError extends Error {
  override name = "InvalidModuleError";
}

/** Export names starting with this are the host's; a module may not use them. */
export const RESERVED_PREFIX = "__pw_";

/** The only import offered. */
export const ABORT_IMPORT = { module: "env", name: "abort" } as const;

type Binaryen = typeof import("binaryen").default;
let binaryenLoad: Promise<Binaryen> | undefined;

function loadBinaryen(): Promise<Binaryen> {
  binaryenLoad ??= import("binaryen").then((m) => m.default);
  return binaryenLoad;
}

/** Checks `bytes` against the ABI and returns the rewritten, compiled module. Throws
 * InvalidModuleError with a message a module author can act on. */
export async function prepareModule(
  bytes: Uint8Array,
  maxPages: number,
): Promise<{ module: WebAssembly.Module; layout: ModuleLayout }> {
  let original: WebAssembly.Module;
  try {
    original = new WebAssembly.Module(bytes);
  } catch (err) {
    throw new InvalidModuleError(`not a valid WebAssembly module: ${(err as Error).message}`);
  }
  checkImportsAndExports(original);

  const binaryen = await loadBinaryen();
  binaryen.setDebugInfo(true); // keep the names section, so traps stay readable
  const F = binaryen.Features;
  const features =
    F.MutableGlobals |
    F.NontrappingFPToInt |
    F.SIMD128 |
    F.BulkMemory |
    F.BulkMemoryOpt |
    F.SignExt |
    F.Multivalue |
    F.ReferenceTypes |
    F.TailCall |
    F.CallIndirectOverlong;
  let mod: BinaryenModule;
  try {
    // binaryen's typings omit readBinary's optional feature set.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    mod = (binaryen.readBinary as (data: Uint8Array, features?: number) => typeof mod)(bytes, features);
  } catch (err) {
    throw new InvalidModuleError(`module could not be read for rewriting: ${(err as Error).message}`);
  }
  try {
    let layout: ModuleLayout;
    try {
      layout = rewrite(binaryen, mod, bytes, maxPages);
    } catch (err) {
      if (err instanceof InvalidModuleError) throw err;
      throw new InvalidModuleError(`module could not be rewritten: ${(err as Error).message}`);
    }
    const rewritten = mod.emitBinary();
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(rewritten);
    } catch (err) {
      throw new Error(`the rewritten module does not compile: ${(err as Error).message}`);
    }
    return { module, layout };
  } finally {
    mod.dispose();
  }
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

const SIGNATURES: Record<string, { params: string[]; results: string[] }> = {
  pw_alloc: { params: ["i32"], results: ["i32"] },
  pw_handle: { params: ["i32", "i32"], results: ["i64"] },
  pw_init: { params: ["i32", "i32"], results: ["i64"] },
};

type BinaryenModule = ReturnType<Binaryen["readBinary"]>;

function rewrite(binaryen: Binaryen, mod: BinaryenModule, bytes: Uint8Array, maxPages: number): ModuleLayout {
  const typeName = (type: number): string => {
    const names: [number, string][] = [
      [binaryen.i32, "i32"],
      [binaryen.i64, "i64"],
      [binaryen.f32, "f32"],
      [binaryen.f64, "f64"],
      [binaryen.v128, "v128"],
    ];
    return names.find(([t]) => t === type)?.[1] ?? "a reference";
  };
  const signature = (fn: number) => {
    const info = binaryen.getFunctionInfo(fn);
    return {
      params: binaryen.expandType(info.params).map(typeName),
      results: binaryen.expandType(info.results).map(typeName),
    };
  };
  const show = (s: { params: string[]; results: string[] }) => `(${s.params.join(", ")}) -> (${s.results.join(", ")})`;

  let memoryName: string | undefined;
  for (let i = 0; i < mod.getNumExports(); i++) {
    const info = binaryen.getExportInfo(mod.getExportByIndex(i));
    if (info.kind === binaryen.ExternalMemory && info.name === "memory") memoryName = info.value;
    const want = SIGNATURES[info.name];
    if (want && info.kind === binaryen.ExternalFunction) {
      const got = signature(mod.getFunction(info.value));
      if (show(got) !== show(want)) {
        throw new InvalidModuleError(`export ${info.name} has type ${show(got)}; want ${show(want)}`);
      }
    }
  }
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    const fn = mod.getFunctionByIndex(i);
    const info = binaryen.getFunctionInfo(fn);
    if (info.module === ABORT_IMPORT.module && info.base === ABORT_IMPORT.name) {
      const got = signature(fn);
      const want = { params: ["i32", "i32", "i32", "i32"], results: [] };
      if (show(got) !== show(want)) {
        throw new InvalidModuleError(`import env.abort has type ${show(got)}; want ${show(want)}`);
      }
    }
  }

  if (memoryName === undefined) throw new InvalidModuleError('module does not export its memory as "memory"');
  const memory = mod.getMemoryInfo(memoryName);
  if (memory.shared) throw new InvalidModuleError("shared memories are not supported");
  if (memory.is64) throw new InvalidModuleError("64-bit memories are not supported");
  if (memory.initial > maxPages) {
    throw new InvalidModuleError(
      `module needs ${memory.initial} memory pages at start; the limit (wasm_max_memory_mib) allows ${maxPages}`,
    );
  }
  const cap = Math.min(memory.max ?? maxPages, maxPages);
  // setMemory replaces the memory and its data segments, so hand the segments back as they are.
  // binaryen.js has these at run time but not in its typings.
  const dataSegments = mod as unknown as {
    getNumDataSegments(): number;
    getDataSegmentInfo(segment: number): { name: string; offset: number | null; data: ArrayBuffer; passive: boolean };
  };
  const segments = [];
  for (let i = 0; i < dataSegments.getNumDataSegments(); i++) {
    const seg = dataSegments.getDataSegmentInfo(mod.getDataSegmentByIndex(i));
    segments.push({
      name: seg.name,
      passive: seg.passive,
      offset: seg.passive ? 0 : mod.i32.const(seg.offset ?? 0),
      data: new Uint8Array(seg.data),
    });
  }
  mod.setMemory(memory.initial, cap, null, segments, false, false, memoryName);

  const globals: ModuleLayout["globals"] = [];
  for (let i = 0; i < mod.getNumGlobals(); i++) {
    const info = binaryen.getGlobalInfo(mod.getGlobalByIndex(i));
    if (!info.mutable) continue;
    const type = typeName(info.type);
    if (type !== "i32" && type !== "i64" && type !== "f32" && type !== "f64") {
      throw new InvalidModuleError(`mutable global ${info.name} has type ${type}, which cannot be snapshotted`);
    }
    const name = `${RESERVED_PREFIX}g${globals.length}`;
    if (type === "i32" || type === "i64") {
      mod.addGlobalExport(info.name, name);
    } else {
      // Floats cross into JavaScript as numbers, which may not keep NaN bits: move their bits.
      const bits = type === "f32" ? binaryen.i32 : binaryen.i64;
      const get = mod.global.get(info.name, info.type);
      mod.addFunction(
        `${name}_get`,
        binaryen.none,
        bits,
        [],
        type === "f32" ? mod.i32.reinterpret(get) : mod.i64.reinterpret(get),
      );
      mod.addFunctionExport(`${name}_get`, `${name}_get`);
      const arg = mod.local.get(0, bits);
      mod.addFunction(
        `${name}_set`,
        bits,
        binaryen.none,
        [],
        mod.global.set(info.name, type === "f32" ? mod.f32.reinterpret(arg) : mod.f64.reinterpret(arg)),
      );
      mod.addFunctionExport(`${name}_set`, `${name}_set`);
    }
    globals.push({ type, export: name });
  }

  let hasInit = false;
  for (let i = 0; i < mod.getNumExports(); i++) {
    if (binaryen.getExportInfo(mod.getExportByIndex(i)).name === "pw_init") hasInit = true;
  }
  return {
    moduleHash: new Uint8Array(createHash("sha256").update(bytes).digest()),
    globals,
    hasInit,
    initialPages: memory.initial,
    maxPages: cap,
  };
}

/** The memory limit in pages for `maxMemoryMib` (at least one page, at most 4 GiB). */
export function maxPagesFor(maxMemoryMib: number): number {
  return Math.max(1, Math.min(65536, Math.floor(maxMemoryMib * 16)));
}

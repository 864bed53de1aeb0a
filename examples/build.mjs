/**
 * Builds the example wasm@1.0 processes from source: the WAT key-value store with the
 * `wabt` npm package and the AssemblyScript counter with the `assemblyscript` compiler.
 * Nothing built is committed: `npm run build:examples` writes examples/dist/*.wasm
 * (gitignored), and tests call the compile functions directly.
 *
 *   node examples/build.mjs [out-dir]
 *
 * Plain JavaScript on purpose: under tsx, loading the compilers (multi-megabyte modules)
 * takes about 20 s instead of 1 s. Types for TypeScript callers are in build.d.mts.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import wabtInit from "wabt";

const here = dirname(fileURLToPath(import.meta.url));

/** Where `npm run build:examples` writes (gitignored). */
export const DEFAULT_OUT_DIR = join(here, "dist");

/** Compiles WebAssembly text to a binary module with wabt. */
export async function compileWat(source, filename = "module.wat") {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat(filename, source, { bulk_memory: true, mutable_globals: true, sign_extension: true });
  try {
    parsed.resolveNames();
    parsed.validate();
    return parsed.toBinary({ write_debug_names: true }).buffer;
  } finally {
    parsed.destroy();
  }
}

/** The key-value store in WAT (examples/kv-wat/kv.wat). */
export async function compileKvWat() {
  const path = join(here, "kv-wat", "kv.wat");
  return compileWat(await readFile(path, "utf8"), path);
}

/** The per-key counter in AssemblyScript (examples/counter-as/assembly/index.ts). */
export async function compileCounterAs() {
  const { default: asc } = await import("assemblyscript/asc");
  const source = await readFile(join(here, "counter-as", "assembly", "index.ts"), "utf8");
  const result = await asc.compileString(
    { "index.ts": source },
    { optimizeLevel: 3, shrinkLevel: 0, runtime: "incremental", noColors: true },
  );
  if (result.error || !result.binary) {
    throw new Error(`AssemblyScript compile failed: ${result.error?.message ?? "no binary"}\n${result.stderr.toString()}`);
  }
  return result.binary;
}

/** Builds every example into `outDir`; returns the written paths. */
export async function buildExamples(outDir = DEFAULT_OUT_DIR) {
  await mkdir(outDir, { recursive: true });
  const built = [
    ["kv-wat.wasm", await compileKvWat()],
    ["counter-as.wasm", await compileCounterAs()],
  ];
  const paths = [];
  for (const [name, bytes] of built) {
    const path = join(outDir, name);
    await writeFile(path, bytes);
    paths.push(path);
  }
  return paths;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const paths = await buildExamples(process.argv[2] ? resolve(process.argv[2]) : DEFAULT_OUT_DIR);
  for (const path of paths) console.log(`built ${path}`);
}

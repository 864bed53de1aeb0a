/** Types of examples/build.mjs (see there). */

/** Where `npm run build:examples` writes (gitignored). */
export declare const DEFAULT_OUT_DIR: string;
/** Compiles WebAssembly text to a binary module with wabt. */
export declare function compileWat(source: string, filename?: string): Promise<Uint8Array>;
/** The key-value store in WAT (examples/kv-wat/kv.wat). */
export declare function compileKvWat(): Promise<Uint8Array>;
/** The per-key counter in AssemblyScript (examples/counter-as/assembly/index.ts). */
export declare function compileCounterAs(): Promise<Uint8Array>;
/** Builds every example into `outDir`; returns the written paths. */
export declare function buildExamples(outDir?: string): Promise<string[]>;

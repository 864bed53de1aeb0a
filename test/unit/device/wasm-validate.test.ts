import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcworkerError } from "../../../src/core/errors.js";
import { createWasmDevice, type WasmDevice } from "../../../src/device/wasm/index.js";
import { PROBE_WAT, processFor, wat } from "./wasm-fixtures.js";

/** A module with the required exports; `extra` is spliced into it. */
function moduleWith(extra: string, exports = DEFAULT_EXPORTS): string {
  return `(module ${extra} ${exports})`;
}
const DEFAULT_EXPORTS = `
  (memory (export "memory") 1)
  (func (export "pw_alloc") (param i32) (result i32) (i32.const 0))
  (func (export "pw_handle") (param i32 i32) (result i64) (i64.const 0))`;

describe("wasm@1.0 module validation at Spawn", () => {
  let device: WasmDevice;
  beforeAll(() => {
    device = createWasmDevice({ slotTimeLimitMs: 1000, maxMemoryMib: 4, threads: 1 });
  });
  afterAll(() => device.close());

  async function rejection(module: Uint8Array | undefined): Promise<ProcworkerError> {
    const ctx = module ? processFor(module) : { ...processFor(new Uint8Array([0])), module: undefined };
    const err = await device.validate(ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProcworkerError);
    expect((err as ProcworkerError).code).toBe("invalid_argument");
    return err as ProcworkerError;
  }

  it("accepts a module that follows the ABI", async () => {
    await expect(device.validate(processFor(await wat(PROBE_WAT)))).resolves.toBeUndefined();
    await expect(device.validate(processFor(await wat(moduleWith(""))))).resolves.toBeUndefined();
  });

  it("refuses a process without module bytes", async () => {
    expect((await rejection(undefined)).message).toMatch(/needs its module's bytes/);
  });

  it("refuses bytes that are not WebAssembly", async () => {
    expect((await rejection(new TextEncoder().encode("hello, world"))).message).toMatch(
      /^invalid wasm module: not a valid WebAssembly module: /,
    );
  });

  it.each([
    [
      "memory",
      `(func (export "pw_alloc") (param i32) (result i32) (i32.const 0)) (func (export "pw_handle") (param i32 i32) (result i64) (i64.const 0))`,
      /does not export its memory as "memory"/,
    ],
    [
      "pw_alloc",
      `(memory (export "memory") 1) (func (export "pw_handle") (param i32 i32) (result i64) (i64.const 0))`,
      /does not export pw_alloc/,
    ],
    [
      "pw_handle",
      `(memory (export "memory") 1) (func (export "pw_alloc") (param i32) (result i32) (i32.const 0))`,
      /does not export pw_handle/,
    ],
  ])("refuses a module without %s", async (_name, exports, message) => {
    expect((await rejection(await wat(moduleWith("", exports)))).message).toMatch(message);
  });

  it.each([
    [
      "pw_handle returning i32",
      `(memory (export "memory") 1) (func (export "pw_alloc") (param i32) (result i32) (i32.const 0)) (func (export "pw_handle") (param i32 i32) (result i32) (i32.const 0))`,
      /export pw_handle has type \(i32, i32\) -> \(i32\); want \(i32, i32\) -> \(i64\)/,
    ],
    [
      "pw_alloc taking i64",
      `(memory (export "memory") 1) (func (export "pw_alloc") (param i64) (result i32) (i32.const 0)) (func (export "pw_handle") (param i32 i32) (result i64) (i64.const 0))`,
      /export pw_alloc has type \(i64\) -> \(i32\)/,
    ],
    [
      "pw_init without a result",
      `${DEFAULT_EXPORTS} (func (export "pw_init") (param i32 i32))`,
      /export pw_init has type \(i32, i32\) -> \(\)/,
    ],
    [
      "pw_alloc as a global",
      `(memory (export "memory") 1) (global (export "pw_alloc") i32 (i32.const 0)) (func (export "pw_handle") (param i32 i32) (result i64) (i64.const 0))`,
      /export pw_alloc is a global, not a function/,
    ],
    [
      "a reserved export name",
      `${DEFAULT_EXPORTS} (global (export "__pw_g0") i32 (i32.const 0))`,
      /names starting with __pw_ are reserved/,
    ],
  ])("refuses a mistyped export: %s", async (_name, exports, message) => {
    expect((await rejection(await wat(moduleWith("", exports)))).message).toMatch(message);
  });

  it.each([
    [
      "a clock",
      `(import "env" "now" (func (result i64)))`,
      /imports env\.now \(function\); the only import offered is env\.abort/,
    ],
    [
      "WASI",
      `(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))`,
      /imports wasi_snapshot_preview1\.fd_write/,
    ],
    ["a global", `(import "env" "seed" (global i32))`, /imports env\.seed \(global\)/],
    [
      "env.abort with another type",
      `(import "env" "abort" (func (param i32)))`,
      /import env\.abort has type \(i32\) -> \(\); want \(i32, i32, i32, i32\) -> \(\)/,
    ],
  ])("refuses a module that imports %s", async (_name, imports, message) => {
    expect((await rejection(await wat(moduleWith(imports)))).message).toMatch(message);
  });

  it("refuses a module that needs more memory at start than the limit allows", async () => {
    const exports = DEFAULT_EXPORTS.replace(`(memory (export "memory") 1)`, `(memory (export "memory") 100)`);
    expect((await rejection(await wat(moduleWith("", exports)))).message).toMatch(
      /needs 100 memory pages at start; the limit \(wasm_max_memory_mib\) allows 64/,
    );
  });

  it("refuses a module whose start function traps", async () => {
    const module = await wat(moduleWith(`(func $start unreachable) (start $start)`));
    expect((await rejection(module)).message).toMatch(/instantiating the module failed: .*unreachable/);
  });

  it("refuses a mutable global it cannot snapshot", async () => {
    const module = await wat(moduleWith(`(global $r (mut funcref) (ref.null func))`));
    expect((await rejection(module)).message).toMatch(/mutable global .* cannot be snapshotted/);
  });

  it("refuses arbitrary bytes behind a WebAssembly header without failing the device (property)", async () => {
    const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 64 }), async (body) => {
        const err = await rejection(new Uint8Array([...header, ...body]));
        expect(err.message).toMatch(/^invalid wasm module: /);
      }),
      { numRuns: 40 },
    );
    // The device still validates good modules afterwards.
    await expect(device.validate(processFor(await wat(PROBE_WAT)))).resolves.toBeUndefined();
  });
});

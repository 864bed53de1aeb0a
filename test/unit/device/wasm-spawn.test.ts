/**
 * Spawn never answers INTERNAL or ABORTED for a wasm@1.0 module: any module WebAssembly
 * accepts is prepared, or refused with `invalid_argument` for a documented ABI reason.
 * Names in a module (its custom name section) play no part; neither does another client's
 * module misbehaving on the compiler thread at the same time.
 */
import fc from "fast-check";
import wabtInit from "wabt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcworkerError } from "../../../src/core/errors.js";
import { message } from "../../../src/core/message.js";
import { createWasmDevice, type WasmDevice } from "../../../src/device/wasm/index.js";
import { errorOf, initStep, processFor, runOne, stepsFrom, tagsOf, wat } from "./wasm-fixtures.js";

/** Unsigned LEB128. */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}
const name = (bytes: number[]): number[] => [...leb(bytes.length), ...bytes];
const utf8 = (text: string): number[] => name([...new TextEncoder().encode(text)]);
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];

/**
 * The smallest module on the ABI, written byte by byte: memory 0 exported as "memory",
 * `pw_alloc` returning 0 and `pw_handle` returning 0 (an empty output), then a custom
 * name section made of `nameSubsections` (id, body) pairs.
 */
function handBuiltModule(nameSubsections: [number, number[]][]): Uint8Array {
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [2, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 1, 0x7e]), // (i32)->i32, (i32 i32)->i64
    ...section(3, [2, 0, 1]),
    ...section(5, [1, 0x00, 1]), // one memory, 1 page, no maximum
    ...section(7, [3, ...utf8("memory"), 2, 0, ...utf8("pw_alloc"), 0, 0, ...utf8("pw_handle"), 0, 1]),
    ...section(10, [2, 4, 0, 0x41, 0, 0x0b, 4, 0, 0x42, 0, 0x0b]),
  ];
  if (nameSubsections.length > 0) {
    const body = nameSubsections.flatMap(([id, sub]) => [id, ...leb(sub.length), ...sub]);
    bytes.push(...section(0, [...utf8("name"), ...body]));
  }
  return new Uint8Array(bytes);
}

describe("wasm@1.0 Spawn: a module's names play no part", () => {
  let device: WasmDevice;
  beforeAll(() => {
    device = createWasmDevice({ slotTimeLimitMs: 1000, maxMemoryMib: 4, threads: 1 });
  });
  afterAll(() => device.close());

  /** Validates, instantiates and runs slot 0 and slot 1 of `module`. */
  async function spawnsAndRuns(module: Uint8Array): Promise<void> {
    expect(WebAssembly.validate(module)).toBe(true);
    const ctx = processFor(module);
    await expect(device.validate(ctx)).resolves.toBeUndefined();
    const instance = await device.instantiate(ctx);
    expect(await instance.run([initStep(ctx), ...stepsFrom(1n, [message({ A: "1" })])])).toEqual([
      { output: { tags: {}, data: new Uint8Array() } },
      { output: { tags: {}, data: new Uint8Array() } },
    ]);
    await instance.close();
  }

  it("accepts a module whose name section names memory 0 with an empty string", async () => {
    const module = handBuiltModule([[6, [1, 0, ...name([])]]]); // memory names: memory 0 → ""
    expect(module.byteLength).toBeLessThan(100);
    await spawnsAndRuns(module);
  });

  it("accepts a module whose name section is not valid UTF-8", async () => {
    const invalid = [0xff, 0xfe, 0xc0];
    await spawnsAndRuns(
      handBuiltModule([
        [0, name(invalid)], // the module's name
        [1, [1, 0, ...name(invalid)]], // function 0's name
      ]),
    );
  });

  it("accepts a module whose internal functions are named like the host's accessors", async () => {
    // f32/f64 globals get accessor functions in the load-time rewrite; the module already has
    // functions (and a global) with those names.
    const module = await wat(`(module
      (memory (export "memory") 1)
      (global $__pw_g0 (mut f32) (f32.const 1.5))
      (global $__pw_g1 (mut f64) (f64.const 2.5))
      (func $__pw_g0_get (result i32) (i32.const 7))
      (func $__pw_g0_set (param i32))
      (func $__pw_g1_get (result i64) (i64.const 7))
      (data (i32.const 0) "{\\"tags\\":{\\"X\\":\\"1\\"}}")
      (func (export "pw_alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "pw_handle") (param i32 i32) (result i64)
        (global.set $__pw_g0 (f32.add (global.get $__pw_g0) (f32.const 1)))
        (global.set $__pw_g1 (f64.mul (global.get $__pw_g1) (f64.const 2)))
        (drop (call $__pw_g0_get)) (call $__pw_g0_set (i32.const 0)) (drop (call $__pw_g1_get))
        (if (f32.gt (global.get $__pw_g0) (f32.const 3)) (then (return (i64.const 0x1400000001))))
        (i64.const 18)))`);
    const ctx = processFor(module);
    await expect(device.validate(ctx)).resolves.toBeUndefined();
    const instance = await device.instantiate(ctx);
    const [first] = await instance.run(stepsFrom(1n, [message({})]));
    expect(tagsOf(first)).toEqual({ X: "1" });
    // The float globals are state: restored into a new instance, the next slot sees 3.5 > 3.
    const restored = await device.instantiate(ctx);
    await restored.importState(await instance.exportState());
    const second = await runOne(restored, stepsFrom(2n, [message({})])[0]!);
    expect(errorOf(second)).toMatch(/^invalid output from the module: it is not JSON/); // 1 byte at 0x14: `"`
    await Promise.all([instance.close(), restored.close()]);
  });

  it("accepts a module that uses exception handling; an uncaught exception fails its slot only", async () => {
    const wabt = await wabtInit();
    const parsed = wabt.parseWat(
      "exceptions.wat",
      `(module (tag $oops) (memory (export "memory") 1)
        (global $n (mut i32) (i32.const 0))
        (data (i32.const 0) "{}")
        (func (export "pw_alloc") (param i32) (result i32) (i32.const 1024))
        (func (export "pw_handle") (param $ptr i32) (param $len i32) (result i64)
          (global.set $n (i32.add (global.get $n) (i32.const 1)))
          (if (i32.eq (global.get $n) (i32.const 2)) (then (throw $oops)))
          (i64.const 2)))`,
      { exceptions: true },
    );
    const module = parsed.toBinary({}).buffer;
    parsed.destroy();
    const ctx = processFor(module);
    await expect(device.validate(ctx)).resolves.toBeUndefined();
    const instance = await device.instantiate(ctx);
    // The second call throws; rolled back, the third is the second again and throws too.
    const outcomes = await instance.run(stepsFrom(1n, [message({}), message({}), message({})]));
    expect(tagsOf(outcomes[0])).toEqual({});
    expect(errorOf(outcomes[1])).toBe("trap: the module threw an exception it did not catch");
    expect(errorOf(outcomes[2])).toBe("trap: the module threw an exception it did not catch");
    await instance.close();
  });

  it("answers any bit-flipped copy of a valid module with success or invalid_argument (property)", async () => {
    const valid = await wat(`(module
      (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
      (memory $mem (export "memory") 1 8)
      (global $count (mut i32) (i32.const 0))
      (global $wide (mut i64) (i64.const 0))
      (global $ratio (mut f32) (f32.const 0.5))
      (global $scale (mut f64) (f64.const 0.25))
      (global $fixed i32 (i32.const 64))
      (data (i32.const 64) "{}")
      (func $bump (global.set $count (i32.add (global.get $count) (i32.const 1))))
      (func (export "pw_alloc") (param $len i32) (result i32) (i32.const 1024))
      (func (export "pw_init") (param i32 i32) (result i64) (i64.const 0))
      (func (export "pw_handle") (param $ptr i32) (param $len i32) (result i64)
        (call $bump)
        (global.set $wide (i64.add (global.get $wide) (i64.extend_i32_u (local.get $len))))
        (global.set $ratio (f32.mul (global.get $ratio) (f32.const 2)))
        (global.set $scale (f64.add (global.get $scale) (f64.const 1)))
        (if (i32.eqz (local.get $len)) (then (call $abort (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 1))))
        (i64.or (i64.shl (i64.extend_i32_u (global.get $fixed)) (i64.const 32)) (i64.const 2))))`);
    await expect(device.validate(processFor(valid))).resolves.toBeUndefined();
    const outcomes: Record<string, number> = { accepted: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: valid.byteLength * 8 - 1 }), { minLength: 1, maxLength: 3 }),
        async (bits) => {
          const flipped = valid.slice();
          for (const bit of bits) flipped[bit >> 3]! ^= 1 << (bit & 7);
          const result = await device.validate(processFor(flipped)).then(
            () => "accepted" as const,
            (err: unknown) => err,
          );
          if (result === "accepted") {
            outcomes["accepted"]!++;
            expect(WebAssembly.validate(flipped)).toBe(true);
            return;
          }
          outcomes["refused"]!++;
          expect(result).toBeInstanceOf(ProcworkerError);
          expect(result).toMatchObject({
            code: "invalid_argument",
            message: expect.stringMatching(/^invalid wasm module: /),
          });
          if (WebAssembly.validate(flipped)) {
            // A module WebAssembly accepts is refused only for a documented ABI reason.
            expect((result as Error).message).not.toMatch(/could not be (read|rewritten)|does not compile/);
          }
        },
      ),
      { numRuns: 150 },
    );
    expect(outcomes["accepted"]).toBeGreaterThan(0);
    expect(outcomes["refused"]).toBeGreaterThan(0);
    await expect(device.validate(processFor(valid))).resolves.toBeUndefined();
  });
});

describe("wasm@1.0 Spawn beside a module whose start function never returns", () => {
  let device: WasmDevice;
  beforeAll(() => {
    device = createWasmDevice({ slotTimeLimitMs: 300, maxMemoryMib: 4, threads: 1 });
  });
  afterAll(() => device.close());

  it("the looping module is refused; a module prepared on the same compiler thread meanwhile is not", async () => {
    const looping = await wat(`(module (memory (export "memory") 1)
      (func $start (loop $l (br $l))) (start $start)
      (func (export "pw_alloc") (param i32) (result i32) (i32.const 0))
      (func (export "pw_handle") (param i32 i32) (result i64) (i64.const 0)))`);
    const bystander = handBuiltModule([]);
    // Both requests reach the compiler thread together; the bystander waits behind the loop
    // and is lost with the thread when the time limit stops it.
    const [loop, other] = await Promise.allSettled([
      device.validate(processFor(looping)),
      device.validate(processFor(bystander)),
    ]);
    expect(loop).toMatchObject({
      status: "rejected",
      reason: { code: "invalid_argument", message: expect.stringMatching(/start function\) ran longer than 300 ms/) },
    });
    expect(other).toEqual({ status: "fulfilled", value: undefined });
  });
});

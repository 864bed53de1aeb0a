import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeviceInstance, ProcessContext, Step, StepOutcome } from "../../../src/device/device.js";
import { createWasmDevice, type WasmDevice } from "../../../src/device/wasm/index.js";
import { compileKvWat, errorOf, initStep, kv, processFor, runOne, stepsFrom, tagsOf } from "./wasm-fixtures.js";

describe("wasm@1.0 with the WAT key-value example", () => {
  let device: WasmDevice;
  let ctx: ProcessContext;
  beforeAll(async () => {
    // A checkpoint at least every 3 slots, so rollbacks replay from checkpoints too.
    device = createWasmDevice({
      slotTimeLimitMs: 5000,
      maxMemoryMib: 16,
      threads: 2,
      maxReplaySteps: 3,
      maxOutputBytes: 200,
    });
    ctx = processFor(await compileKvWat());
    await device.validate(ctx);
  });
  afterAll(() => device.close());

  it("sets, gets and deletes across slots", async () => {
    const instance = await device.instantiate(ctx);
    expect(tagsOf(await runOne(instance, initStep(ctx)))).toEqual({ Status: "ready", Keys: "0" });
    const outcomes = await instance.run(
      stepsFrom(1n, [
        kv("Set", "a", "1"),
        kv("Set", "b", 'two "quoted"'),
        kv("Get", "a"),
        kv("Get", "b"),
        kv("Delete", "a"),
        kv("Get", "a"),
        kv("Dance", "a"),
        kv("Set", "c"),
      ]),
    );
    expect(outcomes.slice(0, 6).map(tagsOf)).toEqual([
      { Keys: "1", Status: "stored" },
      { Keys: "2", Status: "stored" },
      { Status: "found", Value: "1" },
      { Status: "found", Value: 'two "quoted"' },
      { Keys: "1", Status: "deleted" },
      { Status: "missing" },
    ]);
    expect(errorOf(outcomes[6])).toBe("unknown Action; use Set, Get or Delete");
    expect(errorOf(outcomes[7])).toBe("Set needs a Value tag");
    expect(tagsOf(await runOne(instance, stepsFrom(9n, [kv("Get", "b")])[0]!))).toEqual({
      Status: "found",
      Value: 'two "quoted"',
    });
    await instance.close();
  });

  it("exports its state into a new device instance that gives the same next outputs", async () => {
    const warm = await device.instantiate(ctx);
    await warm.run([
      initStep(ctx),
      ...stepsFrom(1n, [kv("Set", "k1", "v1"), kv("Set", "k2", "v2"), kv("Delete", "k1")]),
    ]);
    const state = await warm.exportState();
    expect(state.byteLength).toBeGreaterThan(65536);

    const restored = await device.instantiate(ctx);
    await restored.importState(state);
    const next = stepsFrom(4n, [kv("Get", "k1"), kv("Get", "k2"), kv("Set", "k3", "v3")]);
    const fromRestored = await restored.run(next);
    expect(fromRestored.map(tagsOf)).toEqual([
      { Status: "missing" },
      { Status: "found", Value: "v2" },
      { Keys: "2", Status: "stored" },
    ]);
    expect(await warm.run(next)).toEqual(fromRestored);
    expect(Buffer.from(await restored.exportState()).equals(Buffer.from(await warm.exportState()))).toBe(true);
    await Promise.all([warm.close(), restored.close()]);
  });

  it("fails a slot whose output is over the output limit, and keeps the state", async () => {
    const instance = await device.instantiate(ctx);
    const long = "x".repeat(300);
    const outcomes = await instance.run([
      initStep(ctx),
      ...stepsFrom(1n, [kv("Set", "big", long), kv("Get", "big"), kv("Set", "small", "1")]),
    ]);
    expect(tagsOf(outcomes[1])).toEqual({ Keys: "1", Status: "stored" });
    expect(errorOf(outcomes[2])).toMatch(/^invalid output from the module: \d+ bytes is over the limit of 200$/);
    expect(tagsOf(outcomes[3])).toEqual({ Keys: "2", Status: "stored" });
    await instance.close();
  });

  it("refuses a state that is not one of this module's", async () => {
    const instance = await device.instantiate(ctx);
    const state = await instance.exportState();
    const corrupt = state.slice();
    corrupt[10] = corrupt[10]! ^ 0xff; // the module hash
    await expect(instance.importState(corrupt)).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/belongs to a different module/),
    });
    await expect(instance.importState(state.subarray(0, 100))).rejects.toMatchObject({ code: "invalid_argument" });
    await instance.close();
  });

  it("warm, restored-from-any-snapshot and cold-replay device instances agree byte for byte (property)", async () => {
    const key = fc.constantFrom("a", "b", "c", "ключ", '"q"', "tab\t", "");
    const op = fc.oneof(
      fc.record({
        action: fc.constant("Set"),
        key,
        value: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
      }),
      fc.record({ action: fc.constantFrom("Get", "Delete", "Oops"), key, value: fc.constant(undefined) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), fc.nat(), async (ops, pick) => {
        const steps: Step[] = [
          initStep(ctx),
          ...stepsFrom(
            1n,
            ops.map((o) => kv(o.action, o.key, o.value)),
          ),
        ];
        const opened: DeviceInstance[] = [];
        const open = async () => {
          const instance = await device.instantiate(ctx);
          opened.push(instance);
          return instance;
        };
        try {
          // Warm: slot by slot, snapshotting after each.
          const warm = await open();
          const warmOutcomes: StepOutcome[] = [];
          const snapshots: Uint8Array[] = [];
          for (const step of steps) {
            warmOutcomes.push(...(await warm.run([step])));
            snapshots.push(await warm.exportState());
          }
          const finalState = Buffer.from(snapshots.at(-1)!);

          // Cold replay from slot 0 in one batch.
          const cold = await open();
          expect(await cold.run(steps)).toEqual(warmOutcomes);
          expect(finalState.equals(Buffer.from(await cold.exportState()))).toBe(true);

          // Restored from snapshot k, then the rest.
          const k = pick % snapshots.length;
          const restored = await open();
          await restored.importState(snapshots[k]!);
          expect(await restored.run(steps.slice(k + 1))).toEqual(warmOutcomes.slice(k + 1));
          expect(finalState.equals(Buffer.from(await restored.exportState()))).toBe(true);
        } finally {
          await Promise.all(opened.map((instance) => instance.close()));
        }
      }),
      { numRuns: 25 },
    );
  });
});

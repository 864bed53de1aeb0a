/**
 * wasm@1.0 dry runs: one message evaluated against the current state, whose outcome is
 * returned and whose effects are rolled back, whatever happened (success, trap, error
 * output, abort, memory growth, time limit).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeviceInstance, ProcessContext } from "../../../src/device/device.js";
import { createWasmDevice, type WasmDevice } from "../../../src/device/wasm/index.js";
import { PROBE_WAT, errorOf, initStep, probe, processFor, runOne, stepsFrom, tagsOf, wat } from "./wasm-fixtures.js";

async function warmed(device: WasmDevice, name: string): Promise<{ ctx: ProcessContext; instance: DeviceInstance }> {
  const ctx = processFor(await wat(PROBE_WAT), { Name: name });
  const instance = await device.instantiate(ctx);
  await instance.run([initStep(ctx), ...stepsFrom(1n, [probe("count"), probe("count"), probe("count")])]);
  return { ctx, instance };
}

describe("wasm@1.0 dry runs", () => {
  let device: WasmDevice;
  beforeAll(() => {
    // maxReplaySteps 2: the state is a checkpoint plus a logged step, so the dry run's
    // rollback goes through both.
    device = createWasmDevice({ slotTimeLimitMs: 5000, maxMemoryMib: 4, threads: 1, maxReplaySteps: 2 });
  });
  afterAll(() => device.close());

  it("answers as the slot would, and the state and the next slot are as without it", async () => {
    const { instance } = await warmed(device, "ok");
    const before = await instance.exportState();
    const stateBytes = instance.stateBytes();
    expect(tagsOf(await instance.dryRun(stepsFrom(4n, [probe("count")])[0]!))).toEqual({ N: "4", M: "4" });
    expect(tagsOf(await instance.dryRun(stepsFrom(4n, [probe("count")])[0]!))).toEqual({ N: "4", M: "4" });
    expect(Buffer.from(await instance.exportState()).equals(Buffer.from(before))).toBe(true);
    expect(instance.stateBytes()).toBe(stateBytes);
    expect(tagsOf(await runOne(instance, stepsFrom(4n, [probe("count")])[0]!))).toEqual({ N: "4", M: "4" });
    await instance.close();
  });

  it.each([
    ["trap", /^trap: .*unreachable/],
    ["error", /^asked to fail$/],
    ["abort", /^abort: /],
    ["badjson", /^invalid output from the module: it is not JSON/],
  ])("a dry run that fails (%s) is an outcome, and leaves the state as it was", async (kind, why) => {
    const { instance } = await warmed(device, kind);
    const before = await instance.exportState();
    expect(errorOf(await instance.dryRun(stepsFrom(4n, [probe(kind)])[0]!))).toMatch(why);
    expect(Buffer.from(await instance.exportState()).equals(Buffer.from(before))).toBe(true);
    expect(tagsOf(await runOne(instance, stepsFrom(4n, [probe("count")])[0]!))).toEqual({ N: "4", M: "4" });
    await instance.close();
  });

  it("a dry run that grows memory leaves the memory at its size", async () => {
    const { instance } = await warmed(device, "grow");
    const before = await instance.exportState();
    expect(tagsOf(await instance.dryRun(stepsFrom(4n, [probe("grow")])[0]!))).toEqual({ Pages: "64" });
    const after = await instance.exportState();
    expect(after.byteLength).toBe(before.byteLength);
    expect(Buffer.from(after).equals(Buffer.from(before))).toBe(true);
    await instance.close();
  });
});

describe("wasm@1.0 dry run past the time limit", () => {
  let device: WasmDevice;
  beforeAll(() => {
    device = createWasmDevice({ slotTimeLimitMs: 200, maxMemoryMib: 4, threads: 1, maxReplaySteps: 2 });
  });
  afterAll(() => device.close());

  it("is a time-limit outcome; the state and the next slot are untouched", async () => {
    const { instance } = await warmed(device, "loop");
    const before = await instance.exportState();
    expect(errorOf(await instance.dryRun(stepsFrom(4n, [probe("loop")])[0]!))).toBe(
      "time limit: the slot ran longer than 200 ms",
    );
    expect(Buffer.from(await instance.exportState()).equals(Buffer.from(before))).toBe(true);
    expect(tagsOf(await runOne(instance, stepsFrom(4n, [probe("count")])[0]!))).toEqual({ N: "4", M: "4" });
    await instance.close();
  });
});

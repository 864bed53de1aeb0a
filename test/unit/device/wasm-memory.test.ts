/**
 * What a live wasm@1.0 device instance holds on the main thread, and that `stateBytes()` counts it:
 * the worker memory cap (`max_worker_bytes`) is only as good as this number.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { message } from "../../../src/core/message.js";
import { createWasmDevice, type WasmDevice } from "../../../src/device/wasm/index.js";
import { PROBE_WAT, initStep, probe, processFor, stepsFrom, tagsOf, wat } from "./wasm-fixtures.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** A new macrotask (WeakRef targets stay alive until the current job ends), then a full GC. */
async function collect(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  gc();
}

describe("wasm@1.0 memory held by a live device instance", () => {
  let device: WasmDevice;
  beforeAll(() => {
    device = createWasmDevice({ slotTimeLimitMs: 5000, maxMemoryMib: 16, threads: 1, maxReplaySteps: 2 });
  });
  afterAll(() => device.close());

  it("keeps no exported state alive once the caller lets it go", async () => {
    const ctx = processFor(await wat(PROBE_WAT));
    const instance = await device.instantiate(ctx);
    await instance.run([initStep(ctx), ...stepsFrom(1n, [probe("count"), probe("count"), probe("count")])]);
    let state: Uint8Array | undefined = await instance.exportState();
    const exported = new WeakRef(state.buffer);
    expect(state.byteLength).toBeGreaterThan(65536);
    state = undefined;
    await collect();
    expect(exported.deref()).toBeUndefined();
    // The device instance is still whole.
    expect(tagsOf((await instance.run(stepsFrom(4n, [probe("count")])))[0])).toEqual({ N: "4", M: "4" });
    await instance.close();
  });

  it("counts its memory and its rollback checkpoint in stateBytes", async () => {
    const ctx = processFor(await wat(PROBE_WAT));
    const instance = await device.instantiate(ctx);
    // maxReplaySteps 2: a checkpoint image (one page of memory plus a small header) is taken.
    await instance.run([initStep(ctx), ...stepsFrom(1n, [probe("count"), probe("count"), probe("count")])]);
    const bytes = instance.stateBytes();
    expect(bytes).toBeGreaterThanOrEqual(2 * 65536);
    expect(bytes).toBeLessThan(2 * 65536 + 64 * 1024);
    await instance.close();
  });

  it("counts its rollback log, however far it has grown", async () => {
    const ctx = processFor(await wat(PROBE_WAT));
    const instance = await device.instantiate(ctx);
    await instance.run([initStep(ctx)]);
    expect(instance.stateBytes()).toBeLessThan(65536 + 4096); // one page, a small empty log
    // One logged input of about 20 KB (the log holds it until the next checkpoint).
    const [outcome] = await instance.run(stepsFrom(1n, [message({ Do: "count", Pad: "x".repeat(20_000) })]));
    expect(tagsOf(outcome)).toEqual({ N: "1", M: "1" });
    expect(instance.stateBytes()).toBeGreaterThanOrEqual(65536 + 20_000);
    await instance.close();
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { message } from "../../../src/core/message.js";
import type { ProcessContext } from "../../../src/device/device.js";
import { createWasmDevice, type WasmDevice } from "../../../src/device/wasm/index.js";
import { compileCounterAs, errorOf, initStep, processFor, stepsFrom, tagsOf } from "./wasm-fixtures.js";

const key = (k: string) => message({ Key: k });

describe("wasm@1.0 with the AssemblyScript counter example", () => {
  let device: WasmDevice;
  let module: Uint8Array;
  let ctx: ProcessContext;
  beforeAll(async () => {
    device = createWasmDevice({ slotTimeLimitMs: 5000, maxMemoryMib: 16, threads: 1, maxReplaySteps: 50 });
    module = await compileCounterAs();
    ctx = processFor(module);
  });
  afterAll(() => device.close());

  it("keeps its state only in non-exported globals and memory", () => {
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(module));
    expect(exports.filter((e) => e.kind === "global")).toEqual([]);
    expect(exports.map((e) => e.name).sort()).toEqual(["memory", "pw_alloc", "pw_handle", "pw_init"]);
  });

  it("counts per key across slots; a message without a Key fails and changes nothing", async () => {
    const instance = await device.instantiate(ctx);
    const outcomes = await instance.run([
      initStep(ctx),
      ...stepsFrom(1n, [key("apple"), key("pear"), key("apple"), message({}), key('ключ "x"')]),
    ]);
    expect(tagsOf(outcomes[0])).toEqual({ Keys: "0", Total: "0" });
    expect(tagsOf(outcomes[3])).toEqual({ Key: "apple", Count: "2", Keys: "2", Total: "3" });
    expect(errorOf(outcomes[4])).toBe("missing Key tag");
    expect(tagsOf(outcomes[5])).toEqual({ Key: 'ключ "x"', Count: "1", Keys: "3", Total: "4" });
    await instance.close();
  });

  it("keeps its heap across snapshot and restore (its heap pointer is a non-exported global)", async () => {
    const warm = await device.instantiate(ctx);
    const first = Array.from({ length: 40 }, (_, i) => key(`k${i % 25}`));
    await warm.run([initStep(ctx), ...stepsFrom(1n, first)]);
    const state = await warm.exportState();

    const restored = await device.instantiate(ctx);
    await restored.importState(state);
    // Many new keys: the map grows and rehashes, the allocator hands out new blocks and the
    // collector runs. With a stale heap pointer these would overwrite the restored map.
    const next = stepsFrom(41n, [
      ...Array.from({ length: 300 }, (_, i) => key(`new-${i}-${"x".repeat(i % 50)}`)),
      ...Array.from({ length: 25 }, (_, i) => key(`k${i}`)),
    ]);
    const fromRestored = await restored.run(next);
    expect(tagsOf(fromRestored.at(-1))).toEqual({ Key: "k24", Count: "2", Keys: "325", Total: "365" });
    expect(tagsOf(fromRestored.at(-25))).toEqual({ Key: "k0", Count: "3", Keys: "325", Total: "341" });
    expect(await warm.run(next)).toEqual(fromRestored);
    expect(Buffer.from(await restored.exportState()).equals(Buffer.from(await warm.exportState()))).toBe(true);
    await Promise.all([warm.close(), restored.close()]);
  });
});

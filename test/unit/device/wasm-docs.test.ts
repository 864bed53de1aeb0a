import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmDevice, type WasmDevice } from "../../../src/device/wasm/index.js";
import { initStep, processFor, stepsFrom, tagsOf, wat } from "./wasm-fixtures.js";
import { message } from "../../../src/core/message.js";

describe("docs/wasm-abi.md", () => {
  let device: WasmDevice;
  beforeAll(() => {
    device = createWasmDevice({ slotTimeLimitMs: 5000, maxMemoryMib: 16, threads: 1 });
  });
  afterAll(() => device.close());

  it("its complete example compiles, counts, and survives a snapshot", async () => {
    const doc = await readFile(new URL("../../../docs/wasm-abi.md", import.meta.url), "utf8");
    const source = /```wat\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(source).toBeDefined();
    const ctx = processFor(await wat(source!));
    const instance = await device.instantiate(ctx);
    const outcomes = await instance.run([
      initStep(ctx),
      ...stepsFrom(
        1n,
        Array.from({ length: 12 }, () => message({ Any: "thing" })),
      ),
    ]);
    expect(outcomes[0]).toEqual({ output: { tags: {}, data: new Uint8Array() } });
    expect(tagsOf(outcomes[1])).toEqual({ Count: "1" });
    expect(tagsOf(outcomes[12])).toEqual({ Count: "12" });

    const restored = await device.instantiate(ctx);
    await restored.importState(await instance.exportState());
    expect(tagsOf((await restored.run(stepsFrom(13n, [message({})])))[0])).toEqual({ Count: "13" });
    await Promise.all([instance.close(), restored.close()]);
  });
});

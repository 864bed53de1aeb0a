/**
 * A result's tags come out in one order whichever way it is served: live (as its device
 * wrote them, put in canonical order by the runtime) or read back from the store (decoded in
 * canonical order). So a result encodes to the same protobuf bytes on every path.
 */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/log.js";
import { inCanonicalOrder, message, messageId } from "../../../src/core/message.js";
import type { Device, DeviceInstance, StepOutcome } from "../../../src/device/device.js";
import { ProcessRuntime } from "../../../src/process/runtime.js";
import { encodeResultResponse } from "../../../src/service/result-bytes.js";
import { createMemoryStore } from "../../../src/store/memory-store.js";

/** Outputs whose tags a device wrote in no particular order: names that sort differently as
 * strings, as UTF-8 and as JavaScript's integer-like keys. */
const OUTPUT_TAGS: [string, string][] = [
  ["zeta", "1"],
  ["Alpha", "2"],
  ["10", "ten"],
  ["9", "nine"],
  ["é", "e-acute"],
  ["__proto__", "kept"],
];

function unorderedDevice(): Device {
  const instance: DeviceInstance = {
    run: async (steps) =>
      steps.map((): StepOutcome => {
        const tags: Record<string, string> = {};
        for (const [name, value] of OUTPUT_TAGS)
          Object.defineProperty(tags, name, { value, enumerable: true, writable: true, configurable: true });
        return { output: { tags, data: new Uint8Array([1, 2, 3]) } };
      }),
    dryRun: async () => ({ output: message() }),
    exportState: async () => new Uint8Array(),
    importState: async () => undefined,
    stateBytes: () => 0,
    close: async () => undefined,
  };
  return {
    name: "unordered@1.0",
    needsModule: false,
    validate: async () => undefined,
    instantiate: async () => instance,
    close: async () => undefined,
  };
}

describe("result tag order", () => {
  it("a live result encodes to the same bytes as the same result read back from the store", async () => {
    const store = createMemoryStore();
    const spawn = message({ "Execution-Device": "unordered@1.0" });
    const processId = messageId(spawn);
    await store.createProcess(processId, spawn, 0);
    await store.appendSchedule(processId, [message({ A: "1" }), message({ A: "2" })], 0);
    const deps = { store, snapshotInterval: 1n << 40n, snapshotKeep: 1, logger: silentLogger() };
    const runtime = await ProcessRuntime.restore(deps, { processId, spawn, device: unorderedDevice() });
    const live = await runtime.computeBatch(2n, 10);
    await runtime.close();
    const stored = await store.readResults(processId, 0n, 2n, 10);
    expect(live).toHaveLength(3);
    expect(Object.keys(live[1]!.output!.tags)).toEqual(Object.keys(stored[1]!.output!.tags));
    expect(live[1]!.output!.tags["__proto__"]).toBe("kept");
    for (const [i, result] of live.entries()) {
      expect(encodeResultResponse(result).equals(encodeResultResponse(stored[i]!))).toBe(true);
    }
  });

  it("leaves a message alone when its tags are already in order or there are fewer than two", () => {
    const one = message({ Total: "5" });
    expect(inCanonicalOrder(one)).toBe(one);
    const ordered = message({ A: "1", B: "2" });
    expect(inCanonicalOrder(ordered)).toBe(ordered);
    const reordered = inCanonicalOrder(message({ B: "2", A: "1" }));
    expect(Object.keys(reordered.tags)).toEqual(["A", "B"]);
  });
});

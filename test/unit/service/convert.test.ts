import { describe, expect, it } from "vitest";
import type { SlotResult } from "../../../src/core/result.js";
import { encodedResultResponse, fromWireMessage, toWireResult } from "../../../src/service/convert.js";
import { ComputeResponse, SubscribeResponse } from "../../../src/generated/procworker/v1/process_worker_service.js";

const result: SlotResult = {
  processId: "p",
  slot: 2n ** 64n - 1n,
  messageId: "m",
  output: { tags: { Total: "3" }, data: new Uint8Array([1, 2]) },
};

describe("wire conversions", () => {
  it("encodes a result once and shares the bytes between streams", () => {
    const a = encodedResultResponse(result);
    expect(encodedResultResponse(result)).toBe(a);
    expect(SubscribeResponse.decode(a).result?.slot).toBe(2n ** 64n - 1n);
    expect(ComputeResponse.decode(a)).toEqual(SubscribeResponse.decode(a));
  });

  it("keeps a tag named __proto__ as a tag", () => {
    const tags = new Map([
      ["__proto__", "x"],
      ["a", "b"],
    ]);
    const m = fromWireMessage({ tags, data: Buffer.alloc(0) });
    expect(Object.keys(m.tags).sort()).toEqual(["__proto__", "a"]);
    expect(Object.getPrototypeOf(m.tags)).toBe(Object.prototype);
  });

  it("sets exactly one of output and error", () => {
    expect(toWireResult(result).error).toBeUndefined();
    const failed = toWireResult({
      processId: "p",
      slot: 1n,
      messageId: "m",
      error: { phase: "compute", attemptedSlot: 1n, message: "x" },
    });
    expect(failed.output).toBeUndefined();
    expect(failed.error).toEqual({ phase: "compute", attemptedSlot: 1n, message: "x" });
  });
});

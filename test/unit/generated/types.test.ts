import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { Message, SlotResult } from "../../../src/generated/procworker/v1/types.js";

describe("generated procworker.v1 types", () => {
  it("keeps every tag name on decode, `__proto__` included (tags are a Map)", () => {
    const writer = new BinaryWriter();
    for (const [key, value] of [
      ["__proto__", "x"],
      ["constructor", "y"],
      ["a", "b"],
    ] as const) {
      writer.uint32(10).fork().uint32(10).string(key).uint32(18).string(value).join();
    }
    const decoded = Message.decode(writer.finish());
    expect([...decoded.tags.entries()]).toEqual([
      ["__proto__", "x"],
      ["constructor", "y"],
      ["a", "b"],
    ]);
    expect(Message.decode(Message.encode(decoded).finish()).tags).toEqual(decoded.tags);
  });

  it("carries slots past 2^53 exactly as bigint", () => {
    const slot = 2n ** 64n - 1n;
    const encoded = SlotResult.encode({
      processId: "p",
      slot,
      messageId: "m",
      output: undefined,
      error: undefined,
    }).finish();
    expect(SlotResult.decode(encoded).slot).toBe(slot);
  });
});

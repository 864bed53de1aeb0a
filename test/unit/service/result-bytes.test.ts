import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { slotResults } from "../../support/arbitraries.js";
import type { SlotResult } from "../../../src/core/result.js";
import { toWireResult } from "../../../src/service/convert.js";
import { encodeResultResponse, encodeStoredResultResponse } from "../../../src/service/result-bytes.js";
import { decodeResult, encodeResult } from "../../../src/store/codec.js";
import { AwaitResponse, SubscribeResponse } from "../../../src/generated/procworker/v1/process_worker_service.js";

// Any code point, lone surrogates included (they encode as U+FFFD, as ts-proto's writer does).
const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ unit: fc.integer({ min: 0xd7f0, max: 0xe010 }).map((c) => String.fromCharCode(c)), maxLength: 6 }),
  fc.constantFrom("", "__proto__", "x".repeat(200), "Ünïcödé-名前-🚀".repeat(9)),
);
const slot = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.constantFrom(0n, 1n, 127n, 128n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n),
);
const message = fc.record({
  tags: fc.dictionary(text, text, { noNullPrototype: true, maxKeys: 5 }),
  data: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constant(new Uint8Array())),
});
const result: fc.Arbitrary<SlotResult> = slotResults(text, slot, message);

describe("result response bytes", () => {
  it("are the same from a stored result's bytes as from the result decoded, byte for byte", () => {
    // Tag names JavaScript orders first (array indexes) included: the decoded object's key
    // order is not the stored order then.
    const tagName = fc.oneof(text, fc.constantFrom("0", "1", "10", "4294967294", "4294967295", "01", "-1"));
    const storedMessage = fc.record({
      tags: fc.dictionary(tagName, text, { noNullPrototype: true, maxKeys: 5 }),
      data: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constant(new Uint8Array())),
    });
    fc.assert(
      fc.property(slotResults(text, slot, storedMessage), (r) => {
        const stored = encodeResult(r);
        const expected = encodeResultResponse(decodeResult(stored));
        expect(encodeStoredResultResponse(stored).toString("hex")).toBe(expected.toString("hex"));
      }),
      { numRuns: 2000 },
    );
  });

  it("are ts-proto's bytes of { result: toWireResult(result) }, byte for byte", () => {
    fc.assert(
      fc.property(result, (r) => {
        const expected = Buffer.from(SubscribeResponse.encode({ result: toWireResult(r), results: [] }).finish());
        expect(encodeResultResponse(r).equals(expected)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("are ts-proto's bytes for results of one process in a row, another process, and results past 64 KiB", () => {
    const expected = (r: SlotResult): Buffer =>
      Buffer.from(SubscribeResponse.encode({ result: toWireResult(r), results: [] }).finish());
    const of = (processId: string, slot: bigint, data: Uint8Array, tag = "1"): SlotResult => ({
      processId,
      slot,
      messageId: "m".repeat(43),
      output: { tags: { Total: tag }, data },
    });
    const results = [
      of("p".repeat(43), 1n, Uint8Array.of(1)),
      of("p".repeat(43), 2n, Uint8Array.of(2)),
      of("q".repeat(43), 3n, Uint8Array.of(3)),
      of("q".repeat(43), 4n, new Uint8Array(70_000).fill(9), "é".repeat(100_000)),
      of("q".repeat(43), 5n, new Uint8Array(200).fill(5), "x".repeat(300)),
      of("é".repeat(43), 6n, new Uint8Array(0)),
      {
        processId: "",
        slot: 0n,
        messageId: "",
        error: { phase: "schedule", attemptedSlot: 7n, message: "ü".repeat(90) },
      },
    ] satisfies SlotResult[];
    for (const r of results) expect(encodeResultResponse(r).toString("hex")).toBe(expected(r).toString("hex"));
  });

  it("decode as the result, as an AwaitResponse too", () => {
    const r: SlotResult = {
      processId: "p",
      slot: 2n ** 64n - 1n,
      messageId: "m",
      output: { tags: { Total: "3", "": "", a: "" }, data: Uint8Array.of(1, 2) },
    };
    expect(AwaitResponse.decode(encodeResultResponse(r))).toEqual({ result: toWireResult(r) });
  });

  it("refuses a slot outside 0..2^64−1", () => {
    expect(() => encodeResultResponse({ processId: "p", slot: 2n ** 64n, messageId: "m" })).toThrow(RangeError);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { slotResults } from "../../support/arbitraries.js";
import type { SlotResult } from "../../../src/core/result.js";
import { toWireResult } from "../../../src/service/convert.js";
import { encodeResultResponse } from "../../../src/service/result-bytes.js";
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
  it("are ts-proto's bytes of { result: toWireResult(result) }, byte for byte", () => {
    fc.assert(
      fc.property(result, (r) => {
        const expected = Buffer.from(SubscribeResponse.encode({ result: toWireResult(r) }).finish());
        expect(encodeResultResponse(r).equals(expected)).toBe(true);
      }),
      { numRuns: 2000 },
    );
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

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { slotResults } from "../../support/arbitraries.js";
import { canonicalBytes, type Message } from "../../../src/core/message.js";
import type { SlotResult } from "../../../src/core/result.js";
import {
  decodeMessage,
  decodeEncodedResult,
  decodeEncodedScheduleEntry,
  decodeResult,
  decodeScheduleEntry,
  encodeMessage,
  encodeResult,
  encodeScheduleEntry,
} from "../../../src/store/codec.js";
import type { ScheduleEntry } from "../../../src/store/store.js";

const text = fc.string({ unit: "binary", maxLength: 20 }); // any code point, no lone surrogates
const slot = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 2n ** 53n + 7n, 2n ** 64n - 1n));
const messageArb: fc.Arbitrary<Message> = fc.record({
  tags: fc.dictionary(fc.oneof(text, fc.constantFrom("__proto__", "Ünïcödé-名前-🚀", "")), text, {
    noNullPrototype: true,
  }),
  data: fc.uint8Array({ maxLength: 64 }),
});
const entryArb: fc.Arbitrary<ScheduleEntry> = fc.record({
  slot,
  messageId: text,
  timestampMs: fc.double(),
  message: messageArb,
});
const resultArb: fc.Arbitrary<SlotResult> = slotResults(text, slot, messageArb);

/** decode(encode(x)) equals x, and re-encoding gives the very same bytes. */
function roundTrips<T>(value: T, encode: (v: T) => Uint8Array, decode: (b: Uint8Array) => T): void {
  const bytes = encode(value);
  const decoded = decode(bytes);
  expect(decoded).toEqual(value);
  expect(encode(decoded)).toEqual(bytes);
}

describe("store codec", () => {
  it("messages round-trip byte-exactly, unicode and __proto__ tag names included", () => {
    fc.assert(fc.property(messageArb, (m) => roundTrips(m, encodeMessage, decodeMessage)));
  });

  it("schedule entries round-trip exactly, u64 slots and any f64 timestamp included", () => {
    fc.assert(fc.property(entryArb, (e) => roundTrips(e, encodeScheduleEntry, decodeScheduleEntry)));
  });

  it("an entry read encoded has the decoded entry's slot and id, and its message's canonical bytes", () => {
    fc.assert(
      fc.property(entryArb, (e) => {
        const bytes = encodeScheduleEntry(e);
        const encoded = decodeEncodedScheduleEntry(bytes);
        expect(encoded).toEqual({
          slot: e.slot,
          messageId: e.messageId,
          canonical: new Uint8Array(canonicalBytes(e.message)),
        });
        bytes.fill(0);
        expect(encoded.canonical).toEqual(new Uint8Array(canonicalBytes(e.message))); // a copy
      }),
    );
  });

  it("an entry read encoded is checked as a decoded one is: every truncation and trailing byte rejected", () => {
    fc.assert(
      fc.property(entryArb, fc.nat(), (e, cut) => {
        const bytes = encodeScheduleEntry(e);
        expect(() => decodeEncodedScheduleEntry(bytes.subarray(0, cut % bytes.length))).toThrow();
        expect(() => decodeEncodedScheduleEntry(Uint8Array.of(...bytes, 0))).toThrow();
      }),
    );
  });

  it("a result read encoded is its slot and a copy of its bytes, checked as a decoded one is", () => {
    fc.assert(
      fc.property(resultArb, fc.nat(), (r, cut) => {
        const bytes = encodeResult(r);
        const encoded = decodeEncodedResult(bytes);
        expect(encoded.slot).toBe(r.slot);
        expect(Buffer.from(encoded.value).equals(Buffer.from(bytes))).toBe(true);
        expect(encoded.value.buffer).not.toBe(bytes.buffer);
        expect(() => decodeEncodedResult(bytes.subarray(0, cut % bytes.length))).toThrow();
        expect(() => decodeEncodedResult(Uint8Array.of(...bytes, 0))).toThrow();
      }),
    );
  });

  it("results round-trip exactly with output or error, and absent parts stay absent", () => {
    fc.assert(
      fc.property(resultArb, (r) => {
        roundTrips(r, encodeResult, decodeResult);
        expect(Object.keys(decodeResult(encodeResult(r))).sort()).toEqual(Object.keys(r).sort());
      }),
    );
  });

  it("long ids decode right in any order, however often they repeat (the decoder reuses recent strings)", () => {
    // Ids past 16 bytes go through the decoder's recent strings: equal lengths that differ
    // in one character, non-ASCII ones (é is 2 bytes, one UTF-16 unit), and their mixes.
    const ids = ["a".repeat(43), `${"a".repeat(42)}b`, "é".repeat(20), `${"é".repeat(19)}ab`, "ab".repeat(20) + "é"];
    const id = fc.constantFrom(...ids);
    fc.assert(
      fc.property(fc.array(fc.tuple(id, id), { minLength: 1, maxLength: 40 }), (pairs) => {
        for (const [processId, messageId] of pairs) {
          const r: SlotResult = { processId, slot: 1n, messageId };
          expect(decodeResult(encodeResult(r))).toEqual(r);
        }
      }),
    );
  });

  it("a tag named __proto__ decodes as an own tag, not a prototype", () => {
    const m: Message = { tags: Object.fromEntries([["__proto__", "x"]]), data: new Uint8Array() };
    const decoded = decodeMessage(encodeMessage(m));
    expect(Object.getPrototypeOf(decoded.tags)).toBe(Object.prototype);
    expect(Object.keys(decoded.tags)).toEqual(["__proto__"]);
  });

  it("decoded data is a copy that does not alias the encoded bytes", () => {
    const bytes = encodeMessage({ tags: {}, data: Uint8Array.of(1, 2, 3) });
    const decoded = decodeMessage(bytes);
    bytes[bytes.length - 1] = 99;
    expect(decoded.data).toEqual(Uint8Array.of(1, 2, 3));
  });

  it("rejects every truncation and any trailing byte", () => {
    fc.assert(
      fc.property(resultArb, fc.nat(), (r, cut) => {
        const bytes = encodeResult(r);
        expect(() => decodeResult(bytes.subarray(0, cut % bytes.length))).toThrow();
        expect(() => decodeResult(Uint8Array.of(...bytes, 0))).toThrow();
      }),
    );
  });

  it("rejects an unknown format byte", () => {
    const bytes = encodeMessage({ tags: {}, data: new Uint8Array() });
    bytes[0] = 2;
    expect(() => decodeMessage(bytes)).toThrow(/format/);
  });
});

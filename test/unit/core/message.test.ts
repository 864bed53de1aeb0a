import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalBytes, message, messageId, sha256Id, sortedTagNames } from "../../../src/core/message.js";

describe("message ids (docs/design.md §1.1)", () => {
  it("matches the documented test vector", () => {
    const m = message({ "Execution-Device": "counter@1.0", Initial: "5" }, "hi");
    expect(canonicalBytes(m).toString("hex")).toBe(
      "00000002" +
        "00000010" +
        Buffer.from("Execution-Device").toString("hex") +
        "0000000b" +
        Buffer.from("counter@1.0").toString("hex") +
        "00000007" +
        Buffer.from("Initial").toString("hex") +
        "00000001" +
        Buffer.from("5").toString("hex") +
        "0000000000000002" +
        Buffer.from("hi").toString("hex"),
    );
    expect(messageId(m)).toBe("LbjUkGUm43wwERnB2NDGVabkwVNwkRyyp7ayB0TIDQk");
  });

  it("orders tags by their UTF-8 bytes, not by UTF-16 code units", () => {
    // U+FF21 (3 UTF-8 bytes, EF BC A1) sorts before U+1F600 (F0 9F 98 80) in UTF-8, after it in UTF-16.
    expect(sortedTagNames({ "\u{1F600}": "a", "\uFF21": "b", a: "c" })).toEqual(["a", "\uFF21", "\u{1F600}"]);
  });

  it("does not depend on the order tags were inserted in", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.string()), fc.uint8Array(), (tags, data) => {
        const reversed = Object.fromEntries(Object.entries(tags).reverse());
        expect(messageId({ tags: reversed, data })).toBe(messageId({ tags, data }));
      }),
    );
  });

  it("separates tags from data unambiguously", () => {
    expect(messageId(message({ a: "b" }))).not.toBe(messageId(message({ a: "" }, "b")));
    expect(messageId(message({ ab: "" }))).not.toBe(messageId(message({ a: "b" })));
  });

  it("hashes module bytes to base64url without padding", () => {
    expect(sha256Id(new Uint8Array())).toBe("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
  });
});

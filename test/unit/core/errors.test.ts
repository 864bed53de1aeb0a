import { describe, expect, it } from "vitest";
import { EXCERPT_CHARS, excerpt } from "../../../src/core/errors.js";

describe("excerpt", () => {
  it("quotes a short value whole", () => {
    expect(excerpt("abc")).toBe('"abc"');
    expect(excerpt("a".repeat(EXCERPT_CHARS))).toBe(JSON.stringify("a".repeat(EXCERPT_CHARS)));
  });

  it("cuts a long value and says how long it was", () => {
    expect(excerpt("b".repeat(100_000))).toBe(`"${"b".repeat(EXCERPT_CHARS)}"… (100000 characters)`);
    expect(excerpt("abcdef", 4)).toBe('"abcd"… (6 characters)');
  });

  it("never ends on half a surrogate pair", () => {
    const value = "a".repeat(EXCERPT_CHARS - 1) + "😀".repeat(10);
    expect(excerpt(value)).toBe(`"${"a".repeat(EXCERPT_CHARS - 1)}"… (${value.length} characters)`);
  });
});

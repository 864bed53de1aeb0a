import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KeyKind, MAX_SLOT, prefixKey, slotKey, slotKeyAfter, slotOfKey } from "../../../src/store/keys.js";

const slot = fc.oneof(
  fc.bigInt({ min: 0n, max: MAX_SLOT }),
  fc.constantFrom(0n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, MAX_SLOT - 1n, MAX_SLOT),
);
const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
const sign = (n: number) => Math.sign(n);

describe("store keys", () => {
  it("slot keys sort bytewise exactly as their slots sort numerically", () => {
    fc.assert(
      fc.property(slot, slot, (a, b) => {
        const ka = slotKey(KeyKind.result, "p", a);
        const kb = slotKey(KeyKind.result, "p", b);
        expect(sign(Buffer.compare(ka, kb))).toBe(cmp(a, b));
        expect(slotOfKey(ka)).toBe(a);
      }),
    );
  });

  it("slotKeyAfter lies strictly between a slot's key and the next slot's key", () => {
    fc.assert(
      fc.property(slot, (s) => {
        const after = slotKeyAfter(KeyKind.schedule, "p", s);
        expect(Buffer.compare(slotKey(KeyKind.schedule, "p", s), after)).toBe(-1);
        if (s < MAX_SLOT) expect(Buffer.compare(after, slotKey(KeyKind.schedule, "p", s + 1n))).toBe(-1);
      }),
    );
  });

  it("one process's slot keys never fall inside another's prefix range", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.string({ minLength: 1, maxLength: 40 }),
        slot,
        (a, b, s) => {
          fc.pre(a !== b);
          const key = slotKey(KeyKind.snapshot, a, s);
          const other = prefixKey(KeyKind.snapshot, b);
          expect(key.subarray(0, other.length).equals(other)).toBe(false);
        },
      ),
    );
  });

  it("rejects slots outside u64 and ids that do not fit the length byte", () => {
    expect(() => slotKey(KeyKind.result, "p", -1n)).toThrow(expect.objectContaining({ code: "invalid_argument" }));
    expect(() => slotKey(KeyKind.result, "p", MAX_SLOT + 1n)).toThrow(
      expect.objectContaining({ code: "invalid_argument" }),
    );
    expect(() => prefixKey(KeyKind.process, "")).toThrow(expect.objectContaining({ code: "invalid_argument" }));
    expect(() => prefixKey(KeyKind.process, "x".repeat(256))).toThrow(
      expect.objectContaining({ code: "invalid_argument" }),
    );
    expect(prefixKey(KeyKind.process, "x".repeat(255))).toHaveLength(257);
  });
});

import { describe, expect, it } from "vitest";
import { Lru } from "../../../src/core/lru.js";

describe("Lru", () => {
  it("evicts the least recently used beyond its weight, keeping what was read lately", () => {
    const lru = new Lru<string, number>(3);
    lru.set("a", 1);
    lru.set("b", 2);
    lru.set("c", 3);
    expect(lru.get("a")).toBe(1); // a is now the most recent
    lru.set("d", 4);
    expect(lru.get("b")).toBeUndefined();
    expect([lru.get("a"), lru.get("c"), lru.get("d")]).toEqual([1, 3, 4]);
  });

  it("weighs entries and always keeps the newest", () => {
    const lru = new Lru<string, string>(10);
    lru.set("small", "s", 4);
    lru.set("big", "b", 20);
    expect(lru.get("small")).toBeUndefined();
    expect(lru.get("big")).toBe("b");
    expect(lru.size).toBe(1);
    lru.delete("big");
    expect(lru.size).toBe(0);
  });
});

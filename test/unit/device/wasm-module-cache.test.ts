import { describe, expect, it } from "vitest";
import { compiledWeight, ModuleCache, type PreparedModule } from "../../../src/device/wasm/module-cache.js";

/** A prepared module as the cache sees it (it never looks inside `module`). */
const prepared = (id: string, sourceBytes: number): PreparedModule =>
  ({ id, sourceBytes, module: {}, layout: {} }) as unknown as PreparedModule;

describe("the compiled module cache", () => {
  it("weighs a module by its compiled form, not its bytes: tiny modules cannot pile up unbounded", async () => {
    const cache = new ModuleCache(3 * compiledWeight(100));
    for (const id of ["a", "b", "c", "d"]) await cache.get(id, () => Promise.resolve(prepared(id, 100)));
    expect(cache.size).toBe(3); // by bytes alone (100 each) all four, and ~1,000 more, would fit
    let prepares = 0;
    await cache.get("a", () => {
      prepares++;
      return Promise.resolve(prepared("a", 100));
    });
    expect(prepares).toBe(1); // the least recently used went first
  });

  it("prepares a module once for concurrent callers", async () => {
    const cache = new ModuleCache(1024 * 1024);
    let prepares = 0;
    const prepare = () => {
      prepares++;
      return Promise.resolve(prepared("x", 10));
    };
    const [one, two] = await Promise.all([cache.get("x", prepare), cache.get("x", prepare)]);
    expect(one).toBe(two);
    expect(prepares).toBe(1);
  });
});

/**
 * The definition cache's byte bound comes from the options (definition_cache_bytes): a
 * definition that fits is read from the store once; with a bound smaller than any entry,
 * nothing is kept and every use reads the store again.
 */
import { describe, expect, it } from "vitest";
import { createMemoryStore } from "../../../src/store/memory-store.js";
import type { Store } from "../../../src/store/store.js";
import { testEngine } from "../../support/engine.js";

function countingReads(): { store: Store; reads: () => number } {
  const inner = createMemoryStore();
  let reads = 0;
  return {
    store: { ...inner, getProcess: (id) => (reads++, inner.getProcess(id)) },
    reads: () => reads,
  };
}

describe("definition_cache_bytes", () => {
  for (const [bytes, expected] of [
    [undefined, 1],
    [1, 3],
  ] as const) {
    it(`with ${bytes ?? "the default"} bytes, three uses read the store ${expected} time(s)`, async () => {
      const { store, reads } = countingReads();
      const t = testEngine(bytes === undefined ? {} : { definitionCacheBytes: bytes }, { store });
      const id = await t.spawnCounter();
      const before = reads();
      for (let i = 0; i < 3; i++) await t.engine.group(id, "compute");
      expect(reads() - before).toBe(expected);
      await t.engine.close();
    });
  }
});
